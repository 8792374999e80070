"""Audit events as timeline entries in the request's language."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from cases.audit import AuditAction, AuditEvent
from web.pages.common import LEVEL_LABELS, OUTCOME_LABELS, pick, role_label


def _labels() -> dict[str, str]:
    return {
        AuditAction.CASE_OPENED: _("Case registered"),
        AuditAction.CASE_UPDATED: _("Case updated"),
        AuditAction.CASE_TRANSFERRED: _("Transferred upward"),
        AuditAction.CASE_CLOSED: _("Case closed"),
        AuditAction.TASK_COMPLETED: _("Step completed"),
        AuditAction.TASK_CLAIMED: _("Step claimed"),
        AuditAction.TASK_RELEASED: _("Step released"),
        AuditAction.TASK_ASSIGNED: _("Step assigned"),
        AuditAction.DATA_CHANGED: _("Data changed"),
        AuditAction.GRANT_ADDED: _("Person invited"),
        AuditAction.DOCUMENT_GENERATED: _("Document generated"),
        AuditAction.CASE_EXPORTED: _("Case file exported"),
        AuditAction.SIGNAL_SENT: _("Procedure event"),
        AuditAction.TIMER_FIRED: _("Deadline reached"),
        AuditAction.ERROR: _("Procedure error"),
        AuditAction.RETRIED: _("Procedure retried"),
        AuditAction.VERSION_MIGRATED: _("Procedure version changed"),
    }


def describe_event(event: AuditEvent, display_names: dict[int, str] | None = None) -> dict[str, Any]:
    """One timeline entry; ``display_names`` (account id → display name) names the actor as people
    know them, the user name kept beside it (what the audit chain records)."""
    payload = event.payload or {}
    detail = ""
    if event.action in (AuditAction.TASK_COMPLETED, AuditAction.TASK_CLAIMED, AuditAction.TASK_RELEASED):
        detail = str(payload.get("name") or "")
    elif event.action == AuditAction.CASE_OPENED:
        detail = f"{payload.get('number', '')} {payload.get('title', '')}".strip()
    elif event.action == AuditAction.CASE_TRANSFERRED:
        after = payload.get("after") or {}
        detail = pick(LEVEL_LABELS, after.get("level"))
    elif event.action == AuditAction.CASE_CLOSED:
        detail = pick(OUTCOME_LABELS, payload.get("outcome")) if payload.get("outcome") else ""
    elif event.action == AuditAction.DATA_CHANGED:
        detail = str(payload.get("field") or payload.get("element") or "")
    elif event.action in (AuditAction.ERROR, AuditAction.TIMER_FIRED):
        detail = str(payload.get("message") or payload.get("name") or payload.get("element") or "")
    elif event.action == AuditAction.DOCUMENT_GENERATED:
        detail = str(payload.get("kind") or "")
    elif event.action == AuditAction.CASE_EXPORTED:
        detail = _("%(n)d document(s)", n=len(payload.get("documents") or {}))
    elif event.action == AuditAction.SIGNAL_SENT:
        detail = str(payload.get("reason") or payload.get("signal") or "")
    shown = (display_names or {}).get(event.actor_user_id) if event.actor_user_id is not None else None
    return {"at": event.at, "actor": event.actor_username,
            "actor_name": shown if shown != event.actor_username else None, "role": role_label(event.actor_role),
            "label": _labels().get(event.action, event.action), "detail": detail, "action": event.action,
            "seq": event.seq}
