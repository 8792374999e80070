"""The faster task-tree iteration visits the same tasks in the same order as SpiffWorkflow's own,
for every kind of query the engine makes, at every step of the shipped routes."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator, TaskState

from tests.workflows.test_state_writer import BENCH, moved_clock, start_shipped, take_step
from workflows import task_iteration
from workflows.engine import Instance

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "bpmn"))
from bpmn_routes import ROUTES, Route  # noqa: E402

QUERIES: list[dict[str, Any]] = [
    {}, {"state": TaskState.READY}, {"state": TaskState.WAITING}, {"state": TaskState.NOT_FINISHED_MASK},
    {"state": TaskState.FINISHED_MASK}, {"state": TaskState.READY, "manual": False},
    {"state": TaskState.ANY_MASK, "depth_first": False}, {"state": TaskState.PREDICTED_MASK},
    {"end_at_spec": "End"}, {"spec_name": "End"}, {"updated_ts": 1.0},
]


def walks(instance: Instance) -> list[list[str]]:
    """The task ids every query yields, on the top workflow and each subprocess, with both
    iterator classes."""
    workflows = [instance.workflow, *instance.workflow.subprocesses.values()]
    found = []
    for wf in workflows:
        for query in QUERIES:
            found.append([str(t.id) for t in TaskIterator(wf.task_tree, **query)])
            found.append([str(t.id) for t in BpmnTaskIterator(wf.task_tree, **query)])
        found.append([str(t.id) for t in BpmnTaskIterator(wf.task_tree, skip_subprocesses=True)])
    return found


def assert_same_walks(instance: Instance, label: str) -> None:
    fast = walks(instance)
    with task_iteration.original():
        slow = walks(instance)
    assert fast == slow, label


def route_trace(route: Route, monkeypatch: pytest.MonkeyPatch, check: bool) -> list[Any]:
    """Drive ``route`` through the shipped diagrams; returns what the case looked like after each step."""
    trace: list[Any] = []
    with moved_clock(monkeypatch) as offset:
        inst = start_shipped()
        for i, (name, data) in enumerate(route.steps):
            take_step(inst, i, name, data, offset)
            if check:
                assert_same_walks(inst, f"{route.name}: step {i} ({name})")
            trace.append(([t.spec_id for t in inst.ready_human_tasks()], [t.spec_id for t in inst.waiting_timers()],
                          sorted((t.task_spec.name, t.state) for t in inst._all_tasks())))
        trace.append(inst.data.get("outcome"))
    return trace


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_same_walks_and_same_run_on_every_route(route: Route, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = route_trace(route, monkeypatch, check=True)
    with task_iteration.original():
        slow = route_trace(route, monkeypatch, check=False)
    assert fast == slow
    assert fast[-1] == route.outcome


def test_same_walks_through_a_long_standard_loop() -> None:
    from tests.workflows.test_state_writer import _bench_step

    inst = Instance.create(BENCH)
    inst.run_engine()
    for step in range(8 + 60):
        _bench_step(inst, step, more=True)
        if step % 7 == 0:
            assert_same_walks(inst, f"bench step {step}")


def test_remembered_children_are_dropped_when_the_child_list_changes() -> None:
    """The children a walk remembers per task hold only while SpiffWorkflow's id list is unchanged:
    a list reordered by a removal and an append, or by a removal and an insert at the front, has
    the same length, and must still be walked in its new order."""
    from tests.workflows.test_state_writer import _bench_step

    inst = Instance.create(BENCH)
    inst.run_engine()
    for step in range(8 + 12):
        _bench_step(inst, step, more=True)
    loop = max(inst.workflow.tasks.values(), key=lambda t: len(t._children))
    assert len(loop._children) > 10
    assert_same_walks(inst, "before")  # the loop task's children are now remembered
    ids = loop._children
    moved = ids.pop(3)
    ids.append(moved)  # same length, another last id
    assert_same_walks(inst, "after a removal and an append")
    moved = ids.pop(5)
    ids.insert(0, moved)  # same length, another first id
    assert_same_walks(inst, "after a removal and an insert at the front")
    first_settled = next(t for t in loop.children if t.state == TaskState.COMPLETED and not t._children)
    first_settled._set_state(TaskState.READY)  # e.g. reset: a settled child is walked again at once
    assert_same_walks(inst, "after a settled child was reset")
    assert first_settled in inst.workflow.get_tasks(state=TaskState.READY)
    # Several changes between two walks: a removal and two appends (the list grew, its old last id moved)
    settled = [t for t in loop.children if t.state == TaskState.COMPLETED and not t._children]
    inst.workflow._remove_task(settled[2].id)
    spec = settled[0].task_spec
    loop._add_child(spec, TaskState.READY)
    loop._add_child(spec, TaskState.FUTURE)
    assert_same_walks(inst, "after a removal and two appends")
    # a settled child reset and an append
    settled = [t for t in loop.children if t.state == TaskState.COMPLETED and not t._children]
    settled[4]._set_state(TaskState.WAITING)
    loop._add_child(spec, TaskState.FUTURE)
    assert_same_walks(inst, "after a reset and an append")
    # a settled child gains a child of its own
    settled[5]._add_child(spec, TaskState.READY)
    assert_same_walks(inst, "after a settled child gained a child")


def test_same_walks_after_random_changes_to_the_tree() -> None:
    """State changes (forward and back), removed and added tasks and reordered child lists, one to
    three at a time, in a seeded random sequence over a long loop: every kind of walk still matches
    SpiffWorkflow's own."""
    import random

    from tests.workflows.test_state_writer import _bench_step

    states = [TaskState.MAYBE, TaskState.LIKELY, TaskState.FUTURE, TaskState.WAITING, TaskState.READY,
              TaskState.STARTED, TaskState.COMPLETED, TaskState.ERROR, TaskState.CANCELLED]
    rng = random.Random(7)
    inst = Instance.create(BENCH)
    inst.run_engine()
    for step in range(8 + 25):
        _bench_step(inst, step, more=True)
    wf = inst.workflow
    specs = list(wf.spec.task_specs.values())
    for round_ in range(300):
        done = []
        for _ in range(rng.randrange(1, 4)):  # up to three changes between two walks
            task = rng.choice(list(wf.tasks.values()))
            op = rng.randrange(4)
            done.append(op)
            if op == 0:
                task._set_state(rng.choice(states))
            elif op == 1 and task.parent is not None and not task._children:
                wf._remove_task(task.id)  # leaves only: the tree keeps growing (a branch would empty it)
            elif op == 2:
                try:
                    task._add_child(rng.choice(specs), rng.choice(states))
                except Exception:  # some specs refuse some parents: not what this test is about
                    continue
            elif task._children:
                task._children.append(task._children.pop(rng.randrange(len(task._children))))
        assert_same_walks(inst, f"round {round_} (operations {done})")
    assert len(wf.tasks) > 60


def test_a_finished_task_keeping_a_subprocess_is_still_walked_into(tmp_path: Path) -> None:
    """A version migration can turn a cancelled call activity into a plain task while its
    subprocess stays registered: SpiffWorkflow's walk still enters that subprocess, and so must ours
    (found in review; the engine itself does not reach this state)."""
    from tests.workflows.test_state_writer import definition, start_shipped
    from workflows.migration import _InstanceDiff

    for source in (ROOT / "bpmn").iterdir():
        text = source.read_text(encoding="utf-8")
        if source.name == "dispute.bpmn":  # call_prevention: a call activity becomes a user task
            start = re.search(r'<bpmn:callActivity id="call_prevention"[^>]*>', text)
            assert start is not None
            end = text.index("</bpmn:callActivity>", start.end())
            text = (text[:start.start()] + '<bpmn:userTask id="call_prevention" name="x">'
                    + text[start.end():end] + "</bpmn:userTask>" + text[end + len("</bpmn:callActivity>"):])
        (tmp_path / source.name).write_text(text, encoding="utf-8")
    changed = definition(sorted(tmp_path.glob("*.bpmn")) + sorted(tmp_path.glob("*.dmn")), "dispute")

    inst = start_shipped()
    workflow = inst.workflow
    call = next(t for t in workflow.tasks.values() if t.task_spec.name == "call_prevention")
    subprocess = workflow.subprocesses[call.id]
    call.cancel()
    lead = next(t for t in subprocess.tasks.values() if t.task_spec.name == "register_lead")
    subprocess.reset_from_task_id(lead.id)
    assert_same_walks(inst, "before the migration")
    _InstanceDiff(inst, changed).apply(inst)  # the spec becomes a user task; the subprocess stays
    assert_same_walks(inst, "after the migration")
    call._set_state(TaskState.COMPLETED)  # a settled task changes: everything is counted afresh
    assert_same_walks(inst, "after a recount")
