"""The acting user built from one Core statement: the same objects the ORM would load, attached
clean to the session, nothing cached between sessions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import joinedload

from cases.models import Membership, OrgUnit, User
from cases.principal import load_user
from cases.services import create_user
from tests.sql_log import statements
from web.demo import build_org_tree


def _setup(session: Any) -> dict[str, OrgUnit]:
    units = build_org_tree(session)
    create_user(session, username="lin", password="pw-lin-123", display_name="林",
                memberships=[("mediator", units["village"]), ("police", units["police-station"]),
                             ("supervisor", units["town"])])
    create_user(session, username="solo", password="pw-solo-123", display_name="Solo")
    session.commit()
    return units


def _orm(session: Any, username: str) -> User:
    return session.execute(select(User).where(User.username == username)
                           .options(joinedload(User.memberships))).unique().scalar_one()


def _snapshot(user: User) -> tuple[Any, ...]:
    return (tuple((c.key, getattr(user, c.key)) for c in User.__table__.c),
            tuple((m.id, m.role, m.org_unit_id, m.org_unit.code, m.org_unit.path, m.org_unit.kind)
                  for m in user.memberships))


def test_same_user_as_the_orm_loads_attached_and_clean(session_factory: Any) -> None:
    with session_factory() as setup:
        _setup(setup)
    with session_factory() as orm_session:
        expected = _snapshot(_orm(orm_session, "lin"))
        uid = _orm(orm_session, "lin").id
    with session_factory() as session, statements(session.get_bind()) as run:
        user = load_user(session, uid)
        assert user is not None and _snapshot(user) == expected
        assert [s.verb for s in run] == ["SELECT"]
        assert all(inspect(o).persistent for o in [user, *user.memberships, *(m.org_unit for m in user.memberships)])
        assert not session.dirty and not session.new
        assert all(m.user is user for m in user.memberships)
        police = next(m for m in user.memberships if m.role == "police")
        assert police.org_unit.parent is not None and police.org_unit.parent.kind == "town"  # lazy load works
        session.flush()
        assert not [s for s in run if s.verb in ("UPDATE", "INSERT", "DELETE")]


def test_unknown_user_and_user_without_memberships(session_factory: Any) -> None:
    with session_factory() as setup:
        _setup(setup)
        solo_id = _orm(setup, "solo").id
    with session_factory() as session:
        assert load_user(session, 999_999) is None
    with session_factory() as session:
        solo = load_user(session, solo_id)
        assert solo is not None and solo.username == "solo" and solo.memberships == [] and solo.roles() == set()


def test_nothing_is_cached_a_removed_membership_counts_at_once(session_factory: Any) -> None:
    with session_factory() as setup:
        _setup(setup)
        uid = _orm(setup, "lin").id
    with session_factory() as session:
        assert load_user(session, uid).roles() == {"mediator", "police", "supervisor"}  # type: ignore[union-attr]
    with session_factory() as admin:
        admin.delete(admin.scalars(select(Membership).where(Membership.role == "supervisor")).one())
        admin.get(User, uid).is_active = False  # type: ignore[union-attr]
        admin.commit()
    with session_factory() as session:
        user = load_user(session, uid)
        assert user is not None and user.roles() == {"mediator", "police"} and user.is_active is False


def test_a_session_already_holding_objects_uses_the_orm_query(session_factory: Any) -> None:
    with session_factory() as setup:
        units = _setup(setup)
        uid = _orm(setup, "lin").id
        village_id = units["village"].id
    with session_factory() as session:
        village = session.get(OrgUnit, village_id)
        user = load_user(session, uid)
        assert user is not None
        mediator = next(m for m in user.memberships if m.role == "mediator")
        assert mediator.org_unit is village  # one object per row in the session, no identity clash
