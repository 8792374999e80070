"""Request hygiene shared by pages and API: bounded integer ids in URLs, no NUL characters, a body
size limit, and database refusals of bad values answered as 400 instead of 500."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, request, session
from sqlalchemy.exc import DataError
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # the id columns are 32-bit integers on PostgreSQL


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` that does not match ids no row can have (they 404 instead of overflowing)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def init_hardening(app: Flask) -> None:
    """Call before any route is registered (converters apply when rules are added)."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.config.setdefault("MAX_CONTENT_LENGTH", 16 * 1024 * 1024)

    @app.before_request
    def _refuse_nul() -> Any:
        values = [*request.args.values(), *request.args.keys()]
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            values += [*request.form.values(), *request.form.keys()]
        raw = request.get_data(cache=True) if request.is_json else b""
        if any("\x00" in v for v in values) or b"\\u0000" in raw or b"\x00" in raw:
            return _bad_request("the request contains a NUL character")
        return None

    @app.errorhandler(DataError)
    def _data_error(_exc: DataError) -> Any:
        return data_error_response()


DATA_ERROR_MESSAGE = "a value is outside what the database can store (too long or too large)"


def data_error_response() -> Response:
    """The 400 answer to a value the database refused, wherever it was refused (in the view, or at
    commit when a queued write is sent: ``web.db``)."""
    if request.path.startswith("/api/"):
        return _bad_request(DATA_ERROR_MESSAGE)  # type: ignore[no-any-return]
    from web.pages.errors import data_error_page

    session.pop("_flashes", None)  # what the view announced did not happen
    return current_app.make_response(data_error_page())


def _bad_request(message: str) -> Any:
    if request.path.startswith("/api/"):
        resp = jsonify(error={"code": "bad_request", "message": message, "fields": {}})
        resp.status_code = 400
        return resp
    raise BadRequest(message)
