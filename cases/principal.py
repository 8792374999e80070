"""The acting user, loaded for a request: the user, their memberships and those memberships' org
units, as ordinary persistent objects of the request's session.

Every API call starts here, so the load is one Core statement, run on the driver's cursor
(``cases.driver_sql``), whose rows are turned into mapped objects directly (``cases.db.as_loaded``
then ``Session.add``: no SQL, no unit of work) instead of going through the ORM's joined-eager
loading. What the objects hold is exactly what that
statement read: nothing is cached between requests, so a changed password, a disabled account or a
removed membership counts from the next request on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from cases.db import as_loaded
from cases.driver_sql import DriverStatement
from cases.models import Membership, OrgUnit, User

_U, _M, _O = User.__table__, Membership.__table__, OrgUnit.__table__
_USER_COLUMNS = tuple(c.key for c in _U.c)
_UNIT_COLUMNS = tuple(c.key for c in _O.c)
_LOAD = DriverStatement(
    select(*_U.c, _M.c.id.label("m_id"), _M.c.role.label("m_role"), *(c.label(f"o_{c.key}") for c in _O.c))
    .select_from(_U.outerjoin(_M, _M.c.user_id == _U.c.id).outerjoin(_O, _O.c.id == _M.c.org_unit_id))
    .where(_U.c.id == bindparam("uid")).order_by(_M.c.id))
_M_ID = len(_USER_COLUMNS)  # positions in a row: the user's columns, membership id and role, the unit's
_M_ROLE, _O_FIRST = _M_ID + 1, _M_ID + 2


def _unit(row: tuple[Any, ...], units: dict[int, OrgUnit]) -> OrgUnit:
    unit = units.get(row[_O_FIRST])
    if unit is None:
        unit = units[row[_O_FIRST]] = as_loaded(OrgUnit, dict(zip(_UNIT_COLUMNS, row[_O_FIRST:], strict=True)))
    return unit


def load_user(session: Session, user_id: int) -> User | None:
    """The user with their memberships (ordered by id) and each membership's org unit, or None.

    The objects join ``session`` as persistent and clean; relationships not read here (an org
    unit's parent, say) load lazily as usual. When the session already holds mapped objects (which
    could collide with these), the ordinary ORM query is used instead.
    """
    if len(session.identity_map):
        return session.execute(select(User).where(User.id == user_id).options(joinedload(User.memberships))
                               ).unique().scalar_one_or_none()
    rows = _LOAD.all(session.connection(), {"uid": user_id})
    if not rows:
        return None
    user = as_loaded(User, dict(zip(_USER_COLUMNS, rows[0][:_M_ID], strict=True)))
    units: dict[int, OrgUnit] = {}
    memberships = []
    for row in rows:
        if row[_M_ID] is None:
            continue
        membership = as_loaded(Membership, {"id": row[_M_ID], "user_id": user_id, "role": row[_M_ROLE],
                                            "org_unit_id": row[_O_FIRST]})
        set_committed_value(membership, "org_unit", _unit(row, units))
        set_committed_value(membership, "user", user)
        memberships.append(membership)
    set_committed_value(user, "memberships", memberships)
    session.add(user)  # cascades to the memberships and their org units
    return user
