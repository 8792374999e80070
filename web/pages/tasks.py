"""The task page: instructions, legal hint, the form from its definition; complete, draft, claim."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

import forms
from cases.permissions import Action, can
from web.db import db
from web.i18n import current_lang
from web.pages.common import bp, form_data_without_reserved, me, safe_next
from web.pages.queries import task_clock, timers_by_case, urgency
from workflows.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    WorkflowServiceError,
)
from workflows.models import HumanTask, WorkflowInstance
from workflows.services import (
    check_task_access,
    claim_task,
    complete_task,
    form_for,
    get_task,
    release_task,
    save_draft,
)


def _task_or_abort(task_id: int, action: Action = Action.TASK_COMPLETE) -> HumanTask:
    try:
        task = get_task(db(), task_id)
        check_task_access(me(), task, action)
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)
    return task


def conflict_page(*, by: str | None, at: Any, case_id: int | None, message: str = "") -> ResponseReturnValue:
    return render_template("pages/error.html", code=409, by=by, at=at, case_id=case_id,
                           message=message), 409


def _initial_values(task: HumanTask, defn: forms.FormDefinition) -> dict[str, Any]:
    if task.draft:
        return dict(task.draft)
    values: dict[str, Any] = {}
    names = set(defn.field_names)
    if "parties" in names and task.case.parties:
        values["parties"] = [p.to_dict() for p in task.case.parties]
    return values


def _render(task: HumanTask, defn: forms.FormDefinition, values: Any, errors: dict[str, list[str]],
            status: int = 200) -> ResponseReturnValue:
    lang = current_lang()
    clock = task_clock(task, timers_by_case([task.case_id]))
    claimed_by_other = task.claimed_by_id not in (None, me().id)
    confirm_errors = errors.pop("_confirm", [])
    page = render_template(
        "pages/task.html", task=task, case=task.case, defn=defn,
        fields=forms.render_fields(defn, lang, values, errors),
        general_errors=forms.general_errors(defn, errors),
        form_title=forms.title(defn, lang), instructions=forms.instructions(defn, lang),
        legal_hint=forms.legal_hint(defn, lang), confirm=forms.confirm_text(defn, lang),
        confirm_errors=confirm_errors, has_errors=bool(errors or confirm_errors), clock=clock,
        urgency=urgency(task), claimed_by_other=claimed_by_other,
        may_release=task.claimed_by_id is not None and (
            task.claimed_by_id == me().id or can(me(), Action.CASE_GRANT, task.case)))
    return page, status


def _definition(task: HumanTask) -> forms.FormDefinition:
    wi = db().get(WorkflowInstance, task.case_id)
    if wi is None:
        abort(404)
    try:
        return form_for(wi.process_version, task.form_key)
    except WorkflowServiceError:
        abort(500)


@bp.get("/tasks/<int:task_id>")
@login_required
def task_page(task_id: int) -> ResponseReturnValue:
    task = _task_or_abort(task_id)
    if task.state != "ready":
        return conflict_page(by=task.completed_by.display_name if task.completed_by else None,
                             at=task.completed_at, case_id=task.case_id)
    defn = _definition(task)
    return _render(task, defn, _initial_values(task, defn), {})


@bp.post("/tasks/<int:task_id>")
@login_required
def task_submit(task_id: int) -> ResponseReturnValue:
    task = _task_or_abort(task_id)
    defn = _definition(task)
    posted = form_data_without_reserved()
    data = forms.from_form_mapping(defn, posted)
    action = request.form.get("_action", "complete")
    try:
        if action == "draft":
            save_draft(db(), human_task_id=task.id, user=me(), data=data)
            flash(_("Draft saved. You can come back to this step later."), "success")
            return redirect(url_for("pages.task_page", task_id=task.id))
        confirm = forms.confirm_text(defn, current_lang())
        if confirm and request.form.get("_confirm") != "yes":
            _clean, errors = forms.validate_submission(defn, data, current_lang())
            errors["_confirm"] = [_("Tick the box to confirm this step.")]
            return _render(task, defn, posted, errors, 422)
        result = complete_task(db(), human_task_id=task.id, user=me(), data=data, lang=current_lang())
    except ValidationFailed as failed:
        return _render(task, defn, posted, dict(failed.fields), 422)
    except Conflict as conflict:
        return conflict_page(by=conflict.by, at=conflict.at, case_id=conflict.case_id,
                             message=conflict.message)
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    if result.error:
        flash(_("The step was saved but the procedure stopped with an error. An administrator has "
                "been shown the problem."), "error")
        return redirect(url_for("pages.case_page", case_id=result.case_id))
    if result.next_tasks:
        nxt = result.next_tasks[0]
        flash(_("Step “%(done)s” completed. Next step: %(next)s.", done=task.name, next=nxt.name), "success")
        return redirect(url_for("pages.task_page", task_id=nxt.id))
    flash(_("Step “%(done)s” completed.", done=task.name), "success")
    return redirect(url_for("pages.case_page", case_id=result.case_id))


@bp.post("/tasks/<int:task_id>/claim")
@login_required
def task_claim(task_id: int) -> ResponseReturnValue:
    task = _task_or_abort(task_id, Action.TASK_CLAIM)
    try:
        claim_task(db(), human_task_id=task.id, user=me())
    except Conflict as conflict:
        return conflict_page(by=conflict.by, at=conflict.at, case_id=conflict.case_id,
                             message=conflict.message)
    flash(_("You claimed “%(name)s”. It is now in your tasks.", name=task.name), "success")
    return redirect(safe_next(request.form.get("next"), url_for("pages.task_page", task_id=task.id)))


@bp.post("/tasks/<int:task_id>/release")
@login_required
def task_release(task_id: int) -> ResponseReturnValue:
    try:
        task = get_task(db(), task_id)
        release_task(db(), human_task_id=task.id, user=me())
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)
    flash(_("You released “%(name)s”. Others in your unit can take it now.", name=task.name), "success")
    return redirect(safe_next(request.form.get("next"), url_for("pages.inbox")))
