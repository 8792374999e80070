"""The audit hash chain: append-only in the database, and verification names a tampered event."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import event, select, text
from sqlalchemy.exc import DBAPIError

from cases.audit import GENESIS, Actor, AuditEvent, event_hash, open_chain, record, verify_chains
from web.cli import cli


def _events(session: Any, n: int = 3) -> list[AuditEvent]:
    """``n`` events recorded and committed, as ``record`` returned them, their ids looked up (``record``
    does not read them back: on PostgreSQL its insert is queued)."""
    actor = Actor(None, "tester", "admin")
    events = [record(session, actor=actor, action="data.changed", payload={"i": i, "名": "张三"})
              for i in range(n)]
    assert all(e.id is None for e in events)
    session.commit()
    ids = dict(session.execute(select(AuditEvent.seq, AuditEvent.id).where(AuditEvent.chain == events[0].chain)).all())
    for e in events:
        e.id = ids[e.seq]
    return events


def test_chain_links_and_hashes(session: Any) -> None:
    events = _events(session)
    assert events[0].prev_hash == GENESIS
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert all(event_hash(e.fields(), e.prev_hash) == e.hash for e in events)
    assert verify_chains(session) == (1, [])


def test_insert_moves_the_chain_head_in_the_database(session: Any) -> None:
    """The head row follows every appended event by trigger, whoever inserts it."""
    events = _events(session, 2)
    head = session.execute(text("SELECT seq, hash FROM audit_chain_heads WHERE chain = :c"),
                           {"c": events[-1].chain}).one()
    assert (head.seq, head.hash) == (2, events[-1].hash)
    session.execute(text("INSERT INTO audit_events (chain, seq, actor_username, actor_role, at, action, "
                         "payload, prev_hash, hash) VALUES (:c, 3, 'x', 'x', '2026', 'x', '{}', :p, 'forged')"),
                    {"c": events[-1].chain, "p": events[-1].hash})
    head = session.execute(text("SELECT seq, hash FROM audit_chain_heads WHERE chain = :c"),
                           {"c": events[-1].chain}).one()
    assert (head.seq, head.hash) == (3, "forged")
    session.rollback()


def test_database_refuses_update_and_delete(session: Any) -> None:
    _events(session, 1)
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
        session.rollback()


def _tamper(session: Any, database_url: str, event_id: int) -> None:
    """Edit one row behind the application's back (the trigger must be bypassed to do so)."""
    if database_url.startswith("postgresql"):
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        session.execute(text("UPDATE audit_events SET payload = '{\"i\": 99}' WHERE id = :id"), {"id": event_id})
        session.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
    else:
        session.execute(text("DROP TRIGGER audit_events_no_update"))
        session.execute(text("UPDATE audit_events SET payload = '{\"i\": 99}' WHERE id = :id"), {"id": event_id})
    session.commit()


def test_edited_row_is_named_by_verify(session: Any, database_url: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    events = _events(session)
    _tamper(session, database_url, events[1].id)
    checked, breaks = verify_chains(session)
    assert len(breaks) == 1 and breaks[0].event_id == events[1].id
    assert "hash does not match" in breaks[0].reason
    session.rollback()
    monkeypatch.setenv("FENGQIAO_DATABASE_URL", database_url)
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"event id {events[1].id} (seq 2)" in result.output
    assert "Traceback" not in result.output


def _delete_events(session: Any, database_url: str, where: str) -> None:
    if database_url.startswith("postgresql"):
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        session.execute(text(f"DELETE FROM audit_events WHERE {where}"))
        session.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
    else:
        session.execute(text("DROP TRIGGER audit_events_no_delete"))
        session.execute(text(f"DELETE FROM audit_events WHERE {where}"))
    session.commit()


def test_events_deleted_from_the_end_are_noticed(session: Any, database_url: str) -> None:
    events = _events(session)
    _delete_events(session, database_url, f"id = {events[-1].id}")
    breaks = verify_chains(session)[1]
    assert len(breaks) == 1 and "missing from the end" in breaks[0].reason


def test_a_deleted_chain_is_noticed(session: Any, database_url: str) -> None:
    _events(session)
    _delete_events(session, database_url, "1 = 1")
    breaks = verify_chains(session)[1]
    assert len(breaks) == 1 and "none exist" in breaks[0].reason


def test_first_appends_to_a_new_chain_do_not_collide(session_factory: Any, session: Any) -> None:
    import threading

    session.rollback()
    errors: list[Exception] = []

    def append() -> None:
        with session_factory() as s:
            try:
                record(s, actor=Actor(None, "t", "anonymous"), action="login.failed", payload={})
                s.commit()
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=append) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert verify_chains(session) == (1, [])


def _head_reads(session: Any) -> list[str]:
    reads: list[str] = []
    event.listen(session.get_bind(), "before_cursor_execute",
                 lambda *args: reads.append(args[2]) if "FROM audit_chain_heads" in args[2] else None)
    return reads


def test_a_held_head_survives_a_flush_but_not_a_savepoint_rollback(session: Any) -> None:
    actor = Actor(None, "tester", "admin")
    record(session, actor=actor, action="data.changed", payload={"i": 1})
    reads = _head_reads(session)
    session.flush()  # the unit of work's inner transaction ends here: the lock is still held
    record(session, actor=actor, action="data.changed", payload={"i": 2})
    assert reads == []
    savepoint = session.begin_nested()
    record(session, actor=actor, action="data.changed", payload={"i": 3})
    savepoint.rollback()  # the head this savepoint moved is no longer true: read it again
    third = record(session, actor=actor, action="data.changed", payload={"i": 3})
    assert len(reads) == 1 and third.seq == 3
    session.commit()
    assert verify_chains(session) == (1, [])


def test_open_chain_creates_and_holds_a_new_case_chain(session: Any) -> None:
    from cases.services import create_user, open_case
    from web.demo import build_org_tree

    units = build_org_tree(session)
    user = create_user(session, username="m", password="pw-m-12345", memberships=[("mediator", units["village"])])
    session.commit()
    reads = _head_reads(session)
    case = open_case(session, actor=user, actor_role="mediator", org_unit=units["village"], title="t",
                     category="neighbour")
    second = record(session, actor=Actor(user.id, "m", "mediator"), action="data.changed", case_id=case.id)
    assert reads == [] and second.seq == 2  # created, held and appended to without reading the head
    session.commit()
    open_chain(session, case.id)  # the chain exists now: nothing is held, the next append reads it
    third = record(session, actor=Actor(user.id, "m", "mediator"), action="data.changed", case_id=case.id)
    assert third.seq == 3 and third.prev_hash == second.hash and len(reads) == 1
    session.commit()
    assert verify_chains(session, case.id) == (1, [])
