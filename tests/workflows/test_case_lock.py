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


def test_a_pending_change_is_written_not_overwritten(session: Any, core_deployed: Any) -> None:
    from sqlalchemy import text

    from workflows import services

    case = new_case(session, core_deployed)
    task = open_task(session, case)
    case.title = "changed before completing"  # pending, not flushed
    services.complete_task(session, human_task_id=task.id, user=core_deployed.users["mediator"],
                           data={"summary": "x", "urgent": False})
    session.commit()
    assert session.execute(text("SELECT title FROM cases WHERE id = :i"), {"i": case.id}).scalar_one() == \
        "changed before completing"


def test_a_claim_made_elsewhere_is_a_conflict_even_after_reading_the_claimant(
        session: Any, session_factory: Any, core_deployed: Any) -> None:
    import pytest

    from cases.models import User
    from workflows import services
    from workflows.errors import Conflict

    case = new_case(session, core_deployed)
    task = open_task(session, case)
    assert task.claimed_by is None  # loaded in this session (a page showed who holds the task)
    session.commit()
    with session_factory() as other:
        services.claim_task(other, human_task_id=task.id, user=other.get(User, core_deployed.users["admin"].id))
        other.commit()
    with pytest.raises(Conflict, match="is claimed by"):
        services.complete_task(session, human_task_id=task.id, user=core_deployed.users["mediator"],
                               data={"summary": "x", "urgent": False})


def test_parties_replaced_elsewhere_are_what_the_step_replaces_and_audits(
        session: Any, session_factory: Any, core_deployed: Any) -> None:
    from sqlalchemy import text

    from cases.audit import AuditEvent, chain_for
    from cases.models import Case
    from cases.services import replace_parties
    from workflows import services

    case = new_case(session, core_deployed)
    task = open_task(session, case)
    assert [p.name for p in case.parties] == ["张三", "李四"]  # loaded in this session
    session.commit()
    with session_factory() as other:
        replace_parties(other, other.get(Case, case.id), [{"role": "applicant", "name": "王五"}])
        other.commit()
    services.complete_task(session, human_task_id=task.id, user=core_deployed.users["mediator"],
                           data={"summary": "x", "urgent": False,
                                 "parties": [{"role": "applicant", "name": "赵六"}]})
    session.commit()
    event = session.scalars(select(AuditEvent).where(AuditEvent.chain == chain_for(case.id),
                                                     AuditEvent.action == "data.changed")).one()
    assert [p["name"] for p in event.payload["before"]] == ["王五"]
    names = session.execute(text("SELECT name FROM parties WHERE case_id = :i"), {"i": case.id}).scalars().all()
    assert names == ["赵六"]
