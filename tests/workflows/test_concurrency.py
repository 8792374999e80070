"""Twenty users completing one task at once: exactly one wins, nineteen get a conflict."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from cases.audit import AuditEvent, chain_for, verify_chains
from tests.workflows.test_services import new_case, open_task
from workflows import services
from workflows.errors import Conflict
from workflows.models import HumanTask, WorkflowInstance


def test_twenty_concurrent_completions(session_factory: Any, session: Any, core_deployed: Any) -> None:
    case = new_case(session, core_deployed)
    task_id = open_task(session, case).id
    user_id = core_deployed.users["mediator"].id
    session.rollback()  # end the test's own transaction: on SQLite it would hold the write lock
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        with session_factory() as s:
            from cases.models import User

            barrier.wait()
            try:
                user = s.get(User, user_id)
                services.complete_task(s, human_task_id=task_id, user=user,
                                       data={"summary": "并发", "urgent": False})
                s.commit()
                result = "ok"
            except Conflict:
                s.rollback()
                result = "conflict"
            except Exception as exc:
                s.rollback()
                result = f"error: {exc!r}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["conflict"] * 19 + ["ok"], outcomes
    session.expire_all()
    completed = session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.chain == chain_for(case.id), AuditEvent.action == "task.completed"))
    assert completed == 1
    states = session.scalars(select(HumanTask.spec_id).where(HumanTask.case_id == case.id,
                                                             HumanTask.state == "ready")).all()
    assert states == ["mediate"]
    wi = session.get(WorkflowInstance, case.id)
    assert wi.lock_version == 2  # saved once at start, then by exactly one completion
    assert verify_chains(session, case.id)[1] == []
