"""Faster task-tree iteration for SpiffWorkflow: the same tasks, in the same order.

SpiffWorkflow walks the whole task tree several times per step (waiting tasks after each task
completes, ready engine tasks, completion). Its iterator pops from the front of a list and calls a
filter method for every task, which in a long case (a standard loop with hundreds of iterations)
costs more than the rest of the step. ``install`` replaces ``TaskIterator.__next__`` and the two
``_next`` methods with equivalent code: a deque instead of ``list.pop(0)``, a filter that only
checks the task state tested inline, and no depth bookkeeping when the depth limit cannot be
reached (it can only stop a walk deeper than the tree has tasks; the engine raises it to a million,
see ``workflows.engine``). ``tests/workflows/test_task_iteration.py`` compares the two
on every shipped route.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter, BpmnTaskIterator
from SpiffWorkflow.util.task import TaskFilter, TaskIterator, TaskState

_ORIGINAL = (TaskIterator.__next__, TaskIterator._next, BpmnTaskIterator._next)
_UNSET = object()


def _state_only(task_filter: Any) -> int | None:
    """The state mask when ``task_filter`` checks nothing but the state, else None."""
    kind = type(task_filter)
    if kind is not TaskFilter and kind is not BpmnTaskFilter:
        return None
    if (task_filter.updated_ts != 0 or task_filter.manual is not None or task_filter.spec_name is not None
            or task_filter.spec_class is not None):
        return None
    if kind is BpmnTaskFilter and (task_filter.catches_event is not None or task_filter.lane is not None):
        return None
    return int(task_filter.state)


def _next_match(self: Any) -> Any:
    """``TaskIterator.__next__``: the next task that matches the filter."""
    state = self.__dict__.get("_fengqiao_state", _UNSET)
    if state is _UNSET:
        state = self._fengqiao_state = _state_only(self.task_filter)
    if state is None:
        task = self._next()
        while not self.task_filter.matches(task):
            task = self._next()
        return task
    task = self._next()
    # ``last_state_change >= 0`` (the default ``updated_ts``) holds for every task.
    while not task._state & state:
        task = self._next()
    return task


def _queue(self: Any) -> deque[Any]:
    queue = self.task_list
    if type(queue) is not deque:
        queue = self.task_list = deque(queue)
    return queue


def _unbounded(self: Any, task: Any) -> bool:
    """True when this depth-first walk can never reach ``max_depth``: the walk is no deeper than
    the number of tasks in the top workflow and its subprocesses."""
    found = self.__dict__.get("_fengqiao_unbounded")
    if found is None:
        top = task.workflow.top_workflow if hasattr(task.workflow, "top_workflow") else task.workflow
        size = len(top.tasks) + sum(len(sp.tasks) for sp in getattr(top, "subprocesses", {}).values())
        found = self._fengqiao_unbounded = bool(self.depth_first and size < self.max_depth)
    return found


def _walk(self: Any, in_subprocesses: bool) -> Any:
    """``TaskIterator._next`` (``in_subprocesses`` False) or ``BpmnTaskIterator._next`` (True, which
    also descends from a call activity's task into its subprocess), on a deque."""
    queue = _queue(self)
    if not queue:
        raise StopIteration()
    task = queue.popleft()
    subprocess = task.workflow.top_workflow.subprocesses.get(task.id) if in_subprocesses else None
    if ((task._children or subprocess is not None) and (task._state >= self.min_state or subprocess is not None)
            and (_unbounded(self, task) or self.depth < self.max_depth) and task.task_spec.name != self.end_at_spec):
        # Do not descend into a completed subprocess to look for unfinished tasks.
        if (subprocess is None or self.skip_subprocesses
                or (task._state >= TaskState.FINISHED_MASK and self.task_filter.state <= TaskState.FINISHED_MASK)):
            subprocess_tasks = []
        else:
            subprocess_tasks = [subprocess.task_tree]
        if self.depth_first:
            queue.extendleft(reversed(subprocess_tasks + task.children))
        else:
            queue.extend(task.children + subprocess_tasks)
        if not _unbounded(self, task):
            self._update_depth(task)
    elif self.depth_first and queue and not _unbounded(self, task):
        self._handle_leaf_depth(task)
    return task


def _task_next(self: Any) -> Any:
    return _walk(self, False)


def _bpmn_next(self: Any) -> Any:
    return _walk(self, True)


def install() -> None:
    TaskIterator.__next__ = _next_match  # type: ignore[method-assign]
    TaskIterator._next = _task_next  # type: ignore[method-assign]
    BpmnTaskIterator._next = _bpmn_next  # type: ignore[method-assign]


@contextmanager
def original() -> Iterator[None]:
    """SpiffWorkflow's own iteration, for comparison (tests)."""
    TaskIterator.__next__, TaskIterator._next, BpmnTaskIterator._next = _ORIGINAL  # type: ignore[method-assign]
    try:
        yield
    finally:
        install()
