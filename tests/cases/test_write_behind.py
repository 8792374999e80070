"""Queued writes (``cases.write_behind``): sent in order, in the same transaction, in one round trip."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError, PendingRollbackError
from sqlalchemy.orm import Session, sessionmaker

from cases import write_behind
from cases.driver_sql import DriverStatement
from cases.models import OrgUnit
from cases.write_behind import execute_later, pending, send_pending
from tests.sql_log import statements

_OU = OrgUnit.__table__
_RENAME = DriverStatement(update(_OU).where(_OU.c.code == bindparam("unit")).values(name_en=bindparam("name")))
_ADD = DriverStatement(insert(_OU).inline())


def _queues(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _unit(session: Session, code: str = "u1") -> None:
    session.execute(insert(_OU).values(code=code, name_zh="甲", name_en="a", kind="village", path="/"))
    session.commit()


def _name(session: Session, code: str = "u1") -> str:
    return session.execute(select(_OU.c.name_en).where(_OU.c.code == code)).scalar_one()


def test_queued_writes_reach_the_next_statement_in_order(session: Session) -> None:
    _unit(session)
    execute_later(session, _RENAME, {"unit": "u1", "name": "first"})
    execute_later(session, _RENAME, {"unit": "u1", "name": "second"})
    assert pending(session) == (2 if _queues(session) else 0)
    assert _name(session) == "second"  # the read sends the queue first, in issue order
    assert pending(session) == 0
    session.commit()


def test_commit_sends_the_queue(session: Session, session_factory: sessionmaker[Session]) -> None:
    _unit(session)
    execute_later(session, _RENAME, {"unit": "u1", "name": "committed"})
    execute_later(session, _ADD, [{"code": "u2", "name_zh": "乙", "name_en": "b", "kind": "village", "path": "/"},
                                  {"code": "u3", "name_zh": "丙", "name_en": "c", "kind": "village", "path": "/"}])
    session.commit()
    with session_factory() as other:
        assert _name(other) == "committed"
        assert sorted(other.scalars(select(_OU.c.code))) == ["u1", "u2", "u3"]


def test_rollback_drops_the_queue(session: Session) -> None:
    _unit(session)
    execute_later(session, _RENAME, {"unit": "u1", "name": "dropped"})
    session.rollback()
    assert pending(session) == 0
    assert _name(session) == "a"


def test_a_savepoint_rollback_undoes_what_was_queued_inside_it(session: Session) -> None:
    _unit(session)
    execute_later(session, _RENAME, {"unit": "u1", "name": "outer"})
    savepoint = session.begin_nested()
    execute_later(session, _RENAME, {"unit": "u1", "name": "inner"})
    savepoint.rollback()
    assert _name(session) == "outer"
    session.commit()


def test_driver_level_sql_also_sends_the_queue_first(session: Session) -> None:
    _unit(session)
    execute_later(session, _RENAME, {"unit": "u1", "name": "seen"})
    found = session.connection().exec_driver_sql("SELECT name_en FROM org_units WHERE code = 'u1'").scalar_one()
    assert found == "seen"
    session.commit()


def test_the_queue_goes_in_one_pipeline(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    if not _queues(session):
        pytest.skip("SQLite runs each statement at once")
    _unit(session)
    pipelines: list[int] = []
    send = write_behind.send

    def counting_send(conn: Any) -> None:
        pipelines.append(len(conn.info.get(write_behind.QUEUE_KEY, ())))
        send(conn)

    monkeypatch.setattr(write_behind, "send", counting_send)
    with statements(session.get_bind()) as run:
        for i in range(5):
            execute_later(session, _RENAME, {"unit": "u1", "name": f"n{i}"})
        assert run == []  # nothing sent yet
        assert _name(session) == "n4"
    assert pipelines == [5]  # the five updates in one pipeline, sent before the read
    assert [s.verb for s in run] == ["UPDATE"] * 5 + ["SELECT"]
    session.commit()


def test_a_failed_queued_write_is_raised_by_the_statement_that_sends_it(session: Session) -> None:
    _unit(session)
    duplicate = {"code": "u1", "name_zh": "重复", "name_en": "dup", "kind": "village", "path": "/"}
    if not _queues(session):
        with pytest.raises(IntegrityError):  # at once
            execute_later(session, _ADD, duplicate)
    else:
        execute_later(session, _ADD, duplicate)
        with pytest.raises(IntegrityError) as raised:
            _name(session)
        # the statement the server's error is about, as sent (not the other queued ones)
        assert "(queued writes) INSERT INTO org_units (code, name_zh, name_en, kind, path)" in str(raised.value)
    session.rollback()
    assert pending(session) == 0
    assert _name(session) == "a"  # the transaction is usable again after the rollback


def test_a_failed_queued_write_fails_the_commit(session: Session, session_factory: sessionmaker[Session]) -> None:
    if not _queues(session):
        pytest.skip("SQLite raises at once")
    _unit(session)
    execute_later(session, _RENAME, {"unit": "u1", "name": "lost"})
    execute_later(session, _ADD, {"code": "u1", "name_zh": "重复", "name_en": "dup", "kind": "village", "path": "/"})
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    with session_factory() as other:
        assert _name(other) == "a"  # nothing of the failed transaction was kept


def test_a_connection_returned_with_a_queue_does_not_carry_it_to_the_next_user(
        session_factory: sessionmaker[Session], session: Session) -> None:
    _unit(session)
    session.close()
    first = session_factory()
    execute_later(first, _RENAME, {"unit": "u1", "name": "abandoned"})
    first.close()  # no commit, no rollback of its own: the pool resets the connection
    with session_factory() as second:
        assert pending(second) == 0
        assert _name(second) == "a"
        second.commit()


def test_statements_with_a_result_are_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="RETURNING"):
        execute_later(session, DriverStatement(update(_OU).values(name_en="x").returning(_OU.c.id)), {})
    with pytest.raises(ValueError, match="inline"):
        execute_later(session, DriverStatement(insert(_OU)), {"code": "u9", "name_zh": "x", "name_en": "x",
                                                              "kind": "village"})
    with pytest.raises(ValueError, match="RETURNING"):
        execute_later(session, DriverStatement(select(_OU.c.id)), {})  # type: ignore[arg-type]
    assert session.execute(text("SELECT count(*) FROM org_units")).scalar_one() == 0


def test_a_failed_write_inside_a_rolled_back_savepoint_is_undone_unsent(session: Session) -> None:
    _unit(session)
    execute_later(session, _RENAME, {"unit": "u1", "name": "kept"})

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon):  # the caller's own error, not the write that was never sent
        with session.begin_nested():
            execute_later(session, _ADD, {"code": "u1", "name_zh": "重复", "name_en": "dup", "kind": "village",
                                          "path": "/"} if _queues(session) else
                          {"code": "u2", "name_zh": "乙", "name_en": "b", "kind": "village", "path": "/"})
            raise Abandon
    assert pending(session) == 0
    assert _name(session) == "kept"  # the outer transaction goes on
    session.commit()
    assert session.execute(text("SELECT count(*) FROM org_units")).scalar_one() == 1


def test_a_transaction_whose_error_was_swallowed_is_not_reported_committed(
        session: Session, session_factory: sessionmaker[Session]) -> None:
    if not _queues(session):
        pytest.skip("SQLite raised at once, where the write was made")
    _unit(session)
    execute_later(session, _RENAME, {"unit": "u1", "name": "lost"})
    execute_later(session, _ADD, {"code": "u1", "name_zh": "重复", "name_en": "dup", "kind": "village", "path": "/"})
    try:
        _name(session)  # sends the queue: the insert fails, and someone catches it broadly
    except Exception:
        pass
    with pytest.raises(PendingRollbackError, match="failed earlier"):
        session.commit()  # PostgreSQL would answer COMMIT with a quiet ROLLBACK
    session.rollback()
    with session_factory() as other:
        assert _name(other) == "a"


def test_send_pending_sends_now(session: Session) -> None:
    _unit(session)
    execute_later(session, _RENAME, {"unit": "u1", "name": "now"})
    send_pending(session)
    assert pending(session) == 0
    assert _name(session) == "now"
    session.commit()


def test_a_failed_write_sent_at_a_savepoint_release_leaves_the_outer_transaction_usable(session: Session) -> None:
    _unit(session)
    execute_later(session, _RENAME, {"unit": "u1", "name": "outer"})
    duplicate = {"code": "u1", "name_zh": "重复", "name_en": "dup", "kind": "village", "path": "/"}
    with pytest.raises(IntegrityError):
        with session.begin_nested():  # ends normally: RELEASE SAVEPOINT sends what it queued
            execute_later(session, _ADD, duplicate)
    assert _name(session) == "outer"  # the savepoint's work is undone, the outer write kept
    session.commit()
    assert _name(session) == "outer"
