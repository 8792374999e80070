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



def test_a_started_workflow_row_is_inserted_once_with_its_saved_state(session: Any, core_deployed: Any) -> None:
    """``start_case`` inserts the new workflow row through ``rows.insert_object`` (queued on
    PostgreSQL): one INSERT holding the state just saved, no UPDATE after it, and the object the
    caller holds is the session's persistent, clean row."""
    from cases.audit import Actor
    from cases.services import open_case
    from tests.sql_log import statements

    mediator = core_deployed.users["mediator"]
    case = open_case(session, actor=mediator, actor_role="mediator", org_unit=core_deployed.units["village"],
                     title="t", category="neighbour")
    with statements(session.get_bind()) as run:
        started = services.start_case(session, case, Actor(mediator.id, "mediator", "mediator"),
                                      process_id="core_case")
        wi = started.instance
        session.flush()
        assert session.get(WorkflowInstance, case.id) is wi and wi not in session.dirty and wi not in session.new
        assert wi.lock_version == 1 and wi.status == "running" and wi.error_message is None
        session.commit()  # on PostgreSQL the insert is queued until here
    written = [s.verb for s in run if "workflow_instances" in s.sql and s.verb != "SELECT"]
    assert written == ["INSERT"], "\n".join(s.sql[:200] for s in run)
    stored = session.execute(select(WorkflowInstance.state, WorkflowInstance.lock_version,
                                    WorkflowInstance.process_version_id)
                             .where(WorkflowInstance.case_id == case.id)).one()
    assert stored == (wi.state, 1, wi.process_version.id)
    assert [t.spec_id for t in started.open_tasks] == [open_task(session, case).spec_id]


def test_a_started_workflow_row_rolled_back_leaves_the_session(session: Any, core_deployed: Any) -> None:
    from cases.audit import Actor
    from cases.services import open_case

    mediator = core_deployed.users["mediator"]
    case = open_case(session, actor=mediator, actor_role="mediator", org_unit=core_deployed.units["village"],
                     title="t", category="neighbour")
    session.commit()
    with pytest.raises(Boom):
        with session.begin_nested():
            services.start_case(session, case, Actor(mediator.id, "mediator", "mediator"), process_id="core_case")
            raise Boom
    assert session.get(WorkflowInstance, case.id) is None
    assert session.execute(select(WorkflowInstance.case_id).where(WorkflowInstance.case_id == case.id)).first() is None
    services.start_case(session, case, Actor(mediator.id, "mediator", "mediator"), process_id="core_case")
    session.commit()  # and it can be started again
    assert open_task(session, case).spec_id


def test_a_savepoint_rollback_keeps_rows_written_before_it(session: Any, core_deployed: Any) -> None:
    """Only what a rolled-back savepoint wrote leaves the session: the workflow row inserted before
    it (``rows.insert_object``) stays the session's object."""
    from cases.audit import Actor
    from cases.services import open_case

    mediator = core_deployed.users["mediator"]
    case = open_case(session, actor=mediator, actor_role="mediator", org_unit=core_deployed.units["village"],
                     title="t", category="neighbour")
    wi = services.start_case(session, case, Actor(mediator.id, "mediator", "mediator"),
                             process_id="core_case").instance
    with pytest.raises(Boom):
        with session.begin_nested():
            raise Boom  # an unrelated savepoint, rolled back
    assert session.get(WorkflowInstance, case.id) is wi and wi.case is case
    session.commit()
    assert session.execute(select(WorkflowInstance.lock_version)
                           .where(WorkflowInstance.case_id == case.id)).scalar_one() == 1


def test_a_case_is_started_once(session: Any, core_deployed: Any) -> None:
    """A second start is a conflict at once, in the same transaction or a later one (not a duplicate
    key at commit, which PostgreSQL would only report there, its insert being queued)."""
    from cases.audit import Actor
    from cases.services import open_case
    from workflows.errors import Conflict

    mediator = core_deployed.users["mediator"]
    actor = Actor(mediator.id, "mediator", "mediator")
    case = open_case(session, actor=mediator, actor_role="mediator", org_unit=core_deployed.units["village"],
                     title="t", category="neighbour")
    services.start_case(session, case, actor, process_id="core_case")
    with pytest.raises(Conflict, match="has a workflow already"):
        services.start_case(session, case, actor, process_id="core_case")
    session.commit()
    session.expunge_all()
    with pytest.raises(Conflict, match="has a workflow already"):
        services.start_case(session, session.get(type(case), case.id), actor, process_id="core_case")
    session.rollback()
    assert len(session.execute(select(HumanTask.id).where(HumanTask.case_id == case.id)).all()) == 1
