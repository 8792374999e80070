"""Read queries that apply the same scope rules as ``cases.permissions.can``."""

from __future__ import annotations

from sqlalchemy import Select, false, or_, select

from cases.models import Case, CaseGrant, OrgUnit, Party, User
from cases.permissions import UNIT_ROLES, jurisdiction
from cases.roles import Role


def visible_cases(user: User) -> Select[tuple[Case]]:
    """A SELECT of the cases ``user`` may view (admins and auditors: all)."""
    query = select(Case).join(OrgUnit, Case.org_unit_id == OrgUnit.id)
    roles = user.roles()
    if roles & {Role.ADMIN, Role.AUDITOR}:
        return query
    conditions = [OrgUnit.path.startswith(jurisdiction(m.org_unit).path)
                  for m in user.memberships if m.role in UNIT_ROLES]
    conditions.append(Case.id.in_(select(CaseGrant.case_id).where(CaseGrant.user_id == user.id)))
    return query.where(or_(false(), *conditions))


def search_cases(user: User, *, status: str | None = None, category: str | None = None,
                 q: str | None = None) -> Select[tuple[Case]]:
    query = visible_cases(user)
    if status:
        query = query.where(Case.status == status)
    if category:
        query = query.where(Case.category == category)
    if q:
        like = f"%{q.strip()}%"
        query = query.where(or_(Case.number.like(like), Case.title.like(like),
                                Case.id.in_(select(Party.case_id).where(Party.name.like(like)))))
    return query.order_by(Case.created_at.desc(), Case.id.desc())
