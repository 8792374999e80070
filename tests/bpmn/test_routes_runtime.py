"""Every route of bpmn_routes.ROUTES re-driven through the real runtime (workflows.services) on the
real database (SQLite, and PostgreSQL when FENGQIAO_TEST_POSTGRES_URL is set).

Each route deploys the shipped bundle (bpmn/ and forms/definitions/), opens a case at the grid
where the lead is found, and completes each step's READY human task as a user whose role matches
the task's lane, through ``complete_task`` (so the route data is validated against the form), with
a commit after each step as a request would do. Clock steps move SpiffWorkflow's clock and run the
timer sweep; signal steps go through ``signal_case``. Checked per route: end state, outcome, closing
level and org unit, the documents due along the way, the audit trail and its hash chain.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bpmn_routes lives beside this file

from bpmn_routes import ADVANCE_CLOCK, PARTIES, ROUTES, SIGNAL, Route, resolve

from cases.audit import Actor, AuditEvent, chain_for, verify_chains
from cases.models import Case, User
from cases.permissions import Action, can
from cases.roles import Role, role_for_lane
from cases.services import create_user, grant, open_case
from workflows import services
from workflows.errors import ValidationFailed
from workflows.models import HumanTask, WorkflowInstance, WorkflowTimer
from workflows.timers import sweep

REPO = Path(__file__).resolve().parents[2]
START_UNIT = "grid-1"  # every route starts with a lead registered by the grid worker of grid 1
UNIT_OF_LEVEL = {"village": START_UNIT, "town": "town", "county": "county"}
# The lanes of the shipped diagrams and the role whose users may complete their tasks.
LANE_ROLES = {"网格员": Role.GRID_WORKER, "调解员": Role.MEDIATOR, "民警": Role.POLICE, "律师": Role.LAWYER,
              "主管": Role.SUPERVISOR}
# Users beyond the demo world: the mediators and the supervisor who take a case over after a transfer.
EXTRA_USERS = [("mediator-county", Role.MEDIATOR, "county"),
               ("supervisor-county", Role.SUPERVISOR, "county")]


# ------------------------------------------------------------------ moved clock
class Clock:
    """Real time plus an offset, seen by SpiffWorkflow's timers and by the sandbox's date helpers."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def today(self) -> date:
        return (self.now() + timedelta(hours=8)).date()


@contextmanager
def moved_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    import SpiffWorkflow.bpmn.specs.event_definitions.timer as timer_module

    import workflows.sandbox_helpers as helpers

    clock = Clock()

    class Shifted(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            value = clock.now()
            return value.astimezone(tz) if tz is not None else value.replace(tzinfo=None)

    monkeypatch.setattr(timer_module, "datetime", Shifted)
    monkeypatch.setattr(helpers, "datetime", Shifted)
    yield clock


# ------------------------------------------------------------------ runtime expectations per route
@dataclass(frozen=True)
class Expect:
    """What the runtime must show for one route beyond the route table: the documents due along the
    way (task id → document kinds, in order) and the org units after each transfer."""

    documents: list[tuple[str, list[str]]]
    transfers: list[str] = field(default_factory=list)


INTAKE_DOCS = [("register_application", ["application_record"]), ("rights_notice", ["rights_notice"])]
AGREEMENT_DOCS = [("finalize_agreement", ["agreement"])]
CLOSE_DOCS = [("archive_case_file", ["case_file_index"])]
VISIT_DOCS = [("return_visit", ["return_visit_record"])]
SESSION = ("mediation_session", ["mediation_record"])

EXPECT: dict[str, Expect] = {
    "on-the-spot resolution by a grid worker": Expect(
        [("on_spot_persuasion", ["oral_agreement_record"]), ("onsite_return_visit", ["return_visit_record"]),
         *CLOSE_DOCS]),
    "village mediation -> written agreement -> judicial confirmation": Expect(
        [*INTAKE_DOCS, SESSION, SESSION, *AGREEMENT_DOCS,
         ("judicial_confirmation_pack", ["judicial_confirmation_pack"]), *VISIT_DOCS, *CLOSE_DOCS]),
    "oral agreement": Expect(
        [*INTAKE_DOCS, SESSION, ("oral_agreement_record", ["oral_agreement_record"]), *VISIT_DOCS, *CLOSE_DOCS]),
    "termination -> referral": Expect(
        [*INTAKE_DOCS, SESSION, SESSION, ("termination_notice", ["termination_notice"]),
         ("referral_letter", ["referral_letter"]), *CLOSE_DOCS]),
    "transfer to town, then county": Expect(
        [*INTAKE_DOCS, SESSION, SESSION, SESSION, *AGREEMENT_DOCS, *VISIT_DOCS, *CLOSE_DOCS],
        transfers=["town", "county"]),
    "police mediation success": Expect([INTAKE_DOCS[0], ("police_agreement", ["police_agreement"]), *CLOSE_DOCS]),
    "police mediation failure -> punishment and civil-suit notice": Expect([INTAKE_DOCS[0], *CLOSE_DOCS]),
    "police + lawyer with lawyer review": Expect(
        [INTAKE_DOCS[0], ("police_agreement", ["police_agreement"]), *CLOSE_DOCS]),
    "labour clock expiry -> arbitration option": Expect(
        [*INTAKE_DOCS, ("mediation_session_labour", ["mediation_record"]), ("referral_letter", ["referral_letter"]),
         *CLOSE_DOCS]),
    "return visit finds non-performance -> urge -> sue": Expect(
        [*INTAKE_DOCS, SESSION, *AGREEMENT_DOCS, *VISIT_DOCS, *CLOSE_DOCS]),
    "high-risk lead -> police alert": Expect(CLOSE_DOCS),
    "party withdraws mid-mediation": Expect(
        [*INTAKE_DOCS, SESSION, SESSION, ("record_withdrawal", ["mediation_record"]), *CLOSE_DOCS]),
    "withdrawal signalled by the runtime at any time": Expect(
        [*INTAKE_DOCS, SESSION, ("record_withdrawal", ["mediation_record"]), *CLOSE_DOCS]),
    "group dispute accepted at county level, then no consent -> not accepted": Expect(
        [INTAKE_DOCS[0], ("rights_notice", ["rights_notice"]), ("not_accepted_notice", ["not_accepted_notice"]),
         *CLOSE_DOCS],
        transfers=["town", "county"]),
    "recusal on request -> supervisor reassigns the mediator": Expect(
        [*INTAKE_DOCS, SESSION, ("termination_notice", ["termination_notice"]), *CLOSE_DOCS]),
    "termination without referral letter": Expect(
        [*INTAKE_DOCS, SESSION, ("termination_notice", ["termination_notice"]), *CLOSE_DOCS]),
    "confirmed agreement not performed -> enforcement application": Expect(
        [*INTAKE_DOCS, SESSION, *AGREEMENT_DOCS, ("judicial_confirmation_pack", ["judicial_confirmation_pack"]),
         *VISIT_DOCS, *CLOSE_DOCS]),
}


def test_every_route_has_runtime_expectations() -> None:
    assert set(EXPECT) == {r.name for r in ROUTES}


# ------------------------------------------------------------------ fixtures and helpers
@pytest.fixture
def deployed(session: Session, world: Any) -> Any:
    """The shipped bundle deployed, the demo world plus the town/county staff, committed."""
    from workflows.deploy import deploy, read_bundle, read_forms

    deploy(session, read_bundle([REPO / "bpmn"]), read_forms(REPO / "forms" / "definitions"))
    for username, role, unit in EXTRA_USERS:
        world.users[username] = create_user(session, username=username, password="demo",
                                            memberships=[(role, world.units[unit])])
    session.commit()
    return world


def ready(session: Session, case: Case) -> list[HumanTask]:
    return list(session.scalars(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.state == "ready")
                                .order_by(HumanTask.id).execution_options(populate_existing=True)))


def actions(session: Session, case: Case) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.chain == chain_for(case.id))
                                .order_by(AuditEvent.seq)))


def user_for(world: Any, case: Case, task: HumanTask) -> User:
    """The user who does ``task``: the role its lane maps to, and among those users the one whose unit
    lies closest to the task's unit (the local mediator before a transfer, the town's after it)."""
    role = LANE_ROLES[task.lane]
    assert role_for_lane(task.lane) == role and task.role == role, (task.spec_id, task.lane, task.role)
    candidates = [u for u in world.users.values()
                  if role in u.roles() and can(u, Action.TASK_COMPLETE, case, task_role=task.role,
                                               task_unit=task.org_unit)]
    assert candidates, f"nobody with role {role} may do {task.spec_id} at {task.org_unit.code}"
    return max(candidates, key=lambda u: max(len(m.org_unit.path) for m in u.memberships if m.role == role))


def _start(session: Session, world: Any, unit: str = START_UNIT) -> Case:
    gridder = world.users["grid"]
    case = open_case(session, actor=gridder, actor_role=Role.GRID_WORKER, org_unit=world.units[unit],
                     title="枫源村通道堆物纠纷", category="neighbour", parties=PARTIES)
    services.start_case(session, case, Actor(gridder.id, gridder.username, Role.GRID_WORKER))
    session.commit()
    return case


@dataclass
class Run:
    case: Case
    expected_actions: list[str]
    completed: list[HumanTask]


def drive(session: Session, session_factory: sessionmaker[Session], world: Any, route: Route, clock: Clock,
          expect: Expect, unit: str = START_UNIT) -> Run:
    case = _start(session, world, unit)
    wanted = ["case.opened"]
    completed: list[HumanTask] = []
    transfers = list(expect.transfers)
    for name, data in route.steps:
        if name == ADVANCE_CLOCK:
            clock.offset += timedelta(days=data.get("days", 0), hours=data.get("hours", 0))
            session.rollback()  # SQLite: hold no lock while the sweep commits case by case
            assert sweep(session_factory, now=clock.now()) >= 1, f"{route.name}: no timer was due"
            session.expire_all()
            wanted.append("timer.fired")
            continue
        if name == SIGNAL:
            services.signal_case(session, case=case, user=world.users["mediator"], signal=data["name"],
                                 reason="当事人当面表示撤回调解")
            session.commit()
            wanted.append("case.signalled")
            continue
        tasks = ready(session, case)
        matches = [t for t in tasks if t.spec_id == name]
        assert matches, f"{route.name}: expected READY task {name!r}, ready: {[t.spec_id for t in tasks]}"
        task = matches[0]
        assert task.org_unit_id == case.org_unit_id, (name, task.org_unit.code, case.org_unit.code)
        if task.role == Role.LAWYER and not any(g.user_id == world.users["lawyer"].id for g in case.grants):
            supervisor = world.users["supervisor"]
            assert not can(world.users["lawyer"], Action.TASK_COMPLETE, case, task_role=task.role)
            grant(session, actor=Actor(supervisor.id, supervisor.username, Role.SUPERVISOR), case=case,
                  user=world.users["lawyer"], role=Role.LAWYER)
            session.commit()
            wanted.append("grant.added")
        if route.lanes.get(name):
            assert task.lane == route.lanes[name], (name, task.lane)
        user = user_for(world, case, task)
        try:
            result = services.complete_task(session, human_task_id=task.id, user=user,
                                            data=resolve(data, clock.today()))
        except ValidationFailed as exc:
            raise AssertionError(f"{route.name}: {name}: form refused the route data: {exc.fields}") from None
        session.commit()
        assert result.error is None, f"{route.name}: {name}: {result.error}"
        completed.append(task)
        wanted.append("task.completed")
        if isinstance(data.get("parties"), list):
            wanted.append("data.changed")
        if task.case_action == "transfer_upward":
            wanted.append("case.transferred")
            session.refresh(case)
            target = transfers.pop(0)
            assert (case.org_unit.code, case.level) == (target, target), route.name
            for nxt in ready(session, case):  # the open work follows the case up the ladder
                assert nxt.org_unit.code == target
                assert not can(world.users["mediator"], Action.TASK_COMPLETE, case, task_role=nxt.role,
                               task_unit=nxt.org_unit)
    assert not transfers, f"{route.name}: transfers left over {transfers}"
    wanted.append("case.closed")
    session.expire_all()
    return Run(session.get(Case, case.id), wanted, completed)


def _collapse(names: list[str]) -> list[str]:
    """Several timers may fire in one clock move: one ``timer.fired`` per move is expected."""
    out: list[str] = []
    for n in names:
        if not (n == "timer.fired" and out and out[-1] == "timer.fired"):
            out.append(n)
    return out


# ------------------------------------------------------------------ the table-driven test
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_route_on_the_runtime(session: Session, session_factory: sessionmaker[Session], deployed: Any,
                              monkeypatch: pytest.MonkeyPatch, route: Route) -> None:
    expect = EXPECT[route.name]
    with moved_clock(monkeypatch) as clock:
        run = drive(session, session_factory, deployed, route, clock, expect)
    case = run.case
    wi = session.get(WorkflowInstance, case.id)
    # end state
    assert (case.status, wi.status, wi.error_message) == ("closed", "completed", None)
    assert case.outcome == route.outcome
    assert ready(session, case) == []
    assert session.scalars(select(WorkflowTimer).where(WorkflowTimer.case_id == case.id)).all() == []
    # level: the runtime's org unit is authoritative, and the diagram agrees with it
    assert (case.closed_level, case.level, case.org_unit.code) == (route.level, route.level,
                                                                   UNIT_OF_LEVEL[route.level])
    data = services.load_instance(session, wi).data
    assert (data["closing_level"], data["current_level"], data["outcome"]) == (route.level, route.level,
                                                                               route.outcome)
    for key, value in route.expect.items():
        assert data.get(key) == value, (key, data.get(key))
    # documents due along the way
    assert [(t.spec_id, t.documents) for t in run.completed if t.documents] == expect.documents
    # audit trail: actions in order, each completion naming its task, the chain intact
    events = actions(session, case)
    assert _collapse([e.action for e in events]) == run.expected_actions
    steps = [name for name, _ in route.steps if name not in (ADVANCE_CLOCK, SIGNAL)]
    assert [e.payload["task"] for e in events if e.action == "task.completed"] == steps
    roles = [e.actor_role for e in events if e.action == "task.completed"]
    assert roles == [t.role for t in run.completed]
    closed = events[-1]
    assert closed.payload == {"outcome": route.outcome, "level": route.level}
    assert verify_chains(session, case.id) == (1, [])


def test_transfer_reroutes_open_work_and_refuses_the_village_mediator(
        session: Session, session_factory: sessionmaker[Session], deployed: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After a transfer the village mediator can no longer act; the town mediator can."""
    from bpmn_routes import INTO_MEDIATION, transfer
    from bpmn_routes import session as mediation_session

    from workflows.errors import Forbidden

    route = Route("partial", [*INTO_MEDIATION, mediation_session("transfer_upward"), transfer()], "x", "town")
    with moved_clock(monkeypatch) as clock:
        run = drive(session, session_factory, deployed, route, clock, Expect([], transfers=["town"]))
    (task,) = ready(session, run.case)
    assert (task.spec_id, task.org_unit.code, task.role) == ("investigation", "town", "mediator")
    with pytest.raises(Forbidden):
        services.complete_task(session, human_task_id=task.id, user=deployed.users["mediator"],
                               data={"investigation_record": "x", "site_visit": False,
                                     "appraisal_requested": False})
    session.rollback()
    assert user_for(deployed, run.case, task).username == "town_mediator"  # the demo town mediator


def test_every_lane_role_is_exercised() -> None:
    """Between them the routes complete tasks in every lane of the shipped diagrams."""
    lanes = {lane for r in ROUTES for lane in r.lanes.values()}
    assert lanes == set(LANE_ROLES)


def test_case_opened_at_town_is_mediated_and_closed_at_town(
        session: Session, session_factory: sessionmaker[Session], deployed: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The runtime is authoritative for the level: a case whose org unit is the town starts the
    diagrams at town level (no transfer to town), and the diagram's closing level agrees with the
    case's ``closed_level``."""
    from bpmn_routes import ARCHIVE, INTO_MEDIATION, REVIEW, visit
    from bpmn_routes import session as mediation_session

    deployed.users["grid-town"] = create_user(session, username="grid-town", password="demo",
                                              memberships=[(Role.GRID_WORKER, deployed.units["town"])])
    session.commit()
    route = Route("town case", [*INTO_MEDIATION, mediation_session("oral_agreement"),
                                ("oral_agreement_record", {"agreed_on": "@today", "agreement_content": "当场清理。",
                                                           "performance_manner": "自行清理",
                                                           "performance_deadline": "@today+3",
                                                           "parties_confirmed": True}),
                                (ADVANCE_CLOCK, {"days": 4}), visit("performed"), ARCHIVE, REVIEW],
                  "oral_agreement", "town")
    with moved_clock(monkeypatch) as clock:
        run = drive(session, session_factory, deployed, route, clock, Expect([]), unit="town")
    case = run.case
    assert (case.status, case.outcome, case.closed_level, case.org_unit.code) == (
        "closed", "oral_agreement", "town", "town")
    data = services.load_instance(session, session.get(WorkflowInstance, case.id)).data
    assert (data["current_level"], data["closing_level"]) == ("town", "town")
    assert [t.org_unit.code for t in run.completed] == ["town"] * len(run.completed)
    assert "case.transferred" not in [e.action for e in actions(session, case)]
    assert verify_chains(session, case.id) == (1, [])


def test_red_lead_shows_its_colour_while_the_police_respond(session: Session, deployed: Any) -> None:
    """Platform fix (workflows/projection.persist): the risk colour graded inside the prevention stage is
    on the case while that stage still waits for the police and the supervisor, not only after it ends."""
    from bpmn_routes import lead

    case = _start(session, deployed)
    (task,) = ready(session, case)
    _, data = lead(signals=["weapons", "threats"])
    services.complete_task(session, human_task_id=task.id, user=deployed.users["grid"],
                           data=resolve(data, Clock().today()))
    session.commit()
    session.refresh(case)
    assert case.risk_colour == "red"
    assert [(t.spec_id, t.role) for t in ready(session, case)] == [
        ("police_alert_response", "police"), ("risk_report_review", "supervisor")]
