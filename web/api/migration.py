"""API: migrating a running case to another deployed version of its process."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from cases.models import Case
from cases.permissions import Action, can
from web.api.errors import error_response
from web.api.guard import api_login_required, api_user
from web.db import db
from workflows.errors import NotFound
from workflows.migration import MigrationPlan, check_migration, migrate_case, version_by_number
from workflows.models import ProcessVersion, WorkflowInstance

blp = Blueprint("api_migration", __name__, description="Process version migration of running cases")


class MigrationArgs(Schema):
    class Meta:
        unknown = RAISE

    to = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "Target version number (default: the latest version of the case's process)."})


class MigrationPlanSchema(Schema):
    case_id = fields.Integer()
    case_number = fields.String()
    process_id = fields.String()
    from_version = fields.Integer()
    to_version = fields.Integer()
    can_migrate = fields.Boolean()
    reasons = fields.List(fields.String())
    changed = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    removed = fields.List(fields.String())
    added = fields.List(fields.String())
    affected_tasks = fields.List(fields.String())
    applied = fields.Boolean()
    dropped_predictions = fields.Integer()


def _case_and_target(case_id: int, action: Action, to: int | None) -> tuple[Case, ProcessVersion | None] | Any:
    case = db().get(Case, case_id)
    if case is None:
        return error_response(404, "not_found", f"case {case_id} does not exist")
    if not can(api_user(), action, case):
        return error_response(403, "forbidden", f"you may not migrate case {case.number}"
                              if action == Action.PROCESS_DEPLOY else f"you may not access case {case.number}")
    wi = db().get(WorkflowInstance, case.id)
    if wi is None:
        raise NotFound(f"case {case.number} has no workflow")
    target = version_by_number(db(), wi.process_version.process_id, to) if to else None
    return case, target


@blp.route("/cases/<int:case_id>/migration", methods=["GET"])
@blp.arguments(MigrationArgs, location="query")
@blp.response(200, MigrationPlanSchema)
@api_login_required
def migration_plan(args: dict[str, Any], case_id: int) -> Any:
    """What migrating the case to the latest (or the given) version would change, and whether it
    is allowed (``can_migrate``, ``reasons`` naming the elements)."""
    found = _case_and_target(case_id, Action.CASE_VIEW, args.get("to"))
    if not isinstance(found, tuple):
        return found
    case, target = found
    plan: MigrationPlan = check_migration(db(), case, target)
    return plan.to_dict()


@blp.route("/cases/<int:case_id>/migrate", methods=["POST"])
@blp.arguments(MigrationArgs)
@blp.response(200, MigrationPlanSchema)
@api_login_required
def migrate(args: dict[str, Any], case_id: int) -> Any:
    """Migrate the case (admin). A refusal answers 409 ``conflict`` naming the elements."""
    found = _case_and_target(case_id, Action.PROCESS_DEPLOY, args.get("to"))
    if not isinstance(found, tuple):
        return found
    case, target = found
    return migrate_case(db(), case=case, user=api_user(), target=target).to_dict()
