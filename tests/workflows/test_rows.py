"""Rows written through Core (``workflows.rows``) are marked committed on the ORM objects; when a
savepoint rolls back, the session must not go on serving values the database no longer holds, nor
objects for rows that no longer exist."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.workflows.test_services import new_case, open_task
from workflows import services
from workflows.models import HumanTask, WorkflowInstance


class Boom(Exception):
    pass


KEEP: list[Any] = []


def _complete_in_rolled_back_savepoint(session: Any, w: Any) -> tuple[Any, Any, int]:
    KEEP.clear()
    case = new_case(session, w)
    task = open_task(session, case)
    wi = session.get(WorkflowInstance, case.id)
    lock_before = wi.lock_version
    with pytest.raises(Boom):
        with session.begin_nested():
            done = services.complete_task(session, human_task_id=task.id, user=w.users["mediator"],
                                          data={"summary": "x", "urgent": False})
            KEEP.extend(done.next_tasks)  # the caller still holds what the step returned
            raise Boom  # e.g. a later step of the same request fails; the savepoint is undone
    return case, task, lock_before


def test_savepoint_rollback_reverts_the_completed_task_in_the_session(session: Any, core_deployed: Any) -> None:
    case, task, _ = _complete_in_rolled_back_savepoint(session, core_deployed)
    in_db = session.execute(select(HumanTask.state).where(HumanTask.id == task.id)).scalar_one()
    assert in_db == "ready"
    assert task.state == in_db, "the session still says 'completed' after the savepoint was rolled back"
    services.complete_task(session, human_task_id=task.id, user=core_deployed.users["mediator"],
                           data={"summary": "x", "urgent": False})  # and the step can be taken again
    session.commit()
    assert open_task(session, case).spec_id == "mediate"


def test_savepoint_rollback_leaves_no_ghost_task_row(session: Any, core_deployed: Any) -> None:
    case, task, _ = _complete_in_rolled_back_savepoint(session, core_deployed)
    assert KEEP, "complete_task should have opened the next task (mediate)"
    ghost = KEEP[0]
    assert session.execute(select(HumanTask.id).where(HumanTask.id == ghost.id)).first() is None
    # session.get answers from the identity map: a task whose row the savepoint rolled back
    assert session.get(HumanTask, ghost.id) is None, (
        f"session.get returns task {ghost.id} ({ghost.spec_id}, {ghost.state}) that does not exist")

