"""Domain services. They flush and never commit: the caller's boundary commits once."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from cases.audit import Actor, AuditAction, open_chain, record
from cases.db import utcnow
from cases.driver_sql import DriverStatement
from cases.models import CATEGORIES, Case, CaseGrant, Holiday, Membership, OrgKind, OrgUnit, Party, User
from cases.roles import Role

# OWASP's argon2id recommendation (19 MiB, 2 iterations, 1 lane): strong, and cheap enough for a
# 2-core server to answer logins promptly.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# A valid hash of a random password: verifying against it keeps login timing uniform for unknown users.
_DUMMY_HASH = _hasher.hash("fengqiao-dummy-password")


class DomainError(Exception):
    """A request the domain refuses; ``field`` names the offending input when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User | None, password: str) -> bool:
    """Verify ``password``; spends the same time whether or not the user exists."""
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


def create_org_unit(session: Session, *, code: str, name_zh: str, name_en: str, kind: OrgKind | str,
                    parent: OrgUnit | None = None) -> OrgUnit:
    unit = OrgUnit(code=code, name_zh=name_zh, name_en=name_en, kind=str(kind), parent=parent)
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    session.flush()
    return unit


def create_user(session: Session, *, username: str, password: str, display_name: str | None = None,
                language: str = "zh", memberships: list[tuple[Role | str, OrgUnit]] = ()) -> User:
    if session.scalar(select(User.id).where(User.username == username)):
        raise DomainError(f"user '{username}' already exists", "username")
    user = User(username=username, display_name=display_name or username,
                password_hash=hash_password(password), language=language)
    session.add(user)
    for role, unit in memberships:
        user.memberships.append(Membership(role=str(Role(role)), org_unit=unit))
    session.flush()
    return user


def county_of(unit: OrgUnit) -> OrgUnit:
    """The county above ``unit`` (or the root of its tree)."""
    node = unit
    while node.kind != OrgKind.COUNTY and node.parent is not None:
        node = node.parent
    return node


_OU, _CASES = OrgUnit.__table__, Case.__table__
_LOCK_COUNTY = DriverStatement(select(_OU.c.id).where(_OU.c.id == bindparam("county")).with_for_update())
_LAST_SEQ = DriverStatement(select(func.max(_CASES.c.seq)).where(_CASES.c.county_id == bindparam("county"),
                                                                  _CASES.c.year == bindparam("year")))


def next_case_number(session: Session, county: OrgUnit, year: int) -> tuple[int, str]:
    """Allocate the next ``YYYY-NNNN`` number of ``county`` in ``year``.

    The county's row is locked first (``FOR UPDATE`` on PostgreSQL; SQLite transactions are
    serialised anyway), so concurrent intakes queue for the next number instead of colliding;
    the unique constraint (county, year, seq) remains the last line of defence.
    """
    session.flush()  # as a query's autoflush would: a case added in this transaction counts
    conn = session.connection()
    _LOCK_COUNTY.first(conn, {"county": county.id})
    (last,) = _LAST_SEQ.first(conn, {"county": county.id, "year": year}) or (None,)
    seq = (last or 0) + 1
    return seq, f"{year}-{seq:04d}"


def open_case(session: Session, *, actor: User, actor_role: str, org_unit: OrgUnit, title: str,
              category: str, parties: list[dict[str, Any]] = (), description: str = "",
              language: str = "zh", now: datetime | None = None) -> Case:
    """Register a new case at ``org_unit`` and audit it. Validation errors name the field."""
    title = (title or "").strip()
    if not title:
        raise DomainError("title is required", "title")
    if len(title) > 200:
        raise DomainError("title is longer than 200 characters", "title")
    if category not in CATEGORIES:
        raise DomainError(f"unknown category '{category}'; expected one of {', '.join(CATEGORIES)}",
                          "category")
    if language not in ("zh", "en"):
        raise DomainError("language must be 'zh' or 'en'", "language")
    county = county_of(org_unit)
    year = (now or utcnow()).year
    seq, number = next_case_number(session, county, year)
    case = Case(county_id=county.id, year=year, seq=seq, number=number, title=title,
                category=category, level=str(org_unit.level), org_unit=org_unit,
                language=language, description=description, created_by_id=actor.id)
    case.parties = [_party(p) for p in parties]  # the collection is loaded: no query for it later
    case.grants = []  # likewise: a new case has no grants (every permission check reads them)
    session.add(case)
    session.flush()
    open_chain(session, case.id)
    record(session, actor=Actor(actor.id, actor.username, actor_role), action=AuditAction.CASE_OPENED,
           case_id=case.id, payload={"number": number, "title": title, "category": category,
                                     "org_unit": org_unit.code, "level": case.level,
                                     "parties": [pt.to_dict() for pt in case.parties]})
    return case


def _party(data: dict[str, Any]) -> Party:
    name = (data.get("name") or "").strip()
    if not name:
        raise DomainError("party name is required", "parties.name")
    role = data.get("role") or "applicant"
    if role not in ("applicant", "respondent", "third_party"):
        raise DomainError(f"unknown party role '{role}'", "parties.role")
    return Party(role=role, name=name, id_number=data.get("id_number") or None,
                 phone=data.get("phone") or None, address=data.get("address") or None,
                 relation=data.get("relation") or None)


def replace_parties(session: Session, case: Case, parties: list[dict[str, Any]]) -> None:
    """Replace the case's parties with the list recorded in a form (flush only)."""
    case.parties.clear()
    session.flush()
    for p in parties:
        case.parties.append(_party(p))
    session.flush()


def grant(session: Session, *, actor: Actor, case: Case, user: User, role: Role | str) -> CaseGrant:
    """Invite ``user`` into one case in ``role`` (e.g. a lawyer into a police + lawyer case)."""
    role = str(Role(role))
    existing = next((g for g in case.grants if g.user_id == user.id and g.role == role), None)
    if existing:
        return existing
    g = CaseGrant(case_id=case.id, user=user, role=role, granted_by_id=actor.user_id)
    case.grants.append(g)
    session.flush()
    record(session, actor=actor, action=AuditAction.GRANT_ADDED, case_id=case.id,
           payload={"user": user.username, "role": role})
    return g


def set_calendar_day(session: Session, *, actor: Actor, day: str, is_workday: bool = False,
                     name: str = "") -> Holiday:
    """Mark ``day`` (ISO date) as a public holiday, or as a make-up working day (调休)."""
    try:
        date.fromisoformat(day)
    except ValueError as exc:
        raise DomainError(f"'{day}' is not a date (YYYY-MM-DD)", "day") from exc
    row = session.get(Holiday, day) or Holiday(day=day)
    row.is_workday, row.name = is_workday, name[:80]
    session.add(row)
    session.flush()
    record(session, actor=actor, action=AuditAction.CALENDAR_CHANGED,
           payload={"day": day, "is_workday": is_workday, "name": row.name})
    return row


def remove_calendar_day(session: Session, *, actor: Actor, day: str) -> bool:
    row = session.get(Holiday, day)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    record(session, actor=actor, action=AuditAction.CALENDAR_CHANGED, payload={"day": day, "removed": True})
    return True
