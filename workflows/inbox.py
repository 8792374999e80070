"""Which open human tasks a user may work on: by role and org unit, or by a per-case grant."""

from __future__ import annotations

from sqlalchemy import Select, and_, false, or_, select

from cases.models import CaseGrant, OrgUnit, User
from cases.permissions import UNIT_ROLES, jurisdiction
from cases.roles import Role
from workflows.models import HumanTask


def tasks_for(user: User, *, case_id: int | None = None, state: str = "ready") -> Select[tuple[HumanTask]]:
    query = select(HumanTask).join(OrgUnit, HumanTask.org_unit_id == OrgUnit.id).where(
        HumanTask.state == state)
    if case_id is not None:
        query = query.where(HumanTask.case_id == case_id)
    if Role.ADMIN not in user.roles():
        by_unit = [and_(HumanTask.role == m.role, OrgUnit.path.startswith(jurisdiction(m.org_unit).path))
                   for m in user.memberships if m.role in UNIT_ROLES]
        by_grant = HumanTask.id.in_(
            select(HumanTask.id).join(CaseGrant, and_(CaseGrant.case_id == HumanTask.case_id,
                                                      CaseGrant.role == HumanTask.role))
            .where(CaseGrant.user_id == user.id))
        query = query.where(or_(false(), by_grant, *by_unit))
    return query.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
