"""One access check for every entry point: ``can(user, action, case, task_role=...)``.

Rules, in short:
- ``admin`` may do everything;
- ``auditor`` may view any case and its full history and export it, and change nothing;
- ``supervisor``, ``mediator``, ``police`` and ``grid_worker`` see cases whose org unit lies in the
  subtree of one of their memberships' units, and act on tasks of their own role there;
- ``lawyer`` sees only cases they hold a grant for, and acts only on the lawyer tasks of those cases.
"""

from __future__ import annotations

from enum import StrEnum

from cases.models import Case, OrgKind, OrgUnit, User
from cases.roles import Role


class Action(StrEnum):
    CASE_VIEW = "case:view"
    CASE_CREATE = "case:create"
    CASE_HISTORY = "case:history"
    CASE_EXPORT = "case:export"
    CASE_GRANT = "case:grant"
    CASE_RETRY = "case:retry"
    TASK_COMPLETE = "task:complete"
    TASK_CLAIM = "task:claim"
    DOCUMENT_GENERATE = "document:generate"
    PROCESS_DEPLOY = "process:deploy"
    AUDIT_VERIFY = "audit:verify"
    USER_MANAGE = "user:manage"


UNIT_ROLES = {Role.SUPERVISOR, Role.MEDIATOR, Role.POLICE, Role.GRID_WORKER}
CREATE_ROLES = {Role.SUPERVISOR, Role.MEDIATOR, Role.POLICE, Role.GRID_WORKER}


def jurisdiction(unit: OrgUnit) -> OrgUnit:
    """The subtree a unit serves: a police station or a mediation committee serves its parent's."""
    if unit.kind in (OrgKind.POLICE_STATION, OrgKind.COMMITTEE) and unit.parent is not None:
        return unit.parent
    return unit


def _units_for(user: User, roles: set[Role] | set[str]) -> list[OrgUnit]:
    return [jurisdiction(m.org_unit) for m in user.memberships if m.role in roles]


def _granted_roles(user: User, case: Case) -> set[str]:
    return {g.role for g in case.grants if g.user_id == user.id}


def in_scope(user: User, case: Case, roles: set[Role] | set[str] = UNIT_ROLES) -> bool:
    """True when one of the user's memberships with ``roles`` covers the case's org unit."""
    return any(unit.contains(case.org_unit) for unit in _units_for(user, roles))


def can(user: User | None, action: Action | str, case: Case | None = None, *,
        task_role: str | None = None, task_unit: OrgUnit | None = None) -> bool:
    """Whether ``user`` may perform ``action`` (on ``case``; for task actions, a task of ``task_role``
    routed to ``task_unit``)."""
    if user is None or not user.is_active:
        return False
    roles = user.roles()
    if Role.ADMIN in roles:
        return True
    action = Action(action)
    if action in (Action.PROCESS_DEPLOY, Action.USER_MANAGE):
        return False
    if action == Action.AUDIT_VERIFY:
        return Role.AUDITOR in roles
    if action == Action.CASE_CREATE:
        if case is None:
            return bool(roles & CREATE_ROLES)
        return in_scope(user, case, CREATE_ROLES)
    if case is None:
        return False
    if action in (Action.CASE_VIEW, Action.CASE_HISTORY, Action.CASE_EXPORT):
        return Role.AUDITOR in roles or in_scope(user, case) or bool(_granted_roles(user, case))
    if action in (Action.CASE_GRANT, Action.CASE_RETRY):
        return in_scope(user, case, {Role.SUPERVISOR})
    if action == Action.DOCUMENT_GENERATE:
        return in_scope(user, case) or bool(_granted_roles(user, case))
    if action in (Action.TASK_COMPLETE, Action.TASK_CLAIM):
        if task_role is None:
            return False
        unit = task_unit or case.org_unit
        if task_role in UNIT_ROLES and any(u.contains(unit) for u in _units_for(user, {task_role})):
            return True
        return task_role in _granted_roles(user, case)
    return False
