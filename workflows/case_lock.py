"""Lock a case for a step on one of its tasks, then read the task and the case's open tasks.

Every completion starts here, so both statements are built once at import and run on the driver's
cursor with parameters (``cases.driver_sql``), and the read's rows become the session's objects
directly (``rows.attach``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, inspect, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from cases.audit import AuditChainHead, case_chain, chain_for, hold_head
from cases.driver_sql import DriverStatement
from cases.models import Case, OrgUnit
from workflows import rows
from workflows.errors import NotFound
from workflows.models import HumanTask, ProcessVersion, WorkflowInstance

_WI, _HEADS = WorkflowInstance.__table__, AuditChainHead.__table__
_CASE_OF_TASK = select(HumanTask.case_id).where(HumanTask.id == bindparam("task_id")).scalar_subquery()
# Built once, executed with parameters (a completion runs them every time).
_LOCK_CASE_AND_HEAD = DriverStatement(select(_WI.c.case_id, _HEADS.c.seq, _HEADS.c.hash)
                                      .join(_HEADS, _HEADS.c.chain == case_chain(_WI.c.case_id))
                                      .where(_WI.c.case_id == _CASE_OF_TASK).with_for_update(of=[_WI, _HEADS]))
_LOCK_CASE = DriverStatement(select(_WI.c.case_id).where(_WI.c.case_id == _CASE_OF_TASK).with_for_update())
_HT, _CASES, _OU, _PV = HumanTask.__table__, Case.__table__, OrgUnit.__table__, ProcessVersion.__table__
_CASE_UNIT, _TASK_UNIT = _OU.alias("case_unit"), _OU.alias("task_unit")
_PV_LOADED = [c for c in _PV.c if not inspect(ProcessVersion).get_property_by_column(c).deferred]
_PARTS = (("t", HumanTask, list(_HT.c)), ("w", WorkflowInstance, list(_WI.c)), ("c", Case, list(_CASES.c)),
          ("cu", OrgUnit, list(_CASE_UNIT.c)), ("tu", OrgUnit, list(_TASK_UNIT.c)), ("pv", ProcessVersion, _PV_LOADED))
_TASK_AND_OPEN_TASKS = DriverStatement(
    select(*(column.label(f"{prefix}_{column.key}") for prefix, _cls, columns in _PARTS for column in columns))
    .select_from(_HT.join(_WI, _WI.c.case_id == _HT.c.case_id).join(_CASES, _CASES.c.id == _HT.c.case_id)
                 .join(_CASE_UNIT, _CASE_UNIT.c.id == _CASES.c.org_unit_id)
                 .join(_TASK_UNIT, _TASK_UNIT.c.id == _HT.c.org_unit_id)
                 .join(_PV, _PV.c.id == _WI.c.process_version_id))
    .where(_HT.c.case_id == bindparam("case_id"), or_(_HT.c.id == bindparam("task_id"), _HT.c.state == "ready"))
    .order_by(_HT.c.id))
_SLICES: dict[str, tuple[int, int, tuple[str, ...]]] = {}  # prefix -> (start, end, attribute keys) in a row
_offset = 0
for _prefix, _cls, _columns in _PARTS:
    _SLICES[_prefix] = (_offset, _offset + len(_columns), tuple(c.key for c in _columns))
    _offset += len(_columns)


def read_task_rows(session: Session, case_id: int, human_task_id: int
                    ) -> tuple[list[HumanTask], WorkflowInstance | None]:
    """The task and the case's open tasks (by id), with their case, org units, workflow row and
    process version: one Core statement, its rows made into the session's objects with
    ``rows.attach`` (what an ORM query with joined loading and ``populate_existing`` would give,
    without its per-row machinery)."""
    session.flush()  # as an ORM query's autoflush would: pending changes are written, not overwritten
    found = _TASK_AND_OPEN_TASKS.all(session.connection(), {"case_id": case_id, "task_id": human_task_id})
    if not found:
        return [], None

    def values(row: tuple[Any, ...], prefix: str) -> dict[str, Any]:
        start, end, keys = _SLICES[prefix]
        return dict(zip(keys, row[start:end], strict=True))

    first = found[0]
    made = {prefix: rows.attach(session, cls, values(first, prefix))
            for prefix, cls, _columns in _PARTS if prefix in ("w", "c", "cu", "pv")}
    case, wi = made["c"], made["w"]
    set_committed_value(case, "org_unit", made["cu"])
    set_committed_value(wi, "process_version", made["pv"])
    tasks = []
    for row in found:
        task = rows.attach(session, HumanTask, values(row, "t"))
        unit = rows.attach(session, OrgUnit, values(row, "tu"))
        set_committed_value(task, "case", case)
        set_committed_value(task, "org_unit", unit)
        tasks.append(task)
    return tasks, wi


def lock_task(session: Session, human_task_id: int) -> tuple[HumanTask, WorkflowInstance, list[HumanTask]]:
    """Lock the task's case, then read the task and the case's open tasks; returns (task, workflow
    row, open task rows).

    The case is locked through its workflow row (``FOR UPDATE`` on PostgreSQL; SQLite transactions
    hold the write lock from ``BEGIN IMMEDIATE``) together with its audit chain head, in one Core
    statement: the workflow row first, as every writer of a case takes it. The tasks are read by a
    second statement, which on PostgreSQL sees every step committed before the lock was granted
    (a statement that waited for the lock would not); rows already in the session are refreshed
    from it, not trusted.
    """
    conn = session.connection()  # the lock is plain Core: no entities to build, no autoflush
    locked = _LOCK_CASE_AND_HEAD.first(conn, {"task_id": human_task_id})
    if locked is not None:
        case_id, seq, hash_ = locked
        hold_head(session, chain_for(case_id), seq, hash_)
    else:  # no such task, or a case whose chain has no head row yet (none before its first event)
        row = _LOCK_CASE.first(conn, {"task_id": human_task_id})
        if row is None:
            raise NotFound(f"task {human_task_id} does not exist")
        case_id = row[0]
    tasks, wi = read_task_rows(session, case_id, human_task_id)
    task = next((row for row in tasks if row.id == human_task_id), None)
    if task is None or wi is None:
        raise NotFound(f"task {human_task_id} does not exist")
    return task, wi, [row for row in tasks if row.state == "ready"]
