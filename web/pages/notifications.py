"""In-app notifications, derived from tasks, timers and audit events (no table of their own yet).

Kinds: a step assigned to me or my unit, a deadline within 3 days (or passed), a case transferred
upward. "Read" is a per-user moment stored on the user: everything older counts as read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from cases.audit import AuditAction, AuditEvent
from cases.models import Case, User
from cases.permissions import Action, can
from web.db import db
from web.i18n import as_datetime
from web.pages.common import bp, me, safe_next
from web.pages.queries import DUE_SOON, inbox_tasks, scoped_cases

RECENT = timedelta(days=30)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def read_at(user: User) -> datetime:
    return as_datetime(user.notifications_read_at) or EPOCH


def notifications(user: User) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    items: list[dict[str, Any]] = []
    mine, unit = inbox_tasks(user)
    for task in mine + unit:
        url = url_for("pages.task_page", task_id=task.id)
        created = as_datetime(task.created_at) or now
        items.append({"kind": "assigned", "at": created, "url": url, "case": task.case.number,
                      "text": _("New step “%(name)s” for you or your unit.", name=task.name)})
        due = as_datetime(task.due_at)
        if due is not None and due - now <= DUE_SOON:
            text = (_("Deadline passed for “%(name)s”.", name=task.name) if due < now
                    else _("Deadline within 3 days for “%(name)s”.", name=task.name))
            items.append({"kind": "deadline", "at": max(created, due - DUE_SOON), "url": url,
                          "case": task.case.number, "text": text, "due": due})
    since = (now - RECENT).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    visible = scoped_cases(user).with_only_columns(Case.id)
    events = db().scalars(select(AuditEvent).where(
        AuditEvent.action == AuditAction.CASE_TRANSFERRED, AuditEvent.at >= since,
        AuditEvent.case_id.in_(visible)).order_by(AuditEvent.at.desc()).limit(50))
    for event in events:
        case = db().get(Case, event.case_id)
        if case is None or not can(user, Action.CASE_VIEW, case):
            continue
        items.append({"kind": "transferred", "at": as_datetime(event.at) or now, "case": case.number,
                      "url": url_for("pages.case_page", case_id=case.id),
                      "text": _("Case %(number)s was transferred upward.", number=case.number)})
    seen = read_at(user)
    for item in items:
        item["unread"] = item["at"] > seen
    return sorted(items, key=lambda i: i["at"], reverse=True)


def unread_count(user: User) -> int:
    return sum(1 for item in notifications(user) if item["unread"])


@bp.get("/notifications")
@login_required
def notification_list() -> ResponseReturnValue:
    return render_template("pages/notifications.html", items=notifications(me()))


@bp.post("/notifications/read")
@login_required
def notifications_read() -> ResponseReturnValue:
    me().notifications_read_at = datetime.now(UTC)
    return redirect(safe_next(request.form.get("next"), url_for("pages.notification_list")))
