"""Error pages (403/404/405/409/500, CSRF failures) in the user's language, never a stack trace.

Paths under ``/api/`` get the API's JSON error shape instead of a page.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

API_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
             405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "validation_failed",
             429: "rate_limited", 500: "internal_error"}


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _api_error(code: int, message: str) -> ResponseReturnValue:
    body: dict[str, Any] = {"error": {"code": API_CODES.get(code, "error"), "message": message, "fields": {}}}
    return jsonify(body), code


def _page(code: int, **extra: Any) -> ResponseReturnValue:
    g.error_page = True  # the header (``common.chrome``) reads what it can and sends no pending write
    try:
        from web.db import discard_failed_request

        discard_failed_request()
        return render_template("pages/error.html", code=code, **extra), code
    except Exception:  # noqa: BLE001 -- the last resort must not fail
        return f"Error {code}", code, {"Content-Type": "text/plain; charset=utf-8"}


def handle_http(exc: HTTPException) -> ResponseReturnValue:
    code = exc.code or 500
    if _is_api():
        return _api_error(code, exc.description or exc.name)
    return _page(code)


def data_error_page() -> ResponseReturnValue:
    """A value the database refused (too long or too large): nothing was saved."""
    return _page(400, data_error=True)


def handle_csrf(exc: CSRFError) -> ResponseReturnValue:
    if _is_api():
        return _api_error(400, exc.description)
    return _page(400, csrf=True)


def handle_500(exc: Exception) -> ResponseReturnValue:
    if _is_api():
        return _api_error(500, "internal error")
    return _page(500)


def register_error_handlers(app: Flask) -> None:
    for code in (400, 403, 404, 405, 409, 413, 429):
        app.register_error_handler(code, handle_http)
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(InternalServerError, handle_500)
