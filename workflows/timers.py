"""The timer sweep: fire due timer events case by case.

Each case is handled in its own transaction. On PostgreSQL the due row is taken with
``FOR UPDATE SKIP LOCKED`` so several worker processes can sweep at once without firing a timer
twice or waiting on each other; on SQLite ``BEGIN IMMEDIATE`` serialises the sweepers.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cases.audit import Actor, AuditAction, record
from cases.db import utcnow
from cases.models import Case
from workflows import projection
from workflows.engine import EngineError
from workflows.models import WorkflowInstance, WorkflowTimer
from workflows.services import load_instance

log = logging.getLogger(__name__)


def fire_due_timer(session: Session, now: datetime | None = None) -> int | None:
    """Fire the due timers of one case (the oldest due); returns its case id or None. Flushes."""
    now = now or utcnow()
    wi = session.execute(
        select(WorkflowInstance)
        .where(WorkflowInstance.next_timer_at <= now, WorkflowInstance.status == "running")
        .order_by(WorkflowInstance.next_timer_at)
        .limit(1)
        .with_for_update(skip_locked=True, of=WorkflowInstance)
    ).scalar_one_or_none()
    if wi is None:
        return None
    case = session.get(Case, wi.case_id)
    actor = Actor.system()
    due = list(session.scalars(select(WorkflowTimer).where(
        WorkflowTimer.case_id == wi.case_id, WorkflowTimer.due_at <= now)))
    instance = load_instance(session, wi)
    try:
        instance.fire_timers()
    except EngineError as exc:
        projection.mark_error(session, case, wi, exc, actor, instance)
        return wi.case_id
    for timer in due:
        record(session, actor=actor, action=AuditAction.TIMER_FIRED, case_id=wi.case_id,
               payload={"element": timer.spec_id, "name": timer.name,
                        "due_at": timer.due_at.isoformat() if timer.due_at else None})
    projection.save_step(session, case, wi, instance, actor)
    if wi.next_timer_at is not None and wi.next_timer_at <= now:
        # The engine did not consume the timer (e.g. its expression moved it): avoid a hot loop.
        log.warning("case %s: timer still due after firing; postponing the sweep by a minute", case.number)
        wi.next_timer_at = now + timedelta(minutes=1)
    session.flush()
    return wi.case_id


def sweep(session_factory: sessionmaker[Session], now: datetime | None = None, limit: int = 500) -> int:
    """Fire due timers until none is left (or ``limit`` cases); each case commits on its own."""
    fired = 0
    while fired < limit:
        with session_factory() as session:
            try:
                case_id = fire_due_timer(session, now)
                session.commit()
            except Exception as exc:
                session.rollback()
                log.exception("timer sweep failed")
                case_id = _quarantine(session_factory, now, exc)
                if case_id is None:
                    raise
        if case_id is None:
            break
        fired += 1
    return fired


def _quarantine(session_factory: sessionmaker[Session], now: datetime | None, exc: Exception) -> int | None:
    """Put the case whose timer could not be fired in error, so the sweep moves on to the others."""
    from workflows.engine import EngineError

    with session_factory() as session:
        wi = session.execute(
            select(WorkflowInstance)
            .where(WorkflowInstance.next_timer_at <= (now or utcnow()), WorkflowInstance.status == "running")
            .order_by(WorkflowInstance.next_timer_at).limit(1)
            .with_for_update(skip_locked=True, of=WorkflowInstance)).scalar_one_or_none()
        if wi is None:
            return None
        case = session.get(Case, wi.case_id)
        error = EngineError(f"the timer could not be fired: {exc.__class__.__name__}: {exc}")
        projection.mark_error(session, case, wi, error, Actor.system())
        session.commit()
        return wi.case_id

