"""Errors the workflow services raise; entry points map them to HTTP statuses or exit codes."""

from __future__ import annotations

from datetime import datetime


class WorkflowServiceError(Exception):
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(WorkflowServiceError):
    code = "not_found"


class Forbidden(WorkflowServiceError):
    code = "forbidden"


class Conflict(WorkflowServiceError):
    """Someone else already completed (or claimed) the task."""

    code = "conflict"

    def __init__(self, message: str, by: str | None = None, at: datetime | None = None,
                 case_id: int | None = None) -> None:
        super().__init__(message)
        self.by = by
        self.at = at
        self.case_id = case_id


class ValidationFailed(WorkflowServiceError):
    """Submitted data does not match the task's form; ``fields`` maps field → messages."""

    code = "validation_failed"

    def __init__(self, message: str, fields: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.fields = fields


class CaseInError(WorkflowServiceError):
    code = "case_error"
