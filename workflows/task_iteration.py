"""Faster task-tree iteration for SpiffWorkflow: the same tasks, in the same order.

SpiffWorkflow walks the whole task tree several times per step (waiting tasks after each task
completes, ready engine tasks, completion). Its iterator pops from the front of a list and calls a
filter method for every task, which in a long case (a standard loop with hundreds of iterations)
costs more than the rest of the step. ``install`` replaces ``TaskIterator.__next__`` and the two
``_next`` methods with equivalent code: a deque instead of ``list.pop(0)``, a filter that only
checks the task state tested inline, and no depth bookkeeping when the depth limit cannot be
reached (it can only stop a walk deeper than the tree has tasks; the engine raises it to a million,
see ``workflows.engine``). A walk for unfinished tasks also passes over settled leaves (finished
loop iterations, say: ``_unsettled_children``), so a long case's history no longer costs every walk.
``tests/workflows/test_task_iteration.py`` compares the two on every shipped route.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
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


_SETTLED = int(TaskState.COMPLETED | TaskState.CANCELLED)
_FINISHED = int(TaskState.FINISHED_MASK)
_CHILDREN_ATTR = "_fengqiao_children"


def _skips_settled(self: Any, task: Any) -> bool:
    """True when this walk may pass over finished leaves: it looks only for unfinished tasks (so a
    completed or cancelled task without children can neither match nor lead to one) and tracks no
    depth."""
    found = self.__dict__.get("_fengqiao_skip")
    if found is None:
        state = self.__dict__.get("_fengqiao_state", _UNSET)
        if state is _UNSET:
            state = self._fengqiao_state = _state_only(self.task_filter)
        found = self._fengqiao_skip = bool(state is not None and not state & _FINISHED
                                           and self.depth_first and _unbounded(self, task))
    return found


def _unsettled_children(task: Any) -> list[Any]:
    """``task.children`` less its settled children: completed or cancelled tasks without children
    that are no call activity or subprocess, such as the finished iterations under a standard loop
    task, which a long case accumulates by the hundred.

    The children's objects are remembered on the task with the id list they were resolved from
    (so they are not looked up by id on every walk), and reused while that list is the same object
    with the same length and the same first and last ids: SpiffWorkflow only appends children,
    inserts one at the front or removes some, so any change that keeps the length moves an end.
    Whether a child is settled is tested afresh on every walk.
    """
    ids = task._children
    known = task.__dict__.get(_CHILDREN_ATTR)
    if (known is None or known[0] is not ids or len(known[3]) != len(ids)
            or (ids and (known[1] is not ids[0] or known[2] is not ids[-1]))):
        lookup = task.workflow.tasks.get
        known = (ids, ids[0] if ids else None, ids[-1] if ids else None, [lookup(child) for child in ids])
        task.__dict__[_CHILDREN_ATTR] = known
    return [child for child in known[3] if child is None or not child._state & _SETTLED or child._children
            or isinstance(child.task_spec, SubWorkflowTask)]


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
            children = _unsettled_children(task) if _skips_settled(self, task) else task.children
            queue.extendleft(reversed(subprocess_tasks + children))
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
