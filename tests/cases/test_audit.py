"""The audit hash chain: append-only in the database, and verification names a tampered event."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cases.audit import GENESIS, Actor, AuditEvent, event_hash, record, verify_chains
from web.cli import cli


def _events(session: Any, n: int = 3) -> list[AuditEvent]:
    actor = Actor(None, "tester", "admin")
    events = [record(session, actor=actor, action="data.changed", payload={"i": i, "名": "张三"})
              for i in range(n)]
    session.commit()
    return events


def test_chain_links_and_hashes(session: Any) -> None:
    events = _events(session)
    assert events[0].prev_hash == GENESIS
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert all(event_hash(e.fields(), e.prev_hash) == e.hash for e in events)
    assert verify_chains(session) == (1, [])


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
