"""The diagram-code sandbox, alone and driven by the real SpiffWorkflow engine."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.util.task import TaskState

from workflows.parsing import load_bundle
from workflows.sandbox import (
    SandboxError,
    SandboxTimeout,
    compile_check,
    compile_code,
    make_script_engine,
)

DATA = Path(__file__).resolve().parents[1] / "data"


def env(**kwargs):
    return make_script_engine(**kwargs).environment


def run_file(path: Path, time_limit: float = 1.0, data: dict | None = None) -> BpmnWorkflow:
    """Parse one fixture and run it to completion (or to the first error) on the sandbox."""
    bundle = load_bundle({path.name: path.read_bytes()})
    spec, subs = bundle.specs(bundle.process_ids[0])
    wf = BpmnWorkflow(spec, subs, script_engine=make_script_engine(time_limit=time_limit))
    if data:
        wf.get_tasks(state=TaskState.READY)[0].data.update(data)
    wf.do_engine_steps()
    return wf


# ------------------------------------------------------------------ plain evaluation

def test_expressions_and_scripts_work():
    e = env()
    assert e.evaluate("x * 2 + len(items)", {"x": 3, "items": [1, 2]}) == 8
    assert e.evaluate("f'{name}:{n:>3}'", {"name": "张伟", "n": 7}) == "张伟:  7"
    ctx = {"parties": [{"name": "a", "claim": 3}, {"name": "b", "claim": 4}]}
    e.execute("total = 0\nfor p in parties:\n    total += p['claim']\nnames = sorted(p['name'] for p in parties)\n"
              "d = {}\nd['k'] = 1\na, b = 1, 2", ctx)
    assert ctx["total"] == 7 and ctx["names"] == ["a", "b"] and ctx["d"] == {"k": 1}
    assert "__builtins__" not in ctx and "_getattr_" not in ctx and "today" not in ctx


def test_functions_defined_by_a_script_are_stripped_from_task_data():
    ctx: dict = {}
    env().execute("def double(v):\n    return v * 2\nresult = double(21)", ctx)
    assert ctx == {"result": 42}


def test_task_data_may_not_shadow_helpers():
    with pytest.raises(ValueError, match="today"):
        env().execute("x = 1", {"today": "2025-01-01"})


def test_task_data_cannot_replace_guards_in_expressions():
    assert env().evaluate("len(s)", {"s": "abc", "_getattr_": "evil", "__builtins__": {}}) == 3


@pytest.mark.parametrize("source, message", [
    ("__import__('os')", '"__import__" is an invalid variable name'),
    ("().__class__.__bases__[0].__subclasses__()", "invalid attribute name"),
    ("'{0.__class__}'.format(x)", "'.format' is not allowed"),
    ("'{x}'.format_map(d)", "'.format_map' is not allowed"),
    ("open('/etc/passwd')", "'open' is not available"),
    ("getattr(x, 'y')", "'getattr' is not available"),
    ("Exception.mro()", "'.mro' is not allowed"),
])
def test_dangerous_expressions_are_refused_at_compile_time(source, message):
    with pytest.raises(SandboxError, match=message):
        compile_check(source, "eval")


@pytest.mark.parametrize("source, message", [
    ("import os", "import statements are not allowed"),
    ("from os import system", "import statements are not allowed"),
    ("try:\n    x = 1\nexcept:\n    pass", "try/except is not allowed in diagram code"),
    ("try:\n    x = 1\nfinally:\n    pass", "try/except is not allowed in diagram code"),
    ("try:\n    x = 1\nexcept errors[0]:\n    pass", "try/except is not allowed in diagram code"),
    ("try:\n    x = 1\nexcept* ValueError:\n    pass", "try/except is not allowed in diagram code"),
    ("with x as y:\n    pass", "'with' statements are not allowed in diagram code"),
])
def test_dangerous_statements_are_refused_at_compile_time(source, message):
    with pytest.raises(SandboxError, match=message):
        compile_check(source, "exec")


def test_compile_check_reports_the_line():
    with pytest.raises(SandboxError) as info:
        compile_check("x = 1\ny = (\n", "exec")
    assert info.value.line is not None and info.value.line >= 2
    with pytest.raises(SandboxError) as info:
        compile_check("x = 1\ny = ().__class__", "exec")
    assert info.value.line == 2
    with pytest.raises(SandboxError, match="empty"):
        compile_check("   ", "eval")


def test_runtime_guards_back_up_the_compiler():
    from workflows.sandbox_guards import guarded_getattr, sandbox_builtins
    with pytest.raises(AttributeError, match="format"):
        guarded_getattr("{0}", "format")
    with pytest.raises(AttributeError):
        guarded_getattr((), "__class__")
    builtins = sandbox_builtins()
    for name in ("open", "eval", "exec", "__import__", "getattr", "setattr", "BaseException", "type"):
        assert name not in builtins


# ------------------------------------------------------------------ memory guards

@pytest.mark.parametrize("source, message", [
    ("'a' * 10**10", "multiplication would create a sequence of 10000000000 items; the limit is 1,000,000"),
    ("[0] * 10**9", "multiplication would create a sequence of 1000000000 items"),
    ("10**10**10", "exponentiation would create an integer"),
    ("pow(10, 10**8)", "exponentiation would create an integer"),
    ("1 << 10**9", "left shift would create an integer"),
    ("range(10**7)", "range would create a sequence of 10000000 items"),
    ("'x'.ljust(10**9)", "padding"),
    ("'%999999999d' % 1", "formatting"),
    ("f'{1:>999999999}'", "formatting width"),
    ("('a' * 10**6).join(['', '', ''])", "join"),
    ("('a' * 10**6).replace('', 'bb')", "replace"),
])
def test_memory_bombs_are_refused_before_allocating(source, message):
    with pytest.raises(SandboxError, match=message):
        env().evaluate(source, {})


@pytest.mark.parametrize("script", [
    "s = 'a'\nfor i in range(40):\n    s = s + s",
    "s = 'a'\nfor i in range(40):\n    s += s",
    "l = [1]\nfor i in range(40):\n    l.extend(l)",
    "l = [1]\nfor i in range(40):\n    l *= 2",
])
def test_doubling_loops_are_refused(script):
    with pytest.raises(SandboxError, match="would create a sequence"):
        env().execute(script, {})


def test_memory_growth_is_limited():
    with pytest.raises(SandboxError, match="MiB of memory"):
        env(memory_limit_mb=64).execute("x = [list(range(10**6)) for _ in range(10**6)]", {})


# ------------------------------------------------------------------ time limit

def test_infinite_loop_times_out_with_a_clear_message():
    started = time.monotonic()
    with pytest.raises(SandboxTimeout, match=r"script exceeded the 0.2 s time limit"):
        env(time_limit=0.2).execute("while True: pass", {})
    assert time.monotonic() - started < 2


def test_time_limit_cannot_be_swallowed_by_an_exception_handler():
    # With handlers, a NameError raised while looking up 'BaseException' (not a builtin) replaced
    # the time-limit signal and an outer 'except NameError' swallowed it: try is now refused.
    script = ("while True:\n    try:\n        try:\n            while True:\n                pass\n"
              "        except BaseException:\n            pass\n    except NameError:\n        pass")
    with pytest.raises(SandboxError, match="try/except is not allowed in diagram code") as info:
        env(time_limit=0.2).execute(script, {})
    assert info.value.line == 2


def test_time_limit_works_outside_the_main_thread_and_restores_the_tracer():
    def previous(frame, event, arg):
        return None

    outcome: dict = {}

    def worker():
        sys.settrace(previous)
        try:
            env(time_limit=0.2).evaluate("[i for i in range(10**6) for j in range(10**6)]", {})
        except SandboxTimeout as err:
            outcome["error"] = err
        outcome["tracer"] = sys.gettrace()
        sys.settrace(None)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert isinstance(outcome.get("error"), SandboxTimeout)
    assert outcome["tracer"] is previous


def test_recursion_is_stopped():
    with pytest.raises(SandboxError, match="recursion"):
        env().execute("def f(n):\n    return f(n + 1)\nf(0)", {})


# ------------------------------------------------------------------ helpers

def test_date_helpers():
    e = env(holidays=["2025-10-01", "2025-10-02", "2025-10-03", "2025-10-06", "2025-10-07", "2025-10-08"],
            workdays=["2025-09-28", "2025-10-11"])
    # Friday 2025-09-26 + 1 working day = Sunday 2025-09-28 (调休 make-up day)
    assert e.evaluate("add_working_days('2025-09-26', 1)", {}) == "2025-09-28"
    # National Day week: 09-30 + 1 → 10-09 (holidays 1–8 skipped, 4–5 weekend)
    assert e.evaluate("add_working_days('2025-09-30', 1)", {}) == "2025-10-09"
    assert e.evaluate("add_working_days('2025-10-09', 2)", {}) == "2025-10-11"
    assert e.evaluate("add_working_days('2025-10-09', -1)", {}) == "2025-09-30"
    assert e.evaluate("add_days('2025-12-31', 1)", {}) == "2026-01-01"
    assert e.evaluate("days_between('2025-01-01', '2025-03-01')", {}) == 59
    assert e.evaluate("iso_duration_days(3)", {}) == "P3D"
    assert len(e.evaluate("today()", {})) == 10
    assert e.evaluate("now()", {}).endswith("+00:00")


# ------------------------------------------------------------------ caching and cost

def test_compiled_code_is_cached():
    compile_code.cache_clear()
    e = env()
    for _ in range(50):
        e.evaluate("a > 3 and b == 'x'", {"a": 5, "b": "x"})
    info = compile_code.cache_info()
    assert info.misses == 1 and info.hits == 49


def test_sandbox_overhead_is_small():
    e = env()
    ctx = {"severity": "high", "claim_amount": 20000}
    e.evaluate("severity == 'high' and claim_amount > 10000", ctx)
    started = time.perf_counter()
    for _ in range(1000):
        e.evaluate("severity == 'high' and claim_amount > 10000", ctx)
        e.execute("deadline = add_days('2025-01-01', 3)", dict(ctx))
    per_pair_ms = (time.perf_counter() - started)  # seconds for 1000 pairs == ms per pair
    assert per_pair_ms < 0.5


# ------------------------------------------------------------------ through SpiffWorkflow

@pytest.mark.parametrize("fixture, message", [
    ("infinite_loop.bpmn", "script exceeded the 0.3 s time limit"),
    ("huge_allocation.bpmn", "multiplication would create a sequence of 10000000000 items"),
])
def test_hostile_scripts_fail_cleanly_on_a_real_workflow(fixture, message):
    with pytest.raises(WorkflowTaskException) as info:
        run_file(DATA / "hostile" / fixture, time_limit=0.3)
    err = info.value
    assert message in str(err)
    assert err.task.task_spec.bpmn_id == "run_script"
    assert err.line_number in (2, 3) or fixture == "huge_allocation.bpmn"


GATEWAY_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="gw" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="choose" default="f3"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="end_a"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_b"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="choose" />
    <bpmn:sequenceFlow id="f2" sourceRef="choose" targetRef="end_a">
      <bpmn:conditionExpression>len('a' * 10**10) &gt; 3</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f3" sourceRef="choose" targetRef="end_b" />
  </bpmn:process>
</bpmn:definitions>"""


def test_gateway_condition_error_names_the_element():
    bundle = load_bundle({"gw.bpmn": GATEWAY_BPMN.encode()})
    spec, subs = bundle.specs("gw")
    wf = BpmnWorkflow(spec, subs, script_engine=make_script_engine())
    with pytest.raises(WorkflowTaskException, match="multiplication would create") as info:
        wf.do_engine_steps()
    assert info.value.task.task_spec.bpmn_id == "choose"


def test_bundle_runs_end_to_end_on_the_sandbox():
    files = {p.name: p.read_bytes() for p in (DATA / "bundle").iterdir()}
    bundle = load_bundle(files)
    spec, subs = bundle.specs("case_flow")
    engine = make_script_engine(holidays=["2025-10-01", "2025-10-02", "2025-10-03"])
    wf = BpmnWorkflow(spec, subs, script_engine=engine)
    wf.do_engine_steps()
    intake = wf.get_tasks(state=TaskState.READY, manual=True)[0]
    assert intake.task_spec.bpmn_id == "intake" and intake.task_spec.lane == "调解员"
    intake.data.update({"dispute_type": "violence", "claim_amount": 50000})
    intake.run()
    wf.do_engine_steps()
    review = wf.get_tasks(state=TaskState.READY, manual=True)[0]
    assert review.task_spec.bpmn_id == "legal_review"
    assert review.data["severity"] == "high"
    assert review.data["deadline"] == "2025-10-08"  # 09-30 + 3 working days over National Day
    review.run()
    wf.do_engine_steps()
    visit = wf.get_tasks(state=TaskState.READY, manual=True)[0]
    assert visit.task_spec.bpmn_id == "visit"
    visit.run()
    wf.do_engine_steps()
    assert wf.is_completed()
