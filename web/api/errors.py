"""The API's error envelope and the mapping of service errors onto HTTP statuses."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from cases.services import DomainError
from workflows.deploy import DeployError
from workflows.errors import Conflict, Forbidden, NotFound, ValidationFailed, WorkflowServiceError


def error_response(status: int, code: str, message: str, fields: dict[str, Any] | None = None,
                   **extra: Any) -> Any:
    body: dict[str, Any] = {"code": code, "message": message, "fields": fields or {}}
    body.update({k: v for k, v in extra.items() if v is not None})
    resp = jsonify(error=body)
    resp.status_code = status
    return resp


def service_error_response(exc: Exception) -> Any:
    if isinstance(exc, ValidationFailed):
        return error_response(422, exc.code, exc.message, exc.fields)
    if isinstance(exc, Conflict):
        return error_response(409, exc.code, exc.message, None, completed_by=exc.by,
                              completed_at=exc.at.isoformat() if exc.at else None, case_id=exc.case_id)
    if isinstance(exc, Forbidden):
        return error_response(403, exc.code, exc.message)
    if isinstance(exc, NotFound):
        return error_response(404, exc.code, exc.message)
    if isinstance(exc, DomainError):
        return error_response(422, "validation_failed", exc.message,
                              {exc.field or "_schema": [exc.message]})
    if isinstance(exc, DeployError):
        return error_response(422, "not_deployable", "; ".join(exc.lines), {"files": exc.lines})
    if isinstance(exc, WorkflowServiceError):
        return error_response(409, exc.code, exc.message)
    return error_response(500, "internal_error", "internal error")
