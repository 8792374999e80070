"""A case's engine state stored as a header and one row per engine task.

``workflow_instances.state`` holds the state JSON with every ``"tasks"`` object empty (serializer
version ``ROWS_FORMAT``); each task's fragment is a ``workflow_task_states`` row, in the order the
engine created the tasks (which ``from_dict`` relies on: parents before children). A save writes
only the rows whose JSON changed, so a long case no longer rewrites its whole history every step.
States saved in the earlier format (``FULL_FORMAT``: the whole JSON in ``state``) still load and
move to rows on their next save. ``Instance.stored`` remembers what the database holds; the instance
cache only ever reuses an instance whose transaction committed, so that memory stays true.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from cases.driver_sql import DriverStatement
from cases.write_behind import execute_later
from workflows.engine import SERIALIZER_VERSION, Definition, Instance
from workflows.models import WorkflowInstance, WorkflowTaskState

FULL_FORMAT = SERIALIZER_VERSION
ROWS_FORMAT = "spiff-1.5+rows-1"

_T = WorkflowTaskState.__table__
_SELECT = DriverStatement(select(_T.c.task_id, _T.c.workflow_key, _T.c.ord, _T.c.body).where(
    _T.c.case_id == bindparam("case")).order_by(_T.c.ord))
_INSERT = DriverStatement(insert(_T).inline())
_UPDATE = DriverStatement(update(_T).where(_T.c.case_id == bindparam("case"), _T.c.task_id == bindparam("tid"))
                          .values(body=bindparam("text")))
_DELETE_ONE = DriverStatement(delete(_T).where(_T.c.case_id == bindparam("case"), _T.c.task_id == bindparam("tid")))
_DELETE_ALL = DriverStatement(delete(_T).where(_T.c.case_id == bindparam("case")))


@dataclass
class StoredTasks:
    """The task rows the database holds for one case: fragment text and order by task id."""

    texts: dict[str, str] = field(default_factory=dict)
    next_ord: int = 0


def load(session: Session, wi: WorkflowInstance, definition: Definition,
         holidays: Any = (), workdays: Any = ()) -> Instance:
    """The case's instance from what is stored, in either format."""
    if wi.serializer_version != ROWS_FORMAT:
        return Instance.load(definition, wi.state, holidays, workdays)
    dct = json.loads(wi.state)
    stored = StoredTasks()
    grouped: dict[str, list[str]] = {}
    for task_id, key, ord_, body in _SELECT.all(session.connection(), {"case": wi.case_id}):
        grouped.setdefault(key, []).append(body)
        stored.texts[task_id] = body
        stored.next_ord = ord_ + 1
    for key, texts in grouped.items():
        target = dct if key == "" else dct["subprocesses"].get(key)
        if target is None:
            raise ValueError(f"case {wi.case_id}: task rows name subprocess {key}, which the state lacks")
        target["tasks"] = json.loads("{" + ", ".join(texts) + "}")
    instance = Instance.load(definition, dct, holidays, workdays)
    instance.stored = stored
    return instance


def save(session: Session, case_id: int, instance: Instance, new_workflow: bool = False) -> tuple[str, str]:
    """Write the task rows that changed since ``instance.stored``; returns (header, format) for
    ``workflow_instances.state`` and ``serializer_version``. Raises ``EngineError`` when the data
    cannot be stored (nothing is written then). ``new_workflow``: the case has no task rows yet
    (nothing to delete first)."""
    header, tasks = instance.dump_parts()
    stored = instance.stored
    if stored is None:  # a new case, or a state saved in the earlier format
        if not new_workflow:
            execute_later(session, _DELETE_ALL, {"case": case_id})
        stored = StoredTasks()
    texts, next_ord = stored.texts, stored.next_ord
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    present = 0
    for key, fragments in tasks.items():
        for text in fragments:
            tid = text[1:37]
            old = texts.get(tid)
            if old is None:
                new.append({"case_id": case_id, "task_id": tid, "ord": next_ord, "workflow_key": key, "body": text})
                next_ord += 1
            else:
                present += 1
                if old is not text and old != text:
                    changed.append({"case": case_id, "tid": tid, "text": text})
    removed: list[str] = []
    if present < len(texts):
        current = {text[1:37] for fragments in tasks.values() for text in fragments}
        removed = [tid for tid in texts if tid not in current]
    # Queued on PostgreSQL: they go with the step's other writes (``cases.write_behind``).
    if removed:
        execute_later(session, _DELETE_ONE, [{"case": case_id, "tid": tid} for tid in removed])
    if changed:
        execute_later(session, _UPDATE, changed)
    if new:
        execute_later(session, _INSERT, new)
    for tid in removed:
        del texts[tid]
    for row in changed:
        texts[row["tid"]] = row["text"]
    for row in new:
        texts[row["task_id"]] = row["body"]
    stored.next_ord = next_ord
    instance.stored = stored
    return header, ROWS_FORMAT


def forget(session: Session, case_id: int, instance: Instance | None) -> None:
    """Drop the case's task rows (its state is about to be stored whole, in ``FULL_FORMAT``)."""
    _DELETE_ALL.run(session.connection(), {"case": case_id})
    if instance is not None:
        instance.stored = None
