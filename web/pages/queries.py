"""Read-only queries behind the inbox, the case list and the notifications.

Rows are narrowed in SQL (roles, org-unit subtrees, grants) and then every row is confirmed with
``cases.permissions.can`` so the pages never show what the permission rules would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import aliased

from cases.models import Case, CaseGrant, OrgUnit, Party, User
from cases.permissions import UNIT_ROLES, Action, can, jurisdiction
from cases.roles import Role
from web.db import db
from workflows.inbox import tasks_for
from workflows.models import HumanTask, WorkflowTimer

DUE_SOON = timedelta(days=3)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def urgency(task: HumanTask, now: datetime | None = None) -> str:
    """``overdue``, ``soon`` (within 3 days) or ``normal``."""
    due = _aware(task.due_at)
    if due is None:
        return "normal"
    now = now or _now()
    if due < now:
        return "overdue"
    return "soon" if due - now <= DUE_SOON else "normal"


def _sort_key(task: HumanTask) -> tuple[int, datetime, int]:
    rank = {"overdue": 0, "soon": 1, "normal": 2}[urgency(task)]
    far = datetime.max.replace(tzinfo=UTC)
    return rank, _aware(task.due_at) or far, task.id


def inbox_tasks(user: User) -> tuple[list[HumanTask], list[HumanTask]]:
    """(tasks claimed by ``user``, unclaimed tasks ``user`` may do), most urgent first.

    The database query is already scoped by role × org subtree and grants (``workflows.inbox``);
    ``can`` is asked again for each task so the inbox never disagrees with the task page.
    """
    mine, unit = [], []
    for task in db().scalars(tasks_for(user)):
        if task.claimed_by_id not in (None, user.id):
            continue
        if not can(user, Action.TASK_COMPLETE, task.case, task_role=task.role, task_unit=task.org_unit):
            continue
        (mine if task.claimed_by_id == user.id else unit).append(task)
    return sorted(mine, key=_sort_key), sorted(unit, key=_sort_key)


def timers_by_case(case_ids: list[int]) -> dict[int, list[WorkflowTimer]]:
    found: dict[int, list[WorkflowTimer]] = {}
    if not case_ids:
        return found
    for timer in db().scalars(select(WorkflowTimer).where(WorkflowTimer.case_id.in_(case_ids))
                              .order_by(WorkflowTimer.due_at)):
        found.setdefault(timer.case_id, []).append(timer)
    return found


def task_clock(task: HumanTask, timers: dict[int, list[WorkflowTimer]]) -> WorkflowTimer | None:
    """The timer that sets the task's deadline (the earliest of its case)."""
    rows = timers.get(task.case_id) or []
    return rows[0] if rows else None


def scoped_cases(user: User) -> Select[tuple[Case]]:
    """Cases ``user`` may view, as a query (admins and auditors: all)."""
    query = select(Case)
    roles = user.roles()
    if Role.ADMIN in roles or Role.AUDITOR in roles:
        return query
    paths = sorted({jurisdiction(m.org_unit).path for m in user.memberships if m.role in UNIT_ROLES})
    unit = aliased(OrgUnit)
    granted = select(CaseGrant.case_id).where(CaseGrant.user_id == user.id)
    conditions: list[Any] = [Case.id.in_(granted)]
    if paths:
        query = query.join(unit, unit.id == Case.org_unit_id)
        conditions.extend(unit.path.startswith(p) for p in paths)
    return query.where(or_(*conditions))


def party_match(text: str) -> Any:
    return Case.id.in_(select(Party.case_id).where(Party.name.contains(text)))


@dataclass
class Filters:
    """The case-list filters, as they appear in the URL."""

    q: str = ""
    status: str = ""
    stage: str = ""
    category: str = ""
    risk: str = ""
    level: str = ""
    unit: str = ""
    date_from: str = ""
    date_to: str = ""
    sort: str = "-created"
    page: int = 1

    KEYS = ("q", "status", "stage", "category", "risk", "level", "unit", "date_from", "date_to", "sort")

    @classmethod
    def from_args(cls, args: Any) -> Filters:
        values = {k: (args.get(k) or "").strip()[:100] for k in cls.KEYS}
        try:
            page = max(1, min(int(args.get("page", 1)), 10_000))
        except ValueError:
            page = 1
        return cls(**values, page=page)  # type: ignore[arg-type]

    def args(self, **changes: Any) -> dict[str, Any]:
        """URL arguments with ``changes`` applied (empty values left out)."""
        values = {k: getattr(self, k) for k in self.KEYS}
        values["page"] = self.page
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)
                and not (k == "sort" and v == "-created")}

    @property
    def active(self) -> bool:
        return any(getattr(self, k) for k in self.KEYS if k != "sort")


SORTS = {
    "-created": Case.created_at.desc(), "created": Case.created_at.asc(),
    "number": Case.number.asc(), "-number": Case.number.desc(),
    "-updated": Case.updated_at.desc(),
}


def _day_start(text: str, offset_days: int = 0) -> datetime | None:
    """Midnight in Asia/Shanghai of an ISO date, as UTC."""
    try:
        day = datetime.fromisoformat(text[:10])
    except ValueError:
        return None
    local = day.replace(tzinfo=UTC) - timedelta(hours=8) + timedelta(days=offset_days)
    return local


def filtered_cases(user: User, f: Filters) -> Select[tuple[Case]]:
    query = scoped_cases(user)
    if f.q:
        query = query.where(or_(Case.number.contains(f.q), party_match(f.q), Case.title.contains(f.q)))
    for value, column in ((f.status, Case.status), (f.stage, Case.stage), (f.category, Case.category),
                          (f.risk, Case.risk_colour), (f.level, Case.level)):
        if value:
            query = query.where(column == value)
    if f.unit.isdigit():
        chosen = db().get(OrgUnit, int(f.unit))
        if chosen is not None:
            sub = select(OrgUnit.id).where(OrgUnit.path.startswith(chosen.path))
            query = query.where(Case.org_unit_id.in_(sub))
    start, end = _day_start(f.date_from), _day_start(f.date_to, 1)
    if start is not None:
        query = query.where(Case.created_at >= start)
    if end is not None:
        query = query.where(Case.created_at < end)
    return query.order_by(SORTS.get(f.sort, SORTS["-created"]), Case.id.desc())


def visible_units(user: User) -> list[OrgUnit]:
    """Org units offered in the case-list filter: the user's subtrees (all for admins/auditors)."""
    roles = user.roles()
    units = list(db().scalars(select(OrgUnit).order_by(OrgUnit.path)))
    if Role.ADMIN in roles or Role.AUDITOR in roles:
        return units
    roots = [jurisdiction(m.org_unit) for m in user.memberships]
    return [u for u in units if any(r.contains(u) for r in roots)]


def stages() -> list[str]:
    return [s for s in db().scalars(select(Case.stage).distinct()) if s]
