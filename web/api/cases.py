"""API: cases and their audit events."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import func, select

from cases.audit import Actor, AuditEvent, chain_for
from cases.models import Case, OrgUnit
from cases.permissions import CREATE_ROLES, Action, can, jurisdiction
from cases.queries import search_cases
from cases.services import DomainError, open_case
from web.api.errors import error_response
from web.api.guard import api_login_required, api_user
from web.api.schemas import CaseArgs, CaseDetailSchema, CaseListArgs, CasePageSchema, EventSchema, RetryArgs
from web.db import db
from workflows import services
from workflows.inbox import tasks_for
from workflows.models import HumanTask, WorkflowInstance

blp = Blueprint("api_cases", __name__, description="Dispute cases")


def _case_or_error(case_id: int, action: Action) -> Case | Any:
    case = db().get(Case, case_id)
    if case is None:
        return error_response(404, "not_found", f"case {case_id} does not exist")
    if not can(api_user(), action, case):
        return error_response(403, "forbidden", f"you may not access case {case.number}")
    return case


class _CaseDetail:
    """A case plus the caller's open tasks and the workflow status, for ``CaseDetailSchema``."""

    def __init__(self, case: Case, **extra: Any) -> None:
        self._case = case
        self.__dict__.update(extra)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._case, name)


def _inbox_order(task: HumanTask) -> tuple[bool, float, int]:
    """``workflows.inbox.tasks_for``'s order: by due time (none last), then id."""
    return task.due_at is None, task.due_at.timestamp() if task.due_at else 0.0, task.id


def _detail(case: Case, open_tasks: list[HumanTask] | None = None) -> _CaseDetail:
    """``open_tasks``: the case's open tasks when the caller has them (a case just started), else
    read; either way only those the caller may do are listed."""
    wi = db().get(WorkflowInstance, case.id)
    user = api_user()
    if open_tasks is None:
        tasks = db().scalars(tasks_for(user, case_id=case.id)).all()
    else:
        tasks = sorted((t for t in open_tasks
                        if can(user, Action.TASK_COMPLETE, case, task_role=t.role, task_unit=t.org_unit)),
                       key=_inbox_order)
    return _CaseDetail(case, open_tasks=tasks, workflow_status=wi.status if wi else None,
                       workflow_error=wi.error_message if wi else None,
                       workflow_error_element=wi.error_element if wi else None)


@blp.route("/cases", methods=["GET"])
@blp.arguments(CaseListArgs, location="query")
@blp.response(200, CasePageSchema)
@api_login_required
def list_cases(args: dict[str, Any]) -> Any:
    query = search_cases(api_user(), status=args.get("status"), category=args.get("category"),
                         q=args.get("q"))
    total = db().scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db().scalars(query.offset((args["page"] - 1) * args["per_page"]).limit(args["per_page"])).all()
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


@blp.route("/cases", methods=["POST"])
@blp.arguments(CaseArgs)
@blp.response(201, CaseDetailSchema)
@api_login_required
def create_case(args: dict[str, Any]) -> Any:
    """Open a case and start its workflow."""
    user = api_user()
    memberships = [m for m in user.memberships if m.role in CREATE_ROLES or m.role == "admin"]
    if not memberships:
        return error_response(403, "forbidden", "your roles may not open cases")
    if args.get("org_unit"):
        unit = db().scalar(select(OrgUnit).where(OrgUnit.code == args["org_unit"]))
        if unit is None:
            return error_response(422, "validation_failed", f"unknown org unit '{args['org_unit']}'",
                                  {"org_unit": [f"unknown org unit '{args['org_unit']}'"]})
        membership = next((m for m in memberships
                           if m.role == "admin" or jurisdiction(m.org_unit).contains(unit)), None)
        if membership is None:
            return error_response(403, "forbidden", f"you may not open cases at {unit.code}")
    else:
        membership = memberships[0]
        unit = membership.org_unit
    try:
        case = open_case(db(), actor=user, actor_role=membership.role, org_unit=unit,
                         title=args["title"], category=args["category"], parties=args["parties"],
                         description=args["description"], language=args["language"])
    except DomainError as exc:
        return error_response(422, "validation_failed", exc.message, {exc.field or "_schema": [exc.message]})
    started = services.start_case(db(), case, Actor(user.id, user.username, membership.role),
                                  process_id=args["process_id"])
    return _detail(case, started.open_tasks)


@blp.route("/cases/<int:case_id>", methods=["GET"])
@blp.response(200, CaseDetailSchema)
@api_login_required
def get_case(case_id: int) -> Any:
    case = _case_or_error(case_id, Action.CASE_VIEW)
    return _detail(case) if isinstance(case, Case) else case


@blp.route("/cases/<int:case_id>/events", methods=["GET"])
@blp.response(200, EventSchema(many=True))
@api_login_required
def events(case_id: int) -> Any:
    """The case's audit chain, oldest first."""
    case = _case_or_error(case_id, Action.CASE_HISTORY)
    if not isinstance(case, Case):
        return case
    return db().scalars(select(AuditEvent).where(AuditEvent.chain == chain_for(case.id))
                        .order_by(AuditEvent.seq)).all()


@blp.route("/cases/<int:case_id>/retry", methods=["POST"])
@blp.arguments(RetryArgs)
@blp.response(200, CaseDetailSchema)
@api_login_required
def retry(args: dict[str, Any], case_id: int) -> Any:
    """Re-run the failed step of a case in error, optionally with corrected data (admin/supervisor)."""
    case = _case_or_error(case_id, Action.CASE_VIEW)
    if not isinstance(case, Case):
        return case
    services.retry_case(db(), case=case, user=api_user(), data_patch=args["data"])
    return _detail(case)  # workflow_status/workflow_error tell whether the step failed again
