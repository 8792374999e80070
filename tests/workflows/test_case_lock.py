"""The case lock's task read (``workflows.case_lock``): the same objects an ORM query with joined
loading and ``populate_existing`` would give, deferred columns kept deferred."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.workflows.test_services import new_case, open_task
from workflows import case_lock
from workflows.models import HumanTask, WorkflowInstance


def _snapshot(obj: Any) -> dict[str, Any]:
    from sqlalchemy import inspect as sa_inspect

    return {p.key: getattr(obj, p.key) for p in sa_inspect(type(obj)).column_attrs if not p.deferred}


def _case_in(session: Any, world: Any) -> tuple[int, int]:
    case = new_case(session, world)
    found = open_task(session, case).id, case.id
    session.commit()  # SQLite: let the other sessions below take the write lock
    return found


def test_task_read_matches_the_orm_and_keeps_deferred_columns_deferred(session: Any, session_factory: Any,
                                                                        core_deployed: Any) -> None:
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy.orm import joinedload

    task_id, case_id = _case_in(session, core_deployed)
    with session_factory() as orm:
        task = orm.execute(select(HumanTask).where(HumanTask.id == task_id)).scalar_one()
        wi = orm.execute(select(WorkflowInstance).options(joinedload(WorkflowInstance.process_version))
                         .where(WorkflowInstance.case_id == case_id)).scalar_one()
        expected = [_snapshot(o) for o in (task, task.case, task.case.org_unit, task.org_unit, wi,
                                           wi.process_version)]
    session.close()
    with session_factory() as session:
        tasks, wi = case_lock.read_task_rows(session, case_id, task_id)
        (task,) = tasks
        assert [_snapshot(o) for o in (task, task.case, task.case.org_unit, task.org_unit, wi,
                                       wi.process_version)] == expected
        assert not session.dirty and not session.new
        version = wi.process_version
        assert version.forms  # a deferred column loads on access, alone
        assert "spec_json" not in sa_inspect(version).dict and "files" not in sa_inspect(version).dict


def test_task_read_refreshes_objects_the_session_already_holds(session: Any, session_factory: Any,
                                                                core_deployed: Any) -> None:
    task_id, case_id = _case_in(session, core_deployed)
    session.close()
    with session_factory() as session, session_factory() as other:
        held = session.get(HumanTask, task_id)
        assert held is not None and held.claimed_by_id is None
        session.commit()  # keeps ``held`` (no expiry on commit); SQLite: frees the write lock
        other.get(HumanTask, task_id).claimed_by_id = core_deployed.users["mediator"].id  # type: ignore[union-attr]
        other.commit()
        tasks, _wi = case_lock.read_task_rows(session, case_id, task_id)
        assert tasks == [held] and held.claimed_by_id == core_deployed.users["mediator"].id
