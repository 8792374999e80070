"""API: tokens and tasks."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from web.api.errors import error_response
from web.api.guard import api_login_required, api_user
from web.api.schemas import CompleteArgs, CompletionSchema, TaskListArgs, TaskSchema, TokenArgs, TokenSchema
from web.auth import LoginRefused, authenticate, issue_token
from web.db import db
from workflows import services
from workflows.inbox import tasks_for

auth_blp = Blueprint("api_auth", __name__, description="Authentication")
tasks_blp = Blueprint("api_tasks", __name__, description="Human tasks")


@auth_blp.route("/auth/token", methods=["POST"])
@auth_blp.arguments(TokenArgs)
@auth_blp.response(200, TokenSchema)
def token(args: dict[str, Any]) -> Any:
    """Exchange a username and password for a bearer token."""
    try:
        user = authenticate(args["username"], args["password"])
    except LoginRefused as exc:
        if exc.reason == "rate_limited":
            return error_response(429, "too_many_requests", "too many failed logins; try again later")
        if exc.reason == "demo_password":
            return error_response(401, "unauthorized", "demo passwords are refused in production")
        return error_response(401, "unauthorized", "wrong username or password")
    return {"token": issue_token(user), "token_type": "Bearer",
            "expires_in": current_app.config["TOKEN_MAX_AGE_SECONDS"], "username": user.username,
            "roles": sorted(user.roles())}


@tasks_blp.route("/tasks", methods=["GET"])
@tasks_blp.arguments(TaskListArgs, location="query")
@tasks_blp.response(200, TaskSchema(many=True))
@api_login_required
def list_tasks(args: dict[str, Any]) -> Any:
    """The open tasks the caller may work on (by role, org unit and grant)."""
    return db().scalars(tasks_for(api_user(), case_id=args.get("case_id")).limit(500)).all()


@tasks_blp.route("/tasks/<int:task_id>", methods=["GET"])
@tasks_blp.response(200, TaskSchema)
@api_login_required
def get_task(task_id: int) -> Any:
    task = services.get_task(db(), task_id)
    services.check_task_access(api_user(), task)
    return task


@tasks_blp.route("/tasks/<int:task_id>/complete", methods=["POST"])
@tasks_blp.arguments(CompleteArgs)
@tasks_blp.response(200, CompletionSchema)
@api_login_required
def complete(args: dict[str, Any], task_id: int) -> Any:
    """Complete a task with form data (validated against the task's form definition)."""
    result = services.complete_task(db(), human_task_id=task_id, user=api_user(), data=args["data"],
                                    lang=args["lang"])
    return {"case_id": result.case_id, "error": result.error, "next_tasks": result.next_tasks}


@tasks_blp.route("/tasks/<int:task_id>/claim", methods=["POST"])
@tasks_blp.response(200, TaskSchema)
@api_login_required
def claim(task_id: int) -> Any:
    return services.claim_task(db(), human_task_id=task_id, user=api_user())


@tasks_blp.route("/tasks/<int:task_id>/release", methods=["POST"])
@tasks_blp.response(200, TaskSchema)
@api_login_required
def release(task_id: int) -> Any:
    return services.release_task(db(), human_task_id=task_id, user=api_user())
