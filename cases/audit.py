"""Append-only audit trail with a per-case SHA-256 hash chain.

Every event carries ``prev_hash`` (the hash of the chain's previous event, 64 zeros for the first)
and ``hash = sha256(canonical_json(event fields) + prev_hash)``. Events are written in the same
transaction as the change they record. Nothing updates or deletes them: on PostgreSQL a trigger
refuses it (see the migrations), and ``verify_chains`` recomputes every chain from its rows.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    cast,
    insert,
    literal,
    select,
)
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapped, Session, mapped_column

from cases.db import Base
from cases.driver_sql import DriverStatement
from cases.write_behind import execute_later

GENESIS = "0" * 64
SYSTEM_CHAIN = "system"


class AuditAction:
    """The vocabulary of audit actions."""

    CASE_OPENED = "case.opened"
    CASE_UPDATED = "case.updated"
    CASE_TRANSFERRED = "case.transferred"
    CASE_CLOSED = "case.closed"
    TASK_COMPLETED = "task.completed"
    TASK_CLAIMED = "task.claimed"
    TASK_RELEASED = "task.released"
    TASK_ASSIGNED = "task.assigned"
    DATA_CHANGED = "data.changed"
    GRANT_ADDED = "grant.added"
    DOCUMENT_GENERATED = "document.generated"
    CASE_EXPORTED = "case.exported"
    TIMER_FIRED = "timer.fired"
    SIGNAL_SENT = "case.signalled"
    ERROR = "workflow.error"
    RETRIED = "workflow.retried"
    VERSION_MIGRATED = "version.migrated"
    LOGIN_FAILED = "login.failed"
    CALENDAR_CHANGED = "calendar.changed"


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(String(40), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_username: Mapped[str] = mapped_column(String(60))
    actor_role: Mapped[str] = mapped_column(String(20))
    at: Mapped[str] = mapped_column(String(32), index=True)  # ISO 8601 UTC, exact as hashed
    action: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def fields(self) -> dict[str, Any]:
        """The hashed fields (everything but ``id``, ``hash`` and ``prev_hash``)."""
        return {"chain": self.chain, "seq": self.seq, "case_id": self.case_id,
                "actor_user_id": self.actor_user_id, "actor_username": self.actor_username,
                "actor_role": self.actor_role, "at": self.at, "action": self.action,
                "payload": self.payload}

    def to_dict(self) -> dict[str, Any]:
        return {**self.fields(), "id": self.id, "prev_hash": self.prev_hash, "hash": self.hash}


class AuditChainHead(Base):
    """The last event of each chain; its row lock serialises appends on PostgreSQL."""

    __tablename__ = "audit_chain_heads"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def event_hash(fields: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 of the canonical JSON of ``fields`` followed by ``prev_hash``."""
    return hashlib.sha256(canonical_json(fields) + prev_hash.encode("ascii")).hexdigest()


def chain_for(case_id: int | None) -> str:
    return f"case:{case_id}" if case_id is not None else SYSTEM_CHAIN


def case_chain(case_id: ColumnElement[int]) -> ColumnElement[str]:
    """``chain_for`` as an SQL expression of a case id column (to join a case's chain head)."""
    return literal("case:") + cast(case_id, String)


@dataclass(frozen=True)
class Actor:
    """Who did something: a user acting in a role, or the system (timers, migrations)."""

    user_id: int | None
    username: str
    role: str

    @classmethod
    def system(cls) -> Actor:
        return cls(None, "system", "system")


def _json_safe(payload: dict[str, Any]) -> dict[str, Any]:
    # Round-trip now so what is hashed is exactly what the JSON column will give back.
    return json.loads(json.dumps(payload, ensure_ascii=False, default=str))


_INSERT_EVENT = DriverStatement(insert(AuditEvent.__table__).inline())
# Built once and executed with parameters: no per-call statement construction or coercion. The
# insert also moves the chain's head row: a trigger does it (migration 0005), in the same statement.
# Nothing reads its result, so on PostgreSQL it waits for the transaction's next statement and goes
# with it in one round trip (``cases.write_behind``).

HEADS_KEY = "fengqiao.audit_heads"
"""``session.info`` key: the (seq, hash) of each chain head this transaction holds locked."""


def _locked_head(session: Session, chain: str) -> list[Any]:
    """The chain head as ``[seq, hash]``, locked for the rest of the transaction.

    The first append to a chain in a transaction reads the head row ``FOR UPDATE`` (created first
    when missing, without racing a concurrent creator: ``INSERT … ON CONFLICT DO NOTHING``, then
    lock whichever row won); later appends in the same transaction reuse what it holds. The
    session forgets it when any transaction or savepoint ends (``_forget_heads``).
    """
    heads: dict[str, list[Any]] = session.info.setdefault(HEADS_KEY, {})
    held = heads.get(chain)
    if held is not None:
        return held
    conn = session.connection()  # Core on the transaction's connection: no autoflush
    table = AuditChainHead.__table__
    query = select(table.c.seq, table.c.hash).where(table.c.chain == chain).with_for_update()
    row = conn.execute(query).first()
    if row is None:
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        conn.execute(upsert(table).values(chain=chain, seq=0, hash=GENESIS)
                     .on_conflict_do_nothing(index_elements=["chain"]))
        row = conn.execute(query).one()
    held = heads[chain] = [row.seq, row.hash]
    return held


def hold_head(session: Session, chain: str, seq: int, hash_: str) -> None:
    """Record a chain head the caller has just read ``FOR UPDATE`` in this transaction (e.g. in
    the same statement that locked the case), so the next append needs no read of its own."""
    session.info.setdefault(HEADS_KEY, {})[chain] = [seq, hash_]


def open_chain(session: Session, case_id: int) -> None:
    """Create a new case's chain head and hold it, in one statement (``INSERT … RETURNING``).

    Should a head row for this id exist already, nothing is held here and the first append reads
    and locks it as usual.
    """
    chain = chain_for(case_id)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    table = AuditChainHead.__table__
    row = session.connection().execute(
        upsert(table).values(chain=chain, seq=0, hash=GENESIS).on_conflict_do_nothing(index_elements=["chain"])
        .returning(table.c.seq, table.c.hash)).first()
    if row is not None:
        hold_head(session, chain, row.seq, row.hash)


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_heads(session: Session, transaction: Any) -> None:
    # Commit, rollback or a savepoint's end: what this session remembers may no longer hold. A
    # flush's own inner transaction is not such a boundary: the locks are still held after it.
    if transaction.nested or transaction.parent is None:
        session.info.pop(HEADS_KEY, None)


def record(session: Session, *, actor: Actor, action: str, case_id: int | None = None,
           payload: dict[str, Any] | None = None) -> AuditEvent:
    """Append one event to the case's chain (or the system chain).

    Written at once with one Core statement, not through the unit of work: the audit trail is on
    every write path. The database moves the chain head row with it (trigger
    ``audit_events_move_head``). Returns the event as a detached object, without its ``id``
    (not read back: the insert may be queued, see ``cases.write_behind``).
    """
    chain = chain_for(case_id)
    head = _locked_head(session, chain)
    entry = AuditEvent(
        chain=chain, seq=head[0] + 1, case_id=case_id, actor_user_id=actor.user_id,
        actor_username=actor.username, actor_role=actor.role,
        at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), action=action,
        payload=_json_safe(payload or {}), prev_hash=head[1])
    fields = entry.fields()
    entry.hash = event_hash(fields, entry.prev_hash)
    execute_later(session, _INSERT_EVENT, {**fields, "prev_hash": entry.prev_hash, "hash": entry.hash})
    head[0], head[1] = entry.seq, entry.hash
    return entry


@dataclass(frozen=True)
class ChainBreak:
    chain: str
    event_id: int
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"{self.chain}: event id {self.event_id} (seq {self.seq}): {self.reason}"


def verify_events(chain: str, events: list[AuditEvent]) -> ChainBreak | None:
    """Recompute one chain (events ordered by seq); return the first broken event or None."""
    prev = GENESIS
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            return ChainBreak(chain, event.id, event.seq, f"sequence gap: expected seq {expected_seq}")
        if event.prev_hash != prev:
            return ChainBreak(chain, event.id, event.seq, "prev_hash does not match the previous event")
        if event_hash(event.fields(), event.prev_hash) != event.hash:
            return ChainBreak(chain, event.id, event.seq, "hash does not match the event's content")
        prev = event.hash
    return None


def verify_chains(session: Session, case_id: int | None = None) -> tuple[int, list[ChainBreak]]:
    """Verify every chain (or one case's). Returns (number of chains checked, breaks).

    Besides recomputing each event, the last event must match the chain's head row (so events
    deleted from the end are noticed) and every case must have a chain (so a deleted chain is too).
    """
    from cases.models import Case

    query = select(AuditEvent.chain).distinct()
    heads_query = select(AuditChainHead)
    cases_query = select(Case.id)
    if case_id is not None:
        query = query.where(AuditEvent.chain == chain_for(case_id))
        heads_query = heads_query.where(AuditChainHead.chain == chain_for(case_id))
        cases_query = cases_query.where(Case.id == case_id)
    chains = sorted(session.scalars(query))
    heads = {h.chain: h for h in session.scalars(heads_query.execution_options(populate_existing=True))}
    breaks: list[ChainBreak] = []
    for chain in chains:
        # populate_existing: verify what the database holds, not objects cached in the session.
        events = list(session.scalars(
            select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq)
            .execution_options(populate_existing=True)))
        found = verify_events(chain, events)
        head = heads.get(chain)
        if found is None and (head is None or (head.seq, head.hash) != (events[-1].seq, events[-1].hash)):
            found = ChainBreak(chain, events[-1].id, events[-1].seq,
                               f"the chain ends at seq {events[-1].seq} but its head records seq "
                               f"{head.seq if head else 'none'}: events are missing from the end")
        if found:
            breaks.append(found)
    for chain, head in sorted(heads.items()):
        if chain not in chains and head.seq > 0:
            breaks.append(ChainBreak(chain, 0, head.seq, f"the head records {head.seq} events but none exist"))
    for cid in session.scalars(cases_query):
        if chain_for(cid) not in chains and chain_for(cid) not in heads:
            breaks.append(ChainBreak(chain_for(cid), 0, 0, "the case has no audit events at all"))
    return len(chains), breaks
