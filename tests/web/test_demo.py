"""Demo data (``fengqiao init --demo``): the shipped diagrams deployed, ``load_demo`` on a fresh
database gives realistic cases driven through the real runtime to different stages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.audit import verify_chains
from cases.models import Case, User
from cases.permissions import Action, can
from workflows import services
from workflows.models import HumanTask, WorkflowInstance, WorkflowTimer

REPO = Path(__file__).resolve().parents[2]

# title → (status, open task spec id or outcome, role of the open task, org unit of the case); a high-risk
# lead opens the police response and the supervisor's risk report in parallel (Art. 25)
EXPECTED = {
    "王某与邻居噪音纠纷": ("open", "register_lead", "grid_worker", "grid-1"),
    "张某与李某宅基地边界纠纷": ("open", "register_application", "mediator", "grid-1"),
    "孙某酒后持刀威胁邻居": ("open", "police_alert_response", "police", "grid-1"),
    "酒后口角引发的轻微伤害": ("open", "lawyer_legal_explanation", "lawyer", "grid-1"),
    "枫源村征地补偿款分配纠纷": ("open", "rights_notice", "mediator", "town"),
    "某建筑队拖欠农民工工资": ("open", "mediation_session_labour", "mediator", "grid-1"),
    "孙某与周某民间借贷纠纷": ("open", "judicial_confirmation_pack", "mediator", "grid-1"),
    "赵某与钱某房屋租赁合同纠纷": ("closed", "written_agreement", None, "grid-1"),
}


@pytest.fixture
def demo(session: Session) -> dict[str, Case]:
    from web.demo import load_demo
    from workflows.deploy import deploy, read_bundle, read_forms

    deploy(session, read_bundle([REPO / "bpmn"]), read_forms(REPO / "forms" / "definitions"))
    load_demo(session)
    session.commit()
    return {c.title: c for c in session.scalars(select(Case))}


def ready(session: Session, case: Case) -> list[HumanTask]:
    return list(session.scalars(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.state == "ready")
                                .order_by(HumanTask.id)))


def user(session: Session, name: str) -> User:
    return session.scalars(select(User).where(User.username == name)).one()


def test_demo_cases_wait_at_their_steps(session: Session, demo: dict[str, Case]) -> None:
    assert set(demo) == set(EXPECTED)
    for title, (status, where, role, unit) in EXPECTED.items():
        case = demo[title]
        wi = session.get(WorkflowInstance, case.id)
        assert wi.error_message is None, (title, wi.error_message)
        assert (case.status, case.org_unit.code) == (status, unit), title
        if status == "closed":
            assert (case.outcome, case.closed_level, wi.status) == (where, "village", "completed")
            assert ready(session, case) == []
        else:
            opened = [(t.spec_id, t.role, t.org_unit.code) for t in ready(session, case)]
            extra = [("risk_report_review", "supervisor", unit)] if where == "police_alert_response" else []
            assert opened == [(where, role, unit), *extra], title
        assert verify_chains(session, case.id) == (1, []), title
    # several categories, two levels, a red lead
    assert len({c.category for c in demo.values()}) >= 6
    assert {c.level for c in demo.values()} == {"village", "town"}
    assert demo["孙某酒后持刀威胁邻居"].risk_colour == "red"


def test_each_waiting_task_is_in_its_demo_users_inbox(session: Session, demo: dict[str, Case]) -> None:
    owners = {"register_lead": "grid", "register_application": "mediator", "police_alert_response": "police",
              "lawyer_legal_explanation": "lawyer", "mediation_session_labour": "mediator",
              "judicial_confirmation_pack": "mediator"}
    for title, (status, where, role, unit) in EXPECTED.items():
        if where in owners:
            task = ready(session, demo[title])[0]
            assert can(user(session, owners[where]), Action.TASK_COMPLETE, demo[title], task_role=task.role,
                       task_unit=task.org_unit), title
    # the lawyer sees only the case granted to them
    lawyer = user(session, "lawyer")
    assert [t for t, c in demo.items() if can(lawyer, Action.CASE_VIEW, c)] == ["酒后口角引发的轻微伤害"]
    # the transferred case is the town's: its supervisor sees it, the village mediator no longer acts on it
    town_case = demo["枫源村征地补偿款分配纠纷"]
    (task,) = ready(session, town_case)
    assert can(user(session, "supervisor"), Action.CASE_VIEW, town_case)
    assert not can(user(session, "mediator"), Action.TASK_COMPLETE, town_case, task_role=task.role,
                   task_unit=task.org_unit)


def test_clocks_count_down_on_the_waiting_cases(session: Session, demo: dict[str, Case]) -> None:
    def timers(title: str) -> set[str]:
        return {t.spec_id for t in session.scalars(select(WorkflowTimer).where(
            WorkflowTimer.case_id == demo[title].id))}

    assert "labour_deadline_timer" in timers("某建筑队拖欠农民工工资")
    assert {"jc_deadline_timer", "jc_warning_timer"} <= timers("孙某与周某民间借贷纠纷")


def test_closed_case_has_a_generatable_agreement(session: Session, demo: dict[str, Case]) -> None:
    case = demo["赵某与钱某房屋租赁合同纠纷"]
    done = [t.spec_id for t in session.scalars(select(HumanTask).where(
        HumanTask.case_id == case.id, HumanTask.state == "completed").order_by(HumanTask.id))]
    assert done[-5:] == ["finalize_agreement", "sign_agreement", "return_visit", "archive_case_file", "file_review"]
    try:
        from web.casefile.service import missing
    except ImportError:  # pragma: no cover - the case-file module is another change in progress
        return
    assert missing(session, case, "agreement", "zh") == []


def test_demo_mediator_takes_the_fresh_case_from_intake_to_agreement(session: Session,
                                                                    demo: dict[str, Case]) -> None:
    """Every step from the application to the signed agreement is the demo mediator's own."""
    from datetime import datetime, timedelta, timezone

    today = datetime.now(timezone(timedelta(hours=8))).date()
    case = demo["张某与李某宅基地边界纠纷"]
    mediator = user(session, "mediator")
    parties = [p.to_dict() for p in case.parties]
    steps: list[tuple[str, dict[str, Any]]] = [
        ("register_application", {"application_date": today.isoformat(), "application_form": "oral",
                                  "initiation": "applied", "parties": parties, "category": "housing_homestead",
                                  "claims": "拆除越界围墙。", "facts": "围墙越界约半米。"}),
        ("acceptability_check", {"specialised_organ_only": False, "already_before_authority": False,
                                 "party_refuses": False, "minor_public_security": False,
                                 "jurisdiction_basis": "place_of_dispute"}),
        ("rights_notice", {"notice_form": "oral", "rights_explained": True, "consent_given": True,
                           "public_mediation": "non_public", "mediator_preference": "designate"}),
        ("assign_mediator", {"presiding_mediator": "张秀英", "assignment_basis": "designated",
                             "conflict_checked": True, "recusal_requested": False}),
        ("investigation", {"investigation_record": "实地测量围墙位置。", "site_visit": True,
                           "appraisal_requested": False}),
        ("mediation_session", {"session_date": today.isoformat(), "mode": "face_to_face", "attendees": "张建国、李卫东",
                               "statements": "李家同意后退围墙。", "risk_notice_given": True,
                               "session_result": "written_agreement"}),
        ("finalize_agreement", {"parties_info_checked": True, "facts_and_issues": "围墙越界。",
                                "responsibilities": "李卫东负责。", "agreement_content": "李卫东拆除越界部分围墙。",
                                "performance_manner": "自行拆除", "performance_place": "枫源村3组",
                                "performance_deadline": (today + timedelta(days=30)).isoformat()}),
        ("sign_agreement", {"signing_method": "signature", "all_parties_signed": True, "mediator_signed": True,
                            "committee_seal_affixed": True, "agreement_effective_date": today.isoformat(),
                            "copies": 3, "judicial_confirmation_wanted": False}),
    ]
    for spec_id, data in steps:
        (task,) = ready(session, case)
        assert task.spec_id == spec_id
        result = services.complete_task(session, human_task_id=task.id, user=mediator, data=data)
        session.commit()
        assert result.error is None
    assert ready(session, case) == []  # waiting for the performance deadline's return visit
    assert "wait_performance_deadline" in {t.spec_id for t in session.scalars(
        select(WorkflowTimer).where(WorkflowTimer.case_id == case.id))}
