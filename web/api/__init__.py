"""JSON API under ``/api/v1`` with an OpenAPI document generated from the marshmallow schemas.

Every error is ``{"error": {"code", "message", "fields"}}`` with the right status, never a 500 for
bad input.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from web.api.errors import error_response
from workflows.errors import WorkflowServiceError

OPENAPI_SETTINGS = {
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
}


class FengqiaoApi(Api):
    """flask-smorest's Api with Fengqiao's error envelope."""

    def handle_http_exception(self, error: HTTPException) -> Any:  # type: ignore[override]
        fields = None
        data = getattr(error, "data", None) or {}
        messages = data.get("messages") if isinstance(data, dict) else None
        if messages:
            # webargs: {"json": {"field": ["msg"]}} → {"field": ["msg"]}
            fields = {}
            for location_errors in messages.values():
                fields.update(location_errors if isinstance(location_errors, dict) else {"_": location_errors})
        message = (data.get("message") if isinstance(data, dict) else None) or error.description
        return error_response(error.code or 500, _code_for(error.code or 500), message, fields)


def _code_for(status: int) -> str:
    return {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
            405: "method_not_allowed", 409: "conflict", 415: "unsupported_media_type",
            422: "validation_failed", 429: "too_many_requests"}.get(status, "error")


def init_api(app: Flask) -> None:
    from web import csrf
    from web.api.cases import blp as cases_blp
    from web.api.documents import blp as documents_blp
    from web.api.migration import blp as migration_blp
    from web.api.tasks import auth_blp, tasks_blp

    for key, value in OPENAPI_SETTINGS.items():
        app.config.setdefault(key, value)
    api = FengqiaoApi(app, spec_kwargs={"info": {"description": "Fengqiao dispute mediation API"}, "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}})
    for blp in (auth_blp, tasks_blp, cases_blp, documents_blp, migration_blp):
        csrf.exempt(blp)
        api.register_blueprint(blp, url_prefix="/api/v1")

    @app.errorhandler(WorkflowServiceError)
    def _service_error(exc: WorkflowServiceError) -> Any:
        from web.api.errors import service_error_response

        if request.path.startswith("/api/"):
            return service_error_response(exc)
        raise exc

    @app.get("/api/v1/")
    def api_index() -> Any:
        return jsonify(openapi="/api/v1/openapi.json")
