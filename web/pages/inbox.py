"""The inbox: my claimed tasks and my unit's unclaimed tasks, most urgent first."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_login import login_required

from cases.permissions import Action, can
from web.pages.common import bp, me
from web.pages.queries import inbox_tasks, task_clock, timers_by_case, urgency


@bp.get("/inbox")
@login_required
def inbox() -> ResponseReturnValue:
    user = me()
    mine, unit = inbox_tasks(user)
    timers = timers_by_case(sorted({t.case_id for t in mine + unit}))
    rows = {
        "mine": [(t, urgency(t), task_clock(t, timers)) for t in mine],
        "unit": [(t, urgency(t), task_clock(t, timers)) for t in unit],
    }
    return render_template("pages/inbox.html", rows=rows, can_create=can(user, Action.CASE_CREATE))
