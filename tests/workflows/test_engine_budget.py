"""``Instance.run_engine`` stops diagrams that loop without ever waiting for a person or a timer."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from workflows import engine
from workflows.engine import Definition, EngineError, Instance, dump_specs
from workflows.parsing import load_bundle

DATA = Path(__file__).resolve().parents[1] / "data"
LOOP = DATA / "loop_forever.bpmn"  # start → script t → gateway g whose default flow returns to t


def loop_definition() -> Definition:
    bundle = load_bundle({LOOP.name: LOOP.read_bytes()})
    return Definition.from_json(dump_specs(*bundle.specs("spin")))


def test_a_loop_without_waits_ends_quickly_with_an_error_naming_the_element() -> None:
    inst = Instance.create(loop_definition())
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        inst.run_engine()
    assert time.monotonic() - started < engine.ENGINE_MAX_SECONDS + 5
    err = info.value
    assert "engine step budget exceeded after" in err.message
    assert "the diagram loops without waiting for a person or a timer" in err.message
    assert err.element_id in {"t", "g"}
    assert f"at element {err.element_id}:" in err.message


def test_the_task_budget_counts_tasks_of_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "ENGINE_MAX_TASKS", 50)
    with pytest.raises(EngineError, match=r"budget exceeded after 51 tasks at element (t|g):"):
        Instance.create(loop_definition()).run_engine()


def test_the_time_budget_stops_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "ENGINE_MAX_TASKS", 10**9)
    monkeypatch.setattr(engine, "ENGINE_MAX_SECONDS", 0.3)
    started = time.monotonic()
    with pytest.raises(EngineError, match="engine step budget exceeded") as info:
        Instance.create(loop_definition()).run_engine()
    assert time.monotonic() - started < 3
    assert info.value.element_id in {"t", "g"}


def test_the_validator_does_not_have_to_catch_the_loop() -> None:
    """Whatever the validator says, running the diagram is what must stay bounded."""
    from workflows.validation import validate_bundle

    verdicts = validate_bundle({LOOP.name: LOOP.read_bytes()})
    assert verdicts  # a verdict, not a hang or a traceback
