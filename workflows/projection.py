"""Write an engine step's results into the database: state, human tasks, timers, case fields."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, insert, inspect, select
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from cases.audit import Actor, AuditAction, record
from cases.db import utcnow
from cases.driver_sql import DriverStatement
from cases.models import RISK_COLOURS, Case, CaseStatus, Level, OrgUnit
from cases.roles import role_for_lane
from cases.write_behind import execute_later
from workflows import cache, state_rows
from workflows import rows as rows_
from workflows.engine import EngineError, Instance
from workflows.models import HumanTask, WorkflowInstance, WorkflowTimer

# Task-data keys the diagrams set that are copied onto the case after every step.
SYNCED_KEYS = ("risk_colour", "outcome")
SYNCED_LEVELS = {str(level) for level in Level}


def ready_tasks(session: Session, case_id: int) -> list[HumanTask]:
    """The case's open tasks. Related rows load lazily: the case and its org units are normally
    already in the session, so no joins are needed."""
    return list(session.scalars(select(HumanTask).options(lazyload("*")).where(
        HumanTask.case_id == case_id, HumanTask.state == "ready").order_by(HumanTask.id)))


def _case_field_changes(case: Case, data: dict[str, Any]) -> dict[str, Any]:
    """The case columns the step's data changes (``SYNCED_KEYS``), by attribute name."""
    changes: dict[str, Any] = {}
    colour = data.get("risk_colour")
    if colour in RISK_COLOURS and case.risk_colour != colour:
        changes["risk_colour"] = colour
    outcome = data.get("outcome")
    if isinstance(outcome, str) and outcome and case.outcome != outcome[:40]:
        changes["outcome"] = outcome[:40]
    return changes


def persist(session: Session, case: Case, wi: WorkflowInstance, instance: Instance,
            actor: Actor, held_rows: list[HumanTask] | None = None) -> list[HumanTask]:
    """Store the state and project READY human tasks and waiting timers (flush only).

    ``held_rows``: the case's open task rows when the caller has already read them (under its
    lock), else they are read here. Returns the case's open human tasks after the step. The state, task
    and timer rows are then written through Core (``workflows.rows``), not the unit of work.
    """
    lock_version = (wi.lock_version or 0) + 1
    new_workflow = not inspect(wi).persistent  # a case being started: its row is inserted below
    # A workflow not saved before (lock_version 0, see ``services.start_case``) has no task rows.
    header, state_format = state_rows.save(session, case.id, instance, new_workflow=not wi.lock_version)
    infos = {info.task_id: info for info in instance.ready_human_tasks()}
    timers = instance.waiting_timers()
    # While a called process waits (e.g. a red lead waiting for the police inside prevention), the
    # top workflow's data is stale: the open tasks carry the latest values (the DMN's colour).
    current = dict(instance.data)
    for task_id in infos:
        current.update({k: v for k, v in instance.task_data(task_id).items() if k in SYNCED_KEYS})
    completed = instance.is_completed()

    if held_rows is None:
        held_rows = ready_tasks(session, case.id)
    # Pending in-memory state wins over what was read: the task just completed is no longer open.
    existing = {row.task_id: row for row in held_rows if row.state == "ready"}

    now = utcnow()
    due = min((t.due_at for t in timers), default=None)
    if timers or wi.next_timer_at is not None or wi.status is None:
        _replace_timers(session, case.id, timers)
    case_changes = _case_field_changes(case, current)

    open_rows = []
    for task_id, row in existing.items():
        if task_id in infos:
            open_rows.append(row)
        else:  # e.g. interrupted by a boundary timer or a withdrawal
            rows_.update_row(session, row, {"state": "cancelled"})
    for task_id, info in infos.items():
        if task_id in existing:
            continue
        role = role_for_lane(info.lane)
        values = {"spec_id": info.spec_id, "process_id": info.process_id, "name": info.name,
                  "lane": info.lane, "role": str(role) if role else "admin", "org_unit_id": case.org_unit_id,
                  "form_key": info.form_key, "documents": info.documents, "case_action": info.case_action,
                  "instructions": info.instructions, "due_at": due, "state": "ready", "claimed_by_id": None,
                  "completed_by_id": None, "completed_at": None}
        # An upsert: a task can come back under the same engine id (e.g. after a retry re-opens
        # the step that was cancelled when the case went into error), and then its row is reused.
        row = rows_.upsert_row(session, HumanTask, {**values, "case_id": case.id, "task_id": task_id,
                                                    "draft": None, "created_at": now},
                               key="task_id", update_columns=tuple(values))
        # Already loaded: reading them back (inbox, API answer) needs no query.
        set_committed_value(row, "case", case)
        set_committed_value(row, "org_unit", case.org_unit)
        open_rows.append(row)
        if case.stage != info.process_id:
            case_changes["stage"] = info.process_id
    status = "completed" if completed else "running"
    saved = {"state": header, "serializer_version": state_format, "lock_version": lock_version,
             "completed_steps": instance.completed_task_count(), "updated_at": now, "next_timer_at": due,
             "status": status}
    if new_workflow:  # inserted once, as it now is (not inserted, then updated)
        rows_.insert_object(session, wi, {**saved, "case_id": case.id, "process_version_id": wi.process_version.id,
                                          "error_message": None, "error_element": None})
    else:
        rows_.update_row(session, wi, saved)
    closing = completed and case.status != CaseStatus.CLOSED
    if closing:
        case_changes.update(status=CaseStatus.CLOSED, closed_at=now, closed_level=case.closed_level or case.level)
    if case_changes:  # through Core like the rows above (queued on PostgreSQL), not the unit of work
        rows_.update_row(session, case, {**case_changes, "updated_at": now})
    if closing:
        record(session, actor=actor, action=AuditAction.CASE_CLOSED, case_id=case.id,
               payload={"outcome": case.outcome, "level": case.closed_level})
    session.flush()
    cache.stage(session, case.id, cache.state_token(wi.lock_version, wi.process_version.sha256,
                                                    wi.updated_at), instance)
    return open_rows


_TIMERS = WorkflowTimer.__table__
_DELETE_TIMERS = DriverStatement(delete(_TIMERS).where(_TIMERS.c.case_id == bindparam("timer_case_id")))
_INSERT_TIMERS = DriverStatement(insert(_TIMERS).inline())


def _replace_timers(session: Session, case_id: int, timers: list[Any]) -> None:
    """Replace the case's waiting timers (Core, queued on PostgreSQL: no unit of work)."""
    execute_later(session, _DELETE_TIMERS, {"timer_case_id": case_id})
    for obj in [o for o in session.identity_map.values() if isinstance(o, WorkflowTimer)]:
        if obj.case_id == case_id:
            session.expunge(obj)  # as an ORM delete would: the rows are gone
    if timers:
        execute_later(session, _INSERT_TIMERS, [
            {"case_id": case_id, "task_id": t.task_id, "spec_id": t.spec_id, "name": t.name,
             "documentation": t.documentation, "due_at": t.due_at} for t in timers])


def save_step(session: Session, case: Case, wi: WorkflowInstance, instance: Instance,
              actor: Actor, held_rows: list[HumanTask] | None = None) -> list[HumanTask] | None:
    """``persist``, or — when the new state cannot be stored — the case in error (None)."""
    try:
        return persist(session, case, wi, instance, actor, held_rows)
    except EngineError as exc:  # e.g. diagram code left task data that cannot be stored
        mark_error(session, case, wi, exc, actor)
        return None


def mark_error(session: Session, case: Case, wi: WorkflowInstance, exc: EngineError, actor: Actor,
               instance: Instance | None = None) -> None:
    """Put the case in a visible error state, keeping the failed state so an admin can retry.

    When the failed state cannot be stored either, the last saved state is kept.
    """
    if inspect(wi).transient:  # a case whose very first step failed (``services.start_case``)
        session.add(wi)
    if instance is not None:
        try:
            state = instance.dump()
        except EngineError:
            pass
        else:
            state_rows.forget(session, case.id, instance)
            wi.state, wi.serializer_version = state, state_rows.FULL_FORMAT
    wi.status = "error"
    wi.error_message = exc.message[:2000]
    wi.error_element = exc.element_id
    wi.next_timer_at = None  # no timer fires while the case is in error; retry re-projects them
    _replace_timers(session, case.id, [])
    wi.lock_version = (wi.lock_version or 0) + 1
    case.status = CaseStatus.ERROR
    for row in ready_tasks(session, case.id):
        row.state = "cancelled"
    record(session, actor=actor, action=AuditAction.ERROR, case_id=case.id,
           payload={"element": exc.element_id, "message": exc.message[:2000]})
    session.flush()
    cache.unstage(session, case.id)


def _upper_unit(unit: OrgUnit) -> OrgUnit | None:
    """The nearest ancestor one rung up the ladder (village → town → county)."""
    node = unit.parent
    while node is not None and node.level == unit.level:
        node = node.parent
    return node


def transfer_upward(session: Session, case: Case, actor: Actor, reason: str = "") -> OrgUnit | None:
    """Move the case to the next level's unit and re-route its open tasks there."""
    target = _upper_unit(case.org_unit)
    if target is None:
        return None
    before = {"org_unit": case.org_unit.code, "level": case.level}
    case.org_unit = target
    case.org_unit_id = target.id
    case.level = str(target.level)
    for row in ready_tasks(session, case.id):
        row.org_unit_id = target.id
        row.claimed_by_id = None
    record(session, actor=actor, action=AuditAction.CASE_TRANSFERRED, case_id=case.id,
           payload={"before": before, "after": {"org_unit": target.code, "level": case.level},
                    "reason": reason})
    session.flush()
    return target


def apply_case_action(session: Session, case: Case, task: HumanTask, data: dict[str, Any],
                      actor: Actor) -> None:
    """Apply the domain effect a task declares (``caseAction`` property) after it completes."""
    action = task.case_action
    if action == "transfer_upward":
        wanted = data.get("transfer_upward", data.get("transfer", True))
        if wanted in (True, "yes", "true", "transfer"):
            transfer_upward(session, case, actor, str(data.get("transfer_reason", "")))
    elif action in ("close", "withdraw"):
        case.closed_level = case.level
