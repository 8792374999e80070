"""The case workflow services on the real engine and database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.audit import Actor, AuditEvent, chain_for, verify_chains
from cases.models import Case
from cases.services import open_case
from workflows import services
from workflows.errors import Conflict, Forbidden, ValidationFailed
from workflows.models import HumanTask, WorkflowInstance, WorkflowTimer

PARTIES = [{"role": "applicant", "name": "张三"}, {"role": "respondent", "name": "李四"}]


def new_case(session: Session, world: Any, process_id: str = "core_case",
             data: dict[str, Any] | None = None) -> Case:
    mediator = world.users["mediator"]
    case = open_case(session, actor=mediator, actor_role="mediator", org_unit=world.units["village"],
                     title="宅基地边界纠纷", category="housing_homestead", parties=PARTIES)
    services.start_case(session, case, Actor(mediator.id, "mediator", "mediator"),
                        process_id=process_id, data=data)
    session.commit()
    return case


def open_task(session: Session, case: Case) -> HumanTask:
    tasks = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id,
                                                    HumanTask.state == "ready")).all()
    assert len(tasks) == 1, [t.spec_id for t in tasks]
    return tasks[0]


def actions(session: Session, case: Case) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).where(AuditEvent.chain == chain_for(case.id))
                                .order_by(AuditEvent.seq)))


def complete(session: Session, task: HumanTask, user: Any, data: dict[str, Any]) -> services.Completion:
    result = services.complete_task(session, human_task_id=task.id, user=user, data=data)
    session.commit()
    return result


def test_agreement_path_end_to_end(session: Session, core_deployed: Any) -> None:
    w = core_deployed
    case = new_case(session, w)
    task = open_task(session, case)
    assert (task.spec_id, task.role, task.org_unit.code, task.form_key) == (
        "register", "mediator", "village", "core_register")
    assert task.documents == ["application_record"]
    result = complete(session, task, w.users["mediator"],
                      {"summary": "边界争议", "amount": "6,000", "urgent": True,
                       "parties": [{"role": "applicant", "name": "张三丰"},
                                   {"role": "respondent", "name": "李四"}]})
    assert result.error is None
    assert [t.spec_id for t in result.next_tasks] == ["mediate"]
    session.refresh(case)
    assert case.risk_colour == "orange"
    assert [p.name for p in case.parties] == ["张三丰", "李四"]
    complete(session, open_task(session, case), w.users["mediator"], {"agreed": True})
    approve = open_task(session, case)
    assert approve.role == "supervisor"
    with pytest.raises(Forbidden):
        services.complete_task(session, human_task_id=approve.id, user=w.users["mediator"],
                               data={"approved": True, "outcome": "written_agreement"})
    session.rollback()
    complete(session, approve, w.users["supervisor"], {"approved": True, "outcome": "written_agreement"})
    session.refresh(case)
    assert (case.status, case.outcome, case.closed_level) == ("closed", "written_agreement", "village")
    assert session.get(WorkflowInstance, case.id).status == "completed"
    assert actions(session, case) == ["case.opened", "task.completed", "data.changed", "task.completed",
                                      "task.completed", "case.closed"]
    checked, breaks = verify_chains(session, case.id)
    assert (checked, breaks) == (1, [])


def test_invalid_data_is_refused_with_field_names(session: Session, core_deployed: Any) -> None:
    case = new_case(session, core_deployed)
    task = open_task(session, case)
    with pytest.raises(ValidationFailed) as info:
        services.complete_task(session, human_task_id=task.id, user=core_deployed.users["mediator"],
                               data={"amount": "abc", "bogus": 1}, lang="en")
    session.rollback()
    assert {"summary", "urgent", "amount", "_schema"} <= set(info.value.fields)
    assert open_task(session, case).state == "ready"
    assert actions(session, case) == ["case.opened"]


def test_transfer_upward_moves_case_and_reroutes_tasks(session: Session, core_deployed: Any) -> None:
    w = core_deployed
    case = new_case(session, w)
    complete(session, open_task(session, case), w.users["mediator"], {"summary": "x", "urgent": False})
    complete(session, open_task(session, case), w.users["mediator"], {"agreed": True, "transfer_upward": True})
    session.refresh(case)
    assert (case.org_unit.code, case.level) == ("town", "town")
    approve = open_task(session, case)
    assert approve.org_unit.code == "town"
    assert "case.transferred" in actions(session, case)
    complete(session, approve, w.users["supervisor"], {"approved": True, "outcome": "oral_agreement"})
    session.refresh(case)
    assert case.closed_level == "town"


def test_claim_release_and_claimed_task_conflict(session: Session, core_deployed: Any) -> None:
    w = core_deployed
    case = new_case(session, w)
    task = open_task(session, case)
    services.claim_task(session, human_task_id=task.id, user=w.users["admin"])
    session.commit()
    with pytest.raises(Conflict):
        services.complete_task(session, human_task_id=task.id, user=w.users["mediator"],
                               data={"summary": "x", "urgent": False})
    session.rollback()
    services.release_task(session, human_task_id=task.id, user=w.users["admin"])
    session.commit()
    complete(session, task, w.users["mediator"], {"summary": "x", "urgent": False})
    assert actions(session, case)[1:4] == ["task.claimed", "task.released", "task.completed"]


def test_timer_fires_in_sweep(session: Session, session_factory: Any, core_deployed: Any,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    import SpiffWorkflow.bpmn.specs.event_definitions.timer as timer_module

    from workflows.timers import sweep

    w = core_deployed
    case = new_case(session, w)
    complete(session, open_task(session, case), w.users["mediator"], {"summary": "x", "urgent": False})
    timers = session.scalars(select(WorkflowTimer).where(WorkflowTimer.case_id == case.id)).all()
    assert [t.spec_id for t in timers] == ["mediate_deadline"]
    assert "Local rule" in timers[0].documentation
    due = timers[0].due_at
    assert timedelta(days=14) < due.replace(tzinfo=UTC) - datetime.now(UTC) <= timedelta(days=15)
    session.rollback()  # SQLite: don't hold the write lock while the sweep runs
    assert sweep(session_factory) == 0  # not due yet

    class Later(datetime):  # the engine reads the clock through this module: travel 16 days ahead
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return datetime.now(tz) + timedelta(days=16)

    monkeypatch.setattr(timer_module, "datetime", Later)
    assert sweep(session_factory, now=datetime.now(UTC) + timedelta(days=16)) == 1
    session.expire_all()
    case = session.get(Case, case.id)
    assert case.status == "closed"
    assert "timer.fired" in actions(session, case)
    assert session.scalars(select(HumanTask.state).where(HumanTask.case_id == case.id,
                                                         HumanTask.spec_id == "mediate")).one() == "cancelled"
    session.rollback()
    assert sweep(session_factory, now=datetime.now(UTC) + timedelta(days=16)) == 0


def test_script_error_puts_case_in_error_state_and_retry_recovers(session: Session, core_deployed: Any) -> None:
    w = core_deployed
    case = new_case(session, w, process_id="fragile_case")
    result = complete(session, open_task(session, case), w.users["mediator"], {"copies": 0})
    assert result.error and "division" in result.error.lower()
    session.refresh(case)
    wi = session.get(WorkflowInstance, case.id)
    assert (case.status, wi.status, wi.error_element) == ("error", "error", "fr_compute")
    assert actions(session, case)[-1] == "workflow.error"
    with pytest.raises(Forbidden):
        services.retry_case(session, case=case, user=w.users["mediator"], data_patch={"copies": 2})
    session.rollback()
    assert services.retry_case(session, case=case, user=w.users["admin"], data_patch={"copies": 2}) is None
    session.commit()
    session.refresh(case)
    assert case.status == "open"
    assert open_task(session, case).spec_id == "fr_review"
    assert actions(session, case)[-2:] == ["data.changed", "workflow.retried"]
    assert verify_chains(session, case.id)[1] == []


def test_abort_before_commit_leaves_state_tasks_and_audit_consistent(
        session: Session, core_deployed: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from workflows import projection

    w = core_deployed
    case = new_case(session, w)
    task = open_task(session, case)
    state_before = session.get(WorkflowInstance, case.id).state

    def explode(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("crash after the engine step")

    monkeypatch.setattr(projection, "persist", explode)
    with pytest.raises(RuntimeError):
        services.complete_task(session, human_task_id=task.id, user=w.users["mediator"],
                               data={"summary": "x", "urgent": False})
    session.rollback()
    session.expire_all()
    assert session.get(WorkflowInstance, case.id).state == state_before
    assert open_task(session, case).state == "ready"
    assert actions(session, case) == ["case.opened"]
    assert verify_chains(session)[1] == []


def test_retry_reopens_the_task_that_was_open_beside_the_failure(
        session: Session, session_factory: Any, world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-interrupting timer's script fails while a user task is open: the case goes into error
    (the task is withdrawn from inboxes); the retry re-opens that same task instead of duplicating it."""
    import SpiffWorkflow.bpmn.specs.event_definitions.timer as timer_module

    from tests.conftest import read_fixture_bundle
    from workflows.deploy import deploy
    from workflows.timers import sweep

    files, forms = read_fixture_bundle("core.bpmn")
    xml = files["core.bpmn"].decode()
    xml = xml.replace('attachedToRef="mediate">', 'attachedToRef="mediate" cancelActivity="false">')
    xml = xml.replace('<bpmn:endEvent id="end_expired" name="期限届满"><bpmn:incoming>f_timeout</bpmn:incoming>',
                      '<bpmn:scriptTask id="remind" name="提醒"><bpmn:incoming>f_timeout</bpmn:incoming>'
                      '<bpmn:outgoing>f_remind</bpmn:outgoing><bpmn:script>reminder = reminder_text + "!"'
                      '</bpmn:script></bpmn:scriptTask><bpmn:sequenceFlow id="f_remind" sourceRef="remind" '
                      'targetRef="end_expired"/><bpmn:endEvent id="end_expired" name="期限届满">'
                      '<bpmn:incoming>f_remind</bpmn:incoming>')
    xml = xml.replace('sourceRef="mediate_deadline" targetRef="end_expired"', 'sourceRef="mediate_deadline" targetRef="remind"')
    xml = xml.replace("<bpmn:flowNodeRef>end_expired</bpmn:flowNodeRef>",
                      "<bpmn:flowNodeRef>end_expired</bpmn:flowNodeRef><bpmn:flowNodeRef>remind</bpmn:flowNodeRef>")
    deploy(session, {"core.bpmn": xml.encode()}, forms)
    session.commit()
    case = new_case(session, world)
    complete(session, open_task(session, case), world.users["mediator"], {"summary": "x", "urgent": False})
    mediate_id = open_task(session, case).task_id
    session.rollback()

    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return datetime.now(tz) + timedelta(days=16)

    monkeypatch.setattr(timer_module, "datetime", Later)
    assert sweep(session_factory, now=datetime.now(UTC) + timedelta(days=16)) == 1
    session.expire_all()
    case = session.get(Case, case.id)
    assert (case.status, session.get(WorkflowInstance, case.id).error_element) == ("error", "remind")
    assert services.retry_case(session, case=case, user=world.users["admin"],
                               data_patch={"reminder_text": "请尽快调解"}) is None
    session.commit()
    task = open_task(session, case)
    assert (task.task_id, task.state) == (mediate_id, "ready")  # the same row, re-opened
    complete(session, task, world.users["mediator"], {"agreed": False})
    session.refresh(case)
    assert case.status == "closed"
