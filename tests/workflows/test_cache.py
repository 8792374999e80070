"""The instance cache serves only the exact committed state and never a rolled-back one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflows.test_services import new_case, open_task
from workflows import cache, services
from workflows.models import WorkflowInstance


def test_committed_step_is_reused_and_rollback_is_not(session: Any, core_deployed: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "instances", cache.InstanceCache())
    case = new_case(session, core_deployed)
    services.complete_task(session, human_task_id=open_task(session, case).id,
                           user=core_deployed.users["mediator"], data={"summary": "x", "urgent": False})
    session.commit()
    hits = cache.instances.hits
    wi = session.get(WorkflowInstance, case.id)
    instance = services.load_instance(session, wi)
    assert cache.instances.hits == hits + 1
    assert [t.spec_id for t in instance.ready_human_tasks()] == ["mediate"]
    # A step that is rolled back must not leave its mutated instance in the cache.
    services.complete_task(session, human_task_id=open_task(session, case).id,
                           user=core_deployed.users["mediator"], data={"agreed": True})
    session.rollback()
    session.expire_all()
    wi = session.get(WorkflowInstance, case.id)
    again = services.load_instance(session, wi)
    assert cache.instances.hits == hits + 1  # a miss: deserialized from the stored state
    assert [t.spec_id for t in again.ready_human_tasks()] == ["mediate"]


def test_other_writer_invalidates(session: Any, session_factory: Any, core_deployed: Any,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "instances", cache.InstanceCache())
    case_id = new_case(session, core_deployed).id
    wi = session.get(WorkflowInstance, case_id)
    token = cache.state_token(wi.lock_version, wi.process_version.sha256, wi.updated_at)
    session.rollback()  # SQLite: release the write lock for the other worker
    with session_factory() as other:  # another worker saves the case
        other_wi = other.get(WorkflowInstance, case_id)
        other_wi.lock_version += 1
        other.commit()
    session.expire_all()
    wi = session.get(WorkflowInstance, case_id)
    assert cache.state_token(wi.lock_version, wi.process_version.sha256, wi.updated_at) != token
