"""Statements run on the driver's cursor (``cases.driver_sql``) give and take values exactly as
``Connection.execute`` does, apply Python-side column defaults, and fail as SQLAlchemy fails."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Numeric, bindparam, cast, create_engine, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from cases.db import make_engine
from cases.driver_sql import DriverStatement
from cases.models import Case, User
from cases.services import open_case
from tests.sql_log import statements
from workflows.models import HumanTask

_HT, _USERS, _CASES = HumanTask.__table__, User.__table__, Case.__table__
_TASK = {"task_id": "t-1", "spec_id": "s", "process_id": "p", "name": "任务", "lane": "调解员", "role": "mediator",
         "form_key": "f", "case_action": None, "state": "ready"}


def _utc(moment: datetime) -> datetime:
    """SQLite keeps no offset (it reads back naive UTC, through SQLAlchemy as here)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _case(session: Session, world: Any) -> Case:
    case = open_case(session, actor=world.users["mediator"], actor_role="mediator",
                     org_unit=world.units["village"], title="t", category="neighbour")
    session.commit()
    return case


def test_rows_are_what_sqlalchemy_reads(session: Session, world: Any) -> None:
    case = _case(session, world)
    conn = session.connection()
    due = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    conn.execute(insert(_HT), [{**_TASK, "case_id": case.id, "org_unit_id": case.org_unit_id, "due_at": due,
                                "documents": ["agreement", {"copies": 3}], "draft": {"名": "张三", "n": [1, None]}},
                               {**_TASK, "task_id": "t-2", "case_id": case.id, "org_unit_id": case.org_unit_id,
                                "due_at": None, "documents": [], "draft": None}])
    query = select(_HT, _USERS.c.is_active).join(_USERS, _USERS.c.id == bindparam("uid")).where(
        _HT.c.case_id == bindparam("case")).order_by(_HT.c.id)
    params = {"case": case.id, "uid": world.users["mediator"].id}
    expected = [tuple(row) for row in conn.execute(query, params)]
    found = DriverStatement(query).all(conn, params)
    assert found == expected
    first = dict(zip([c.key for c in query.selected_columns], found[0], strict=True))
    assert _utc(first["due_at"]) == due  # SQLite's text, converted
    assert first["documents"] == ["agreement", {"copies": 3}] and first["draft"]["名"] == "张三"
    assert first["is_active"] is True
    assert DriverStatement(query).first(conn, {"case": -1, "uid": 0}) is None


def test_inserts_and_updates_apply_python_defaults(session: Session, world: Any) -> None:
    case = _case(session, world)
    conn = session.connection()
    before = datetime.now(UTC)
    add = DriverStatement(insert(_HT).returning(_HT.c.id, _HT.c.documents, _HT.c.instructions, _HT.c.created_at))
    _id, documents, instructions, created = add.first(  # type: ignore[misc]
        conn, {**_TASK, "case_id": case.id, "org_unit_id": case.org_unit_id})
    assert documents == [] and instructions == "" and _utc(created) >= before  # default=list, "" and utcnow
    touch = DriverStatement(update(_CASES).where(_CASES.c.id == bindparam("row_pk")))
    touch.run(conn, {"row_pk": case.id, "stage": "mediation"})
    stage, updated = conn.execute(select(_CASES.c.stage, _CASES.c.updated_at).where(_CASES.c.id == case.id)).one()
    assert stage == "mediation" and _utc(updated) >= before  # onupdate=utcnow
    many = DriverStatement(insert(_HT).inline())
    many.run(conn, [{**_TASK, "task_id": f"m-{i}", "case_id": case.id, "org_unit_id": case.org_unit_id}
                    for i in range(3)])
    many.run(conn, [])
    assert conn.execute(text("SELECT count(*) FROM human_tasks")).scalar_one() == 4
    session.commit()


def test_errors_are_sqlalchemy_errors_and_the_session_recovers(session: Session, world: Any) -> None:
    case = _case(session, world)
    add = DriverStatement(insert(_HT).inline())
    row = {**_TASK, "case_id": case.id, "org_unit_id": case.org_unit_id}
    add.run(session.connection(), row)
    with pytest.raises(IntegrityError):
        add.run(session.connection(), row)  # the same engine task id twice
    session.rollback()
    assert session.execute(text("SELECT count(*) FROM human_tasks")).scalar_one() == 0


def test_a_missing_parameter_is_named(session: Session) -> None:
    query = DriverStatement(select(_USERS.c.id).where(_USERS.c.username == bindparam("name")))
    with pytest.raises(KeyError, match="'name'"):
        query.all(session.connection(), {})


def test_unsupported_statements_are_refused(session: Session) -> None:
    expanding = DriverStatement(select(_USERS.c.id).where(_USERS.c.id.in_(bindparam("ids", expanding=True))))
    with pytest.raises(ValueError, match="expanding"):
        expanding.all(session.connection(), {"ids": [1]})
    numeric = DriverStatement(select(cast(_USERS.c.id, Numeric(10, 2))))
    with pytest.raises(ValueError, match="numeric result columns"):
        numeric.all(session.connection(), {})


def test_hooks_see_every_statement(session: Session, world: Any) -> None:
    query = DriverStatement(select(_USERS.c.username).where(_USERS.c.id == bindparam("uid")))
    with statements(session.get_bind()) as run:
        assert query.all(session.connection(), {"uid": world.users["mediator"].id}) == [("mediator",)]
    assert [s.verb for s in run] == ["SELECT"] and "users" in run[0].sql


def test_a_lost_connection_is_invalidated_like_sqlalchemy_does(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a server connection")
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    query = DriverStatement(select(text("1")))
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as killer:
            killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()
        with pytest.raises(OperationalError) as raised:
            query.all(conn, {})
        assert raised.value.connection_invalidated
    with engine.connect() as conn:  # the pool hands out a new connection
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
        assert query.all(conn, {}) == [(1,)]
    engine.dispose()
