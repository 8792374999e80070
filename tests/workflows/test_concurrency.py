"""Concurrent steps on one case: twenty users completing one task at once (exactly one wins,
nineteen get a conflict); parallel branches completed at once; a claim during a completion."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from cases.audit import AuditEvent, chain_for, verify_chains
from cases.models import Case
from tests.conftest import read_fixture_bundle
from tests.workflows.test_services import new_case, open_task
from workflows import services
from workflows.deploy import deploy
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


FORM = ('<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formKey" '
        'value="core_visit"/></spiffworkflow:properties></bpmn:extensionElements>')
PARALLEL = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="par_defs" targetNamespace="http://fengqiao.example/test">
  <bpmn:process id="par_case" name="并行" isExecutable="true">
    <bpmn:laneSet id="par_lanes">
      <bpmn:lane id="par_lane" name="调解员">
        <bpmn:flowNodeRef>p_start</bpmn:flowNodeRef><bpmn:flowNodeRef>p_split</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>task_a</bpmn:flowNodeRef><bpmn:flowNodeRef>task_b</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>task_c</bpmn:flowNodeRef><bpmn:flowNodeRef>p_end_a</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>p_end_b</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="p_start"><bpmn:outgoing>p1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="p_split"><bpmn:incoming>p1</bpmn:incoming>
      <bpmn:outgoing>pa</bpmn:outgoing><bpmn:outgoing>pb</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="task_a" name="A">{FORM}<bpmn:incoming>pa</bpmn:incoming><bpmn:outgoing>pa2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="task_c" name="C">{FORM}<bpmn:incoming>pa2</bpmn:incoming><bpmn:outgoing>pa3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="p_end_a"><bpmn:incoming>pa3</bpmn:incoming></bpmn:endEvent>
    <bpmn:userTask id="task_b" name="B">{FORM}<bpmn:incoming>pb</bpmn:incoming><bpmn:outgoing>pb2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="p_end_b"><bpmn:incoming>pb2</bpmn:incoming><bpmn:terminateEventDefinition/></bpmn:endEvent>
    <bpmn:sequenceFlow id="p1" sourceRef="p_start" targetRef="p_split"/>
    <bpmn:sequenceFlow id="pa" sourceRef="p_split" targetRef="task_a"/>
    <bpmn:sequenceFlow id="pa2" sourceRef="task_a" targetRef="task_c"/>
    <bpmn:sequenceFlow id="pa3" sourceRef="task_c" targetRef="p_end_a"/>
    <bpmn:sequenceFlow id="pb" sourceRef="p_split" targetRef="task_b"/>
    <bpmn:sequenceFlow id="pb2" sourceRef="task_b" targetRef="p_end_b"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _deploy(session: Any) -> None:
    _, forms = read_fixture_bundle("loop.bpmn")
    deploy(session, {"parallel.bpmn": PARALLEL.encode()}, forms)
    session.commit()


def _ready(session: Any, case_id: int) -> dict[str, HumanTask]:
    return {t.spec_id: t for t in session.scalars(select(HumanTask).where(
        HumanTask.case_id == case_id, HumanTask.state == "ready"))}


def test_serial_terminate_cancels_the_other_branch(session: Any, world: Any) -> None:
    """One after the other, the terminate end leaves no open task."""
    _deploy(session)
    case = new_case(session, world, process_id="par_case")
    user = world.users["mediator"]
    ready = _ready(session, case.id)
    assert set(ready) == {"task_a", "task_b"}
    services.complete_task(session, human_task_id=ready["task_a"].id, user=user, data={"more": False})
    session.commit()
    services.complete_task(session, human_task_id=ready["task_b"].id, user=user, data={"more": False})
    session.commit()
    session.expire_all()
    assert session.get(WorkflowInstance, case.id).status == "completed"
    assert _ready(session, case.id) == {}


def test_concurrent_steps_leave_no_orphan_open_task(session: Any, session_factory: Any, world: Any) -> None:
    """T1 completes A (which opens C) and holds the case's lock; T2 completes B (a terminate end)
    and waits. T2 must see C once the lock is granted and cancel it: no open task in a closed case."""
    _deploy(session)
    case = new_case(session, world, process_id="par_case")
    ready = _ready(session, case.id)
    a_id, b_id, user_id = ready["task_a"].id, ready["task_b"].id, world.users["mediator"].id
    case_id = case.id
    session.close()

    s1, s2 = session_factory(), session_factory()
    errors: list[BaseException] = []
    services.complete_task(s1, human_task_id=a_id, user=s1.get(type(world.users["mediator"]), user_id),
                           data={"more": False})  # C is inserted; T1 holds the locks

    def second() -> None:
        try:
            u = s2.get(type(world.users["mediator"]), user_id)
            services.complete_task(s2, human_task_id=b_id, user=u, data={"more": False})
            s2.commit()
        except BaseException as exc:
            errors.append(exc)
            s2.rollback()

    if session.get_bind().dialect.name == "sqlite":
        s1.commit()  # SQLite: BEGIN IMMEDIATE serialises; nothing to race
        second()
    else:
        th = threading.Thread(target=second)
        th.start()
        time.sleep(1.0)  # T2 is now blocked in the lock statement
        s1.commit()
        th.join(30)
    s1.close()
    s2.close()
    assert errors == []
    with session_factory() as s:
        assert s.get(WorkflowInstance, case_id).status == "completed"
        assert s.get(Case, case_id).status == "closed"
        assert {k: v.state for k, v in _ready(s, case_id).items()} == {}, "orphan open task in a closed case"


def test_claim_of_a_sibling_task_does_not_deadlock_a_completion(session: Any, session_factory: Any,
                                                                 world: Any) -> None:
    """Every writer of a case locks its workflow row before any task row: a claim of sibling task B
    while A is being completed waits or goes first, it never deadlocks (PostgreSQL)."""
    _deploy(session)
    case = new_case(session, world, process_id="par_case")
    ready = _ready(session, case.id)
    low, high = sorted(ready.values(), key=lambda t: t.id)
    low_id, high_id, user_id, case_id = low.id, high.id, world.users["mediator"].id, case.id
    user_cls = type(world.users["mediator"])
    session.close()
    if session.get_bind().dialect.name == "sqlite":
        pytest.skip("SQLite serialises whole transactions")

    s1, s2 = session_factory(), session_factory()
    errors: list[BaseException] = []
    claimer = s2.get(user_cls, user_id)
    services._lock_instance(s2, case_id)  # claim_task of B has taken the workflow row lock ...

    def complete_a() -> None:
        try:
            services.complete_task(s1, human_task_id=high_id, user=s1.get(user_cls, user_id), data={"more": False})
            s1.commit()
        except BaseException as exc:
            errors.append(exc)
            s1.rollback()

    th = threading.Thread(target=complete_a)
    th.start()
    time.sleep(1.0)  # ... T1 is in its lock statement now
    try:
        services.claim_task(s2, human_task_id=low_id, user=claimer)  # ... and goes on to write B
        s2.commit()
    except BaseException as exc:
        errors.append(exc)
        s2.rollback()
    th.join(30)
    s1.close()
    s2.close()
    assert errors == [], [f"{type(e).__name__}: {str(e).splitlines()[0]}" for e in errors]
