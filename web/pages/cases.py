"""Case list and search, the case page (summary, diagram, deadlines, documents, timeline), intake."""

from __future__ import annotations

import re
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import func, select

from cases.audit import Actor, AuditEvent, chain_for
from cases.models import CATEGORIES, RISK_COLOURS, Case, CaseStatus, Level, User
from cases.permissions import Action, can
from cases.services import DomainError, open_case
from cases.write_behind import send_pending
from web.db import db
from web.i18n import current_lang
from web.pages.common import (
    LEVEL_LABELS,
    RISK_LABELS,
    STAGE_LABELS,
    STATUS_LABELS,
    bp,
    load_case,
    me,
    pick,
)
from web.pages.intake import IntakeForm, creatable_units
from web.pages.queries import Filters, filtered_cases, stages, visible_units
from web.pages.timeline import describe_event
from workflows.errors import WorkflowServiceError
from workflows.models import WorkflowInstance, WorkflowTimer
from workflows.projection import ready_tasks
from workflows.services import read_instance, start_case

PAGE_SIZE = 20


@bp.get("/cases")
@login_required
def case_list() -> ResponseReturnValue:
    user = me()
    f = Filters.from_args(request.args)
    query = filtered_cases(user, f)
    total = db().scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    page = min(f.page, pages)
    found = [c for c in db().scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).unique()
             if can(user, Action.CASE_VIEW, c)]
    return render_template("pages/case_list.html", cases=found, f=f, total=total, page=page, pages=pages,
                           can_create=can(user, Action.CASE_CREATE), **_filter_options(user))


def _filter_options(user: Any) -> dict[str, list[tuple[str, str]]]:
    lang = current_lang()
    return {
        "statuses_opts": [(str(s), pick(STATUS_LABELS, str(s))) for s in CaseStatus],
        "stage_opts": [(s, pick(STAGE_LABELS, s)) for s in stages()],
        "category_opts": [(k, v[lang]) for k, v in CATEGORIES.items()],
        "risk_opts": [(r, pick(RISK_LABELS, r)) for r in RISK_COLOURS],
        "level_opts": [(str(lv), pick(LEVEL_LABELS, str(lv))) for lv in Level],
        "unit_opts": [(str(u.id), " " * max(0, u.path.count("/") - 2) + u.name(lang))
                      for u in visible_units(user)],
        "sort_opts": [("-created", _("Newest first")), ("created", _("Oldest first")),
                      ("number", _("Case number")), ("-updated", _("Recently changed"))],
    }


def _diagram_file(wi: WorkflowInstance) -> str | None:
    """The name of the deployed file that holds the case's process."""
    files: dict[str, Any] = wi.process_version.files or {}
    pattern = re.compile(r'<(?:\w+:)?process\b[^>]*\bid="' + re.escape(wi.process_version.process_id) + '"')
    for name, text in sorted(files.items()):
        if isinstance(text, str) and pattern.search(text):
            return name
    return next(iter(sorted(files)), None)


def _path(wi: WorkflowInstance | None) -> tuple[list[str], list[str]]:
    if wi is None:
        return [], []
    send_pending(db())  # a failed write of this request fails it, not taken for an unreadable path
    try:
        return read_instance(db(), wi).path_element_ids()
    except Exception:
        current_app.logger.exception("cannot read the workflow path of case %s", wi.case_id)
        return [], []


@bp.get("/cases/<int:case_id>")
@login_required
def case_page(case_id: int, retry_patch: str | None = None,
              retry_error: str | None = None) -> ResponseReturnValue:
    user = me()
    case = load_case(case_id)
    wi = db().get(WorkflowInstance, case.id)
    open_tasks = ready_tasks(db(), case.id)
    for task in open_tasks:
        task.may_act = can(user, Action.TASK_COMPLETE, case, task_role=task.role,  # type: ignore[attr-defined]
                           task_unit=task.org_unit)
    timers = list(db().scalars(select(WorkflowTimer).where(WorkflowTimer.case_id == case.id)
                               .order_by(WorkflowTimer.due_at)))
    events = list(db().scalars(select(AuditEvent).where(AuditEvent.chain == chain_for(case.id))
                               .order_by(AuditEvent.seq.desc())))
    # The chain records who acted by user name (what is hashed) and account id; people read display
    # names: looked up by the account, so a system or command-line actor (no account) gets none.
    ids = {e.actor_user_id for e in events if e.actor_user_id is not None}
    names = dict(db().execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()) if ids else {}
    done, current = _path(wi)
    documents = sorted({d for t in open_tasks for d in (t.documents or [])})
    people = sorted({t.claimed_by.display_name for t in open_tasks if t.claimed_by}
                    | {f"{g.user.display_name}" for g in case.grants})
    return render_template(
        "pages/case.html", case=case, wi=wi, open_tasks=open_tasks, timers=timers,
        events=[describe_event(e, names) for e in events], done_ids=done, open_ids=current,
        has_diagram=wi is not None and _diagram_file(wi) is not None, documents=documents,
        people=people, can_history=can(user, Action.CASE_HISTORY, case),
        can_retry=can(user, Action.CASE_RETRY, case), retry_patch=retry_patch, retry_error=retry_error)


@bp.post("/cases/<int:case_id>/retry")
@login_required
def case_retry(case_id: int) -> ResponseReturnValue:
    """Re-run the failed step of a case in error, optionally with corrected data (admin/supervisor)."""
    import json

    from workflows.services import retry_case

    user = me()
    case = load_case(case_id)
    if not can(user, Action.CASE_RETRY, case):
        abort(403)
    raw = (request.form.get("patch") or "").strip()
    try:
        patch = json.loads(raw) if raw else {}
        if not isinstance(patch, dict):
            raise ValueError
    except ValueError:
        return case_page(case_id, retry_patch=raw, retry_error=_("Enter a JSON object such as {\"copies\": 2}.")), 422
    error = retry_case(db(), case=case, user=user, data_patch=patch)
    if error:
        flash(_("The step failed again: %(error)s", error=error), "error")
    else:
        flash(_("The failed step ran again and the case continues."), "success")
    return redirect(url_for("pages.case_page", case_id=case.id))


@bp.get("/cases/<int:case_id>/diagram.bpmn")
@login_required
def case_diagram(case_id: int) -> ResponseReturnValue:
    case = load_case(case_id)
    wi = db().get(WorkflowInstance, case.id)
    name = _diagram_file(wi) if wi is not None else None
    if wi is None or name is None:
        abort(404)
    return Response(wi.process_version.files[name], mimetype="application/xml",
                    headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


@bp.route("/cases/new", methods=["GET", "POST"])
@login_required
def case_new() -> ResponseReturnValue:
    user = me()
    if not can(user, Action.CASE_CREATE):
        abort(403)
    units = creatable_units(user)
    form = IntakeForm.from_request(request.form if request.method == "POST" else None, units)
    if request.method == "POST":
        if form.validate():
            unit, role = form.unit_and_role()
            try:
                case = open_case(db(), actor=user, actor_role=role, org_unit=unit, title=form.title,
                                 category=form.category, parties=form.parties(),
                                 description=form.description, language=current_lang())
            except DomainError as err:
                form.errors.setdefault(_field_of(err.field), []).append(err.message)
            else:
                return _after_intake(case, role)
        return _intake_page(form, units), 422
    return _intake_page(form, units)


def _intake_page(form: IntakeForm, units: list[Any]) -> str:
    lang = current_lang()
    return render_template(
        "pages/case_new.html", form=form, units=units,
        category_opts=[(k, v[lang]) for k, v in CATEGORIES.items()],
        unit_opts=[(str(u.id), u.name(lang)) for u, _role in units])


def _field_of(field: str | None) -> str:
    return {"parties.name": "applicant_name"}.get(field or "", field or "_form")


def _after_intake(case: Case, role: str) -> ResponseReturnValue:
    user = me()
    process_id = current_app.config.get("DEFAULT_PROCESS_ID", "dispute")
    try:
        started = start_case(db(), case, Actor(user.id, user.username, role), process_id=process_id)
    except WorkflowServiceError as err:
        current_app.logger.error("case %s opened but its workflow did not start: %s", case.number, err.message)
        flash(_("The case was registered, but its procedure could not be started. An administrator "
                "has to deploy it."), "error")
        return redirect(url_for("pages.case_page", case_id=case.id))
    flash(_("Case %(number)s registered.", number=case.number), "success")
    for task in sorted(started.open_tasks, key=lambda t: t.id):  # as ``ready_tasks`` lists them
        if can(user, Action.TASK_COMPLETE, case, task_role=task.role, task_unit=task.org_unit):
            return redirect(url_for("pages.task_page", task_id=task.id))
    return redirect(url_for("pages.case_page", case_id=case.id))
