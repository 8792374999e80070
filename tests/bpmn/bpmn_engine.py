"""In-memory SpiffWorkflow driver for the shipped Fengqiao diagrams (bpmn/).

Plain SpiffWorkflow 3.2, no runtime and no database: a movable clock, stand-ins for the runtime's
sandbox helper functions, the bundle parser and a route driver. The real runtime re-drives the same
routes (see bpmn_routes.py) through its API and database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bpmn_routes import ADVANCE_CLOCK, SIGNAL, Route, resolve
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions import timer as timer_module
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

REPO = Path(__file__).resolve().parents[2]
BPMN_DIR = REPO / "bpmn"
FORMS_DIR = REPO / "forms" / "definitions"
CHINA = timezone(timedelta(hours=8))
TOP_PROCESS = "dispute"


# ------------------------------------------------------------------ movable clock
class Clock:
    """Real time plus an offset; patched into SpiffWorkflow's timer module so timers see it too."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, days: float = 0, hours: float = 0) -> None:
        self.offset += timedelta(days=days, hours=hours)

    def today(self) -> date:
        return self.now().astimezone(CHINA).date()


@contextmanager
def moved_clock() -> Iterator[Clock]:
    clock = Clock()
    real = timer_module.datetime

    class ShiftedDatetime(real):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz=None):
            value = clock.now()
            return value if tz is not None else value.replace(tzinfo=None)

    timer_module.datetime = ShiftedDatetime
    try:
        yield clock
    finally:
        timer_module.datetime = real


# ------------------------------------------------------------------ sandbox helper stand-ins
def make_helpers(clock: Clock, holidays: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Stand-ins for the runtime's helpers: dates are ISO strings (YYYY-MM-DD), China time."""

    def today() -> str:
        return clock.today().isoformat()

    def now() -> str:
        return clock.now().astimezone(CHINA).isoformat(timespec="seconds")

    def add_days(date_iso: str, n: int) -> str:
        return (date.fromisoformat(str(date_iso)[:10]) + timedelta(days=int(n))).isoformat()

    def add_working_days(date_iso: str, n: int) -> str:
        d = date.fromisoformat(str(date_iso)[:10])
        left = int(n)
        while left > 0:
            d += timedelta(days=1)
            if d.weekday() < 5 and d.isoformat() not in holidays:
                left -= 1
        return d.isoformat()

    def days_between(a: str, b: str) -> int:
        return (date.fromisoformat(str(b)[:10]) - date.fromisoformat(str(a)[:10])).days

    def iso_duration_days(n: int) -> str:
        return f"P{int(n)}D"

    return {"today": today, "now": now, "add_days": add_days, "add_working_days": add_working_days,
            "days_between": days_between, "iso_duration_days": iso_duration_days}


def script_engine(clock: Clock) -> PythonScriptEngine:
    return PythonScriptEngine(environment=TaskDataEnvironment(make_helpers(clock)))


# ------------------------------------------------------------------ bundle
def bundle_files() -> tuple[list[Path], list[Path]]:
    return sorted(BPMN_DIR.glob("*.bpmn")), sorted(BPMN_DIR.glob("*.dmn"))


def parse_bundle() -> SpiffBpmnParser:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    bpmn, dmn = bundle_files()
    parser.add_bpmn_files([str(p) for p in bpmn])
    parser.add_dmn_files([str(p) for p in dmn])
    return parser


def load_clocks() -> dict[str, Any]:
    return json.loads((BPMN_DIR / "clocks.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------ route driver
class RouteError(AssertionError):
    pass


def ready_user_tasks(wf: BpmnWorkflow) -> list:
    return wf.get_tasks(state=TaskState.READY, manual=True)


def start_workflow(parser: SpiffBpmnParser, clock: Clock, start_data: dict[str, Any] | None = None) -> BpmnWorkflow:
    spec = parser.get_spec(TOP_PROCESS)
    subs = parser.get_subprocess_specs(TOP_PROCESS)
    wf = BpmnWorkflow(spec, subs, script_engine=script_engine(clock))
    start = wf.get_tasks(spec_name="Start")[0]
    # the runtime's start data (workflows.services.start_case): clocks.json and the case's level
    start.data.update({"clocks": load_clocks(), "level": "village", "current_level": "village",
                       **(start_data or {})})
    wf.do_engine_steps()
    return wf


def send_signal(wf: BpmnWorkflow, name: str) -> None:
    from SpiffWorkflow.bpmn.util.event import BpmnEvent
    from SpiffWorkflow.spiff.specs.event_definitions import SignalEventDefinition

    wf.send_event(BpmnEvent(SignalEventDefinition(name)))
    wf.do_engine_steps()


def drive(parser: SpiffBpmnParser, route: Route, clock: Clock) -> tuple[BpmnWorkflow, list[tuple[str, str | None]]]:
    """Run a route; returns the workflow and the trail of (task bpmn_id, lane) completed."""
    wf = start_workflow(parser, clock)
    trail: list[tuple[str, str | None]] = []
    for name, data in route.steps:
        if name == ADVANCE_CLOCK:
            clock.advance(days=data.get("days", 0), hours=data.get("hours", 0))
            wf.refresh_timers()
            wf.do_engine_steps()
            continue
        if name == SIGNAL:
            send_signal(wf, data["name"])
            continue
        ready = ready_user_tasks(wf)
        matches = [t for t in ready if t.task_spec.bpmn_id == name]
        if not matches:
            raise RouteError(f"{route.name}: expected READY user task {name!r}, ready: "
                             f"{[t.task_spec.bpmn_id for t in ready]}")
        task = matches[0]
        task.data.update(resolve(data, clock.today()))
        task.run()
        wf.do_engine_steps()
        trail.append((name, task.task_spec.lane))
    return wf, trail
