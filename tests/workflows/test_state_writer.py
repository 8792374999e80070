"""``Instance.dump``'s cached fragments against SpiffWorkflow's own, un-memoised serialization.

The reference is ``definition.serializer.to_dict`` (SpiffWorkflow's converters task for task, no cache).
Two states are compared after *materializing* every task's data (applying each delta to its parent's
data, as ``TaskConverter.from_dict`` does): the cached writer may store a finished task under an
unfinished parent with its whole data instead of a delta, which loads to the same thing.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from SpiffWorkflow.util.task import TaskState

from bench.steps import data_for
from workflows import state_writer
from workflows.engine import Definition, EngineError, Instance, dump_specs
from workflows.parsing import load_bundle

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "bpmn"))  # bpmn_routes lives there

from bpmn_routes import ADVANCE_CLOCK, ROUTES, SIGNAL, Route, resolve  # noqa: E402


def definition(files: list[Path], process_id: str) -> Definition:
    bundle = load_bundle({p.name: p.read_bytes() for p in files})
    return Definition.from_json(dump_specs(*bundle.specs(process_id)))


BENCH = definition([ROOT / "bench" / "mediation.bpmn"], "bench_mediation")


# ------------------------------------------------------------------ reference and comparison
def plain_state(instance: Instance) -> dict[str, Any]:
    """SpiffWorkflow's serialization of the instance, without any cache, as parsed JSON."""
    ser = instance.definition.serializer
    dct = ser.to_dict(instance.workflow)
    dct[ser.VERSION_KEY] = ser.VERSION
    return json.loads(json.dumps(dct, cls=ser._encoder_cls, ensure_ascii=False))


def _materialize_workflow(wf: dict[str, Any]) -> dict[str, Any]:
    tasks = wf["tasks"]
    full: dict[str, dict[str, Any]] = {}
    out = {}
    for tid, task in tasks.items():
        parent = task["parent"]
        delta = task.get("delta")
        if delta and parent is not None and parent in full:
            data = dict(full[parent])
            data.update(delta.get("updates", {}))
            for key in delta.get("deletions", []):
                data.pop(key, None)
        else:
            data = task["data"]
        full[tid] = data
        out[tid] = {**{k: v for k, v in task.items() if k != "delta"}, "data": data}
    return {**wf, "tasks": out}


def materialize(state: dict[str, Any]) -> dict[str, Any]:
    """The state with every task's data whole (what loading it gives back) and no deltas."""
    state = _materialize_workflow(state)
    state["subprocesses"] = {k: _materialize_workflow(v) for k, v in state["subprocesses"].items()}
    return state


def assert_same_state(a: dict[str, Any], b: dict[str, Any], label: str) -> None:
    ma, mb = materialize(a), materialize(b)
    if ma != mb:  # name the first difference, the whole states are long
        for key in ma:
            if key in ("tasks", "subprocesses"):
                continue
            assert ma[key] == mb.get(key), f"{label}: {key}"
        assert ma["subprocesses"].keys() == mb["subprocesses"].keys(), label
        for wa, wb in [(ma, mb), *((ma["subprocesses"][k], mb["subprocesses"][k]) for k in ma["subprocesses"])]:
            assert list(wa["tasks"]) == list(wb["tasks"]), f"{label}: task ids/order"
            for tid, task in wa["tasks"].items():
                assert task == wb["tasks"][tid], f"{label}: task {task['task_spec']} ({tid})"
        assert ma == mb, label


def check_dump(instance: Instance, label: str) -> Instance:
    """The cached dump loads back to what SpiffWorkflow itself writes for the loaded workflow, and
    matches SpiffWorkflow's serialization of the live instance; returns the loaded instance."""
    state = instance.dump()
    parsed = json.loads(state)
    assert_same_state(parsed, plain_state(instance), f"{label}: live instance")
    loaded = Instance.load(instance.definition, state)
    assert_same_state(parsed, plain_state(loaded), f"{label}: after load")
    assert_same_state(json.loads(loaded.dump()), parsed, f"{label}: dump of the loaded instance")
    return loaded


def plain_text(instance: Instance) -> str:
    """``json.dumps`` of SpiffWorkflow's serialization, as ``Instance.dump`` wrote it before caching."""
    ser = instance.definition.serializer
    dct = ser.to_dict(instance.workflow)
    dct[ser.VERSION_KEY] = ser.VERSION
    return json.dumps(dct, cls=ser._encoder_cls, ensure_ascii=False)


def fresh_dump(instance: Instance) -> str:
    """The same instance written with every cached fragment dropped."""
    for wf in [instance.workflow, *instance.workflow.subprocesses.values()]:
        wf.__dict__.pop(state_writer.MEMO_ATTR, None)
    return instance.dump()


# ------------------------------------------------------------------ moved clock
@contextmanager
def moved_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[timedelta]]:
    """Timers and the sandbox's date helpers see real time plus ``offset[0]``."""
    import SpiffWorkflow.bpmn.specs.event_definitions.timer as timer_module

    import workflows.sandbox_helpers as helpers

    offset = [timedelta()]

    class Shifted(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            value = datetime.now(UTC) + offset[0]
            return value.astimezone(tz) if tz is not None else value.replace(tzinfo=None)

    monkeypatch.setattr(timer_module, "datetime", Shifted)
    monkeypatch.setattr(helpers, "datetime", Shifted)
    yield offset


# ------------------------------------------------------------------ bench diagram
def _bench_step(inst: Instance, step: int, more: bool, note: str | None = None) -> None:
    [task] = inst.ready_human_tasks()
    data = copy.deepcopy(data_for(task.spec_id, more_visits=more))  # own nested values (one test edits them)
    data["amount"] = "3000.00"
    if note is not None and task.spec_id.startswith("m_visit"):
        data["note"] = note
    inst.complete(task.task_id, data)


@pytest.mark.parametrize("varying", [False, True], ids=["same-visit-data", "new-visit-data"])
def test_bench_loop_dumps_load_back_to_the_plain_serialization(varying: bool) -> None:
    # A standard loop of return visits (more_followup keeps it looping), then the loop ends. With
    # new data at every visit the loop task's data changes and its finished iterations are kept whole.
    inst = Instance.create(BENCH)
    inst.run_engine()
    for step in range(45):
        loaded = check_dump(inst, f"step {step}")
        if step % 4 == 1:
            inst = loaded  # carry on from the loaded state now and then (a cold cache)
        _bench_step(inst, step, more=step < 40, note=f"第{step}次回访" if varying else None)
        if inst.is_completed():
            break
    assert inst.is_completed()
    check_dump(inst, "completed")
    visits = [t for t in inst.workflow.tasks.values() if t.task_spec.name == "m_visit [child]"]
    assert len(visits) == 33
    # the loop is over: every iteration is written as a delta again, as SpiffWorkflow writes it
    assert inst.dump() == plain_text(inst)


def test_loop_iterations_under_a_running_loop_are_kept_whole_when_the_loop_data_changes() -> None:
    inst = Instance.create(BENCH)
    inst.run_engine()
    for step in range(14):
        _bench_step(inst, step, more=True, note=f"note {step}")
        inst.dump()
    tasks = json.loads(inst.dump())["tasks"]
    done = [t for t in tasks.values() if t["task_spec"] == "m_visit [child]" and t["state"] == TaskState.COMPLETED]
    assert len(done) == 6
    # the newest iteration is a delta against the loop task; the earlier ones hold their whole data
    assert [bool(t["delta"]) for t in done] == [False] * 5 + [True]
    assert all(t["data"]["note"] == f"note {8 + i}" for i, t in enumerate(done[:5]))
    loaded = Instance.load(BENCH, inst.dump())
    for t in loaded.workflow.tasks.values():
        assert t.data == inst.workflow.tasks[t.id].data, t.task_spec.name


def test_bench_boundary_timer_cancels_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    with moved_clock(monkeypatch) as offset:
        inst = Instance.create(BENCH)
        inst.run_engine()
        for step in range(4):  # intake, assign, notice, schedule
            _bench_step(inst, step, more=False)
            inst = check_dump(inst, f"step {step}")
        assert [t.spec_id for t in inst.ready_human_tasks()] == ["m_session"]
        assert [t.spec_id for t in inst.waiting_timers()] == ["m_deadline"]
        offset[0] = timedelta(days=15)
        inst.fire_timers()
        assert inst.is_completed()
        assert inst.ready_human_tasks() == []
        states = {t.task_spec.name: t.state for t in inst.workflow.tasks.values()}
        assert states["m_session"] == TaskState.CANCELLED and states["m_end_escalated"] == TaskState.COMPLETED
        check_dump(inst, "after the timer")


# ------------------------------------------------------------------ shipped diagrams (bpmn/)
SHIPPED = definition(sorted((ROOT / "bpmn").glob("*.bpmn")) + sorted((ROOT / "bpmn").glob("*.dmn")), "dispute")
SHIPPED_ROUTES = [
    "village mediation -> written agreement -> judicial confirmation",  # call activities, loops, timers
    "transfer to town, then county",
    "labour clock expiry -> arbitration option",                        # a boundary timer fires
    "withdrawal signalled by the runtime at any time",                  # a signal interrupts mediation
    "police + lawyer with lawyer review",
]


def start_shipped() -> Instance:
    """A new case on the shipped diagrams, run to its first wait."""
    clocks = json.loads((ROOT / "bpmn" / "clocks.json").read_text(encoding="utf-8"))
    inst = Instance.create(SHIPPED, {"case_number": "T-1", "category": "neighbour", "level": "village",
                                     "current_level": "village", "clocks": clocks})
    inst.run_engine()
    return inst


def take_step(inst: Instance, i: int, name: str, data: dict[str, Any], offset: list[timedelta]) -> None:
    """One step of a route: move the clock and fire timers, send a signal, or complete a task."""
    if name == ADVANCE_CLOCK:
        offset[0] += timedelta(days=data.get("days", 0), hours=data.get("hours", 0))
        inst.fire_timers()
    elif name == SIGNAL:
        assert inst.send_signal(data["name"])
    else:
        matches = [t for t in inst.ready_human_tasks() if t.spec_id == name]
        assert matches, f"step {i}: {name} not ready: {[t.spec_id for t in inst.ready_human_tasks()]}"
        today = (datetime.now(UTC) + offset[0] + timedelta(hours=8)).date()
        inst.complete(matches[0].task_id, resolve(data, today))


@pytest.mark.parametrize("route", [r for r in ROUTES if r.name in SHIPPED_ROUTES], ids=lambda r: r.name)
def test_shipped_routes_dump_and_load_back_at_every_step(route: Route, monkeypatch: pytest.MonkeyPatch) -> None:
    with moved_clock(monkeypatch) as offset:
        inst = check_dump(start_shipped(), "start")
        for i, (name, data) in enumerate(route.steps):
            take_step(inst, i, name, data, offset)
            loaded = check_dump(inst, f"step {i} ({name})")
            if i % 3 == 2:
                inst = loaded
        assert inst.is_completed(), route.name
        assert inst.data.get("outcome") == route.outcome
        assert inst.workflow.subprocesses  # the call activities were written and read back


# ------------------------------------------------------------------ the cache never serves a stale fragment
def _bench_at_loop(visits: int) -> Instance:
    inst = Instance.create(BENCH)
    inst.run_engine()
    for step in range(8 + visits):
        _bench_step(inst, step, more=True)
        inst.dump()
    return inst


def _task(inst: Instance, spec_name: str, state: int = TaskState.COMPLETED) -> Any:
    return next(t for t in inst.workflow.tasks.values() if t.task_spec.name == spec_name and t.state == state)


def test_reset_to_a_finished_task_is_written_fresh() -> None:
    inst = _bench_at_loop(3)
    before = inst.dump()
    draft = _task(inst, "m_draft")
    inst.workflow.reset_from_task_id(draft.id)
    after = inst.dump()
    assert after != before
    assert after == fresh_dump(inst)
    assert [t.spec_id for t in inst.ready_human_tasks()] == ["m_draft"]
    check_dump(inst, "after reset")
    # and the case carries on from there
    _bench_step(inst, 0, more=False)
    check_dump(inst, "after the redo")


def test_changes_to_a_finished_task_are_written() -> None:
    inst = _bench_at_loop(2)
    inst.dump()
    sign = _task(inst, "m_sign")
    sign.data["late_remark"] = "补记"  # a new key: the size guard
    assert json.loads(inst.dump())["tasks"][str(sign.id)]["delta"]["updates"]["late_remark"] == "补记"
    sign.internal_data["marker"] = 1
    assert json.loads(inst.dump())["tasks"][str(sign.id)]["internal_data"] == {"marker": 1}
    sign.data = {**sign.data, "summary": "换过"}  # a replaced dict: the identity guard
    assert json.loads(inst.dump())["tasks"][str(sign.id)]["delta"]["updates"]["summary"] == "换过"
    sign.triggered = True
    assert json.loads(inst.dump())["tasks"][str(sign.id)]["triggered"] is True
    child = sign.children[0]
    sign._children.append(child.id)  # the children list is compared as a whole
    assert json.loads(inst.dump())["tasks"][str(sign.id)]["children"] == [str(child.id)] * 2
    sign._children.pop()
    assert inst.dump() == fresh_dump(inst)
    # a finished parent written again: its finished children's deltas are taken again
    gateway = sign.parent
    assert gateway.task_spec.name == "m_gw_approved" and gateway.state == TaskState.COMPLETED
    gateway.data = {**gateway.data, "record": "改过的记录"}
    written = json.loads(inst.dump())["tasks"]
    assert written[str(sign.id)]["delta"]["updates"]["record"] == sign.data["record"] != "改过的记录"
    check_dump(inst, "after the parent changed")


def test_a_running_task_sharing_nested_data_with_finished_ones_keeps_its_changes() -> None:
    # SpiffWorkflow copies task data shallowly: the parties list of every later task holds the very
    # dicts of the intake task's list. A script changing one in place changes the finished tasks'
    # data too; the fragments written before stay as they were, and the running task must not lose
    # the change by writing a delta against data that no longer loads that way.
    inst = Instance.create(BENCH)
    inst.run_engine()
    for step in range(3):
        _bench_step(inst, step, more=False)
    inst.dump()
    [ready] = inst.ready_human_tasks()
    task = inst.workflow.get_task_from_id(UUID(ready.task_id))
    intake = _task(inst, "m_intake")
    assert task.data["parties"][0] is intake.data["parties"][0]
    task.data["parties"][0]["name"] = "王芳（已更正）"
    loaded = Instance.load(BENCH, inst.dump())
    assert loaded.task_data(ready.task_id)["parties"][0]["name"] == "王芳（已更正）"
    loaded.complete(ready.task_id, copy.deepcopy(data_for("m_schedule")))
    assert loaded.data["parties"][0]["name"] == "王芳（已更正）"


def test_growing_lists_of_a_running_loop_are_extended_correctly() -> None:
    inst = _bench_at_loop(20)
    loop = _task(inst, "m_visit", TaskState.STARTED)
    for _ in range(3):
        written = json.loads(inst.dump())["tasks"][str(loop.id)]
        assert written["children"] == [str(c) for c in loop._children]
        assert written["internal_data"] == loop.internal_data
        _bench_step(inst, 0, more=True)
    loop.internal_data["merged"][0] = "replaced"  # not an append: written again in full
    assert json.loads(inst.dump())["tasks"][str(loop.id)]["internal_data"]["merged"][0] == "replaced"
    assert inst.dump() == fresh_dump(inst)


def test_data_that_cannot_be_stored_raises_and_does_not_poison_the_cache() -> None:
    inst = _bench_at_loop(1)
    [ready] = inst.ready_human_tasks()
    task = inst.workflow.get_task_from_id(UUID(ready.task_id))
    task.data["handle"] = object()
    with pytest.raises(EngineError, match="cannot be saved"):
        inst.dump()
    del task.data["handle"]
    sign = _task(inst, "m_sign")
    cycle: list[Any] = []
    cycle.append(cycle)
    sign.data["loop"] = cycle
    with pytest.raises(EngineError, match="cannot be saved"):
        inst.dump()
    del sign.data["loop"]
    assert inst.dump() == fresh_dump(inst)
    check_dump(inst, "after the fix")


def test_a_task_tree_thousands_deep_is_written_without_recursion() -> None:
    # A gateway loop nests every iteration one level deeper; the writer walks ancestors iteratively.
    d = definition([ROOT / "tests" / "fixtures" / "core" / "loop.bpmn"], "loop_case")
    inst = Instance.create(d)
    inst.run_engine()
    for i in range(600):
        [task] = inst.ready_human_tasks()
        inst.complete(task.task_id, {"more": i < 599})
    assert inst.is_completed()
    deepest = max(inst.workflow.tasks.values(), key=lambda t: t.depth)
    assert deepest.depth > 1200
    # cold cache, deepest task first: its ancestors are written first, without recursing
    memo = inst.workflow.__dict__[state_writer.MEMO_ATTR] = state_writer.DumpMemo()
    memo.stamp = 1
    writer = state_writer.StateWriter(d.serializer)
    assert writer._ensure(deepest, memo, 1).finished
    assert writer._snapshot(writer._ensure(deepest.parent, memo, 1)) == deepest.parent.data
    state = inst.dump()
    assert_same_state(json.loads(state), plain_state(inst), "deep tree")
    loaded = Instance.load(d, state)
    assert loaded.completed_task_count() == inst.completed_task_count()
    assert json.loads(fresh_dump(loaded)) == json.loads(state)


def test_a_child_of_a_finished_loop_iteration_is_written_against_the_iteration_as_loaded() -> None:
    # A finished iteration under a running loop is written as a delta against the loop task's data (or
    # whole); a task below it takes its own delta against what that fragment loads to.
    inst = _bench_at_loop(3)
    visits = [t for t in inst.workflow.tasks.values()
              if t.task_spec.name == "m_visit [child]" and t.state == TaskState.COMPLETED]
    for visit in visits[-2:]:
        child = visit._add_child(inst.workflow.spec.task_specs["m_end_closed"], TaskState.FUTURE)
        child.data = {"only": "this"}
    for label in ("cached", "cold"):
        state = json.loads(inst.dump() if label == "cached" else fresh_dump(inst))
        for visit in visits[-2:]:
            assert state["tasks"][str(visit.children[0].id)]["delta"]["deletions"], label
        assert_same_state(state, plain_state(inst), label)
    loaded = Instance.load(BENCH, inst.dump())
    for visit in visits[-2:]:
        assert loaded.task_data(str(visit.children[0].id)) == {"only": "this"}
