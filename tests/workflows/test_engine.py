"""The engine wrapper: by-reference state, memoised serialization, and the depth-limit guard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workflows import engine, state_writer
from workflows.engine import Definition, EngineError, Instance, dump_specs
from workflows.parsing import load_bundle

ROOT = Path(__file__).resolve().parents[2]


def definition(path: Path, process_id: str) -> Definition:
    bundle = load_bundle({path.name: path.read_bytes()})
    return Definition.from_json(dump_specs(*bundle.specs(process_id)))


def fresh_dump(instance: Instance) -> str:
    """The same instance serialized with every memo dropped."""
    for wf in [instance.workflow, *instance.workflow.subprocesses.values()]:
        wf.__dict__.pop(state_writer.MEMO_ATTR, None)
    return instance.dump()


def test_memoised_dump_equals_a_full_dump_at_every_step() -> None:
    from bench.steps import data_for

    d = definition(ROOT / "bench" / "mediation.bpmn", "bench_mediation")
    inst = Instance.create(d)
    inst.run_engine()
    for step in range(40):
        memo = inst.dump()
        assert memo == fresh_dump(inst), f"step {step}"
        if step % 3 == 0:
            inst = Instance.load(d, memo)  # the memoised JSON loads back
        [task] = inst.ready_human_tasks()
        data = data_for(task.spec_id, more_visits=step < 39)
        data["amount"] = "3000.00"
        inst.complete(task.task_id, data)
    assert inst.is_completed()
    assert json.loads(inst.dump())["spec"] == "bench_mediation"  # the spec is referenced, not embedded


def test_state_does_not_embed_the_spec() -> None:
    d = definition(ROOT / "tests" / "fixtures" / "core" / "core.bpmn", "core_case")
    inst = Instance.create(d, {"x": 1})
    inst.run_engine()
    state = json.loads(inst.dump())
    assert state["spec"] == "core_case" and state["subprocess_specs"] == {}
    assert state["serializer_version"]


def _walk_loop(d: Definition, iterations: int) -> Instance:
    inst = Instance.create(d)
    inst.run_engine()
    for i in range(iterations):
        [task] = inst.ready_human_tasks()
        inst.complete(task.task_id, {"more": i < iterations - 1})
    return inst


def test_gateway_loop_beyond_the_iterator_depth_limit_loses_no_task() -> None:
    # ~500 iterations of a gateway loop used to push the READY task past depth 1000, where
    # SpiffWorkflow stopped seeing it and reported the workflow complete.
    d = definition(ROOT / "tests" / "fixtures" / "core" / "loop.bpmn", "loop_case")
    inst = _walk_loop(d, 600)
    assert inst.is_completed()
    assert inst.completed_task_count() > 1200


def test_guard_refuses_to_save_when_the_engine_stops_short(monkeypatch: pytest.MonkeyPatch) -> None:
    d = definition(ROOT / "tests" / "fixtures" / "core" / "loop.bpmn", "loop_case")
    engine._raise_iterator_depth(1000)  # SpiffWorkflow's own default
    try:
        with pytest.raises(EngineError, match=r"READY|still open"):
            _walk_loop(d, 600)
    finally:
        engine._raise_iterator_depth(engine.ITERATOR_MAX_DEPTH)


def test_script_error_names_the_element() -> None:
    d = definition(ROOT / "tests" / "fixtures" / "core" / "broken.bpmn", "fragile_case")
    inst = Instance.create(d)
    inst.run_engine()
    with pytest.raises(EngineError) as info:
        inst.complete(inst.ready_human_tasks()[0].task_id, {"copies": 0})
    assert info.value.element_id == "fr_compute"
    assert inst.error_tasks() == ["fr_compute"]
    changed: Any = inst.reset_errors({"copies": 3})
    assert changed == [("fr_compute", {"copies": 0}, {"copies": 3})]
    inst.run_engine()
    assert [t.spec_id for t in inst.ready_human_tasks()] == ["fr_review"]
