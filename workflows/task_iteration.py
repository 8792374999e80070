"""Faster task-tree iteration for SpiffWorkflow: the same tasks, in the same order.

SpiffWorkflow walks the whole task tree several times per step (waiting tasks after each task
completes, ready engine tasks, completion). Its iterator pops from the front of a list and calls a
filter method for every task, which in a long case (a standard loop with hundreds of iterations)
costs more than the rest of the step. ``install`` replaces ``TaskIterator.__next__`` and the two
``_next`` methods with equivalent code: a deque instead of ``list.pop(0)``, a filter that only
checks the task state tested inline, and no depth bookkeeping when the depth limit cannot be
reached (it can only stop a walk deeper than the tree has tasks; the engine raises it to a million,
see ``workflows.engine``). A walk for unfinished tasks also passes over settled leaves (finished
loop iterations, say: ``_unsettled_children``), remembered per task; ``Task._set_state`` and
``Task._child_added_notify`` are wrapped to count settled tasks that stop being so, which makes the
remembered lists be counted afresh. A long case's history then no longer costs every walk.
``tests/workflows/test_task_iteration.py`` compares the two on every shipped route.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter, BpmnTaskIterator
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskFilter, TaskIterator, TaskState

_ORIGINAL = (TaskIterator.__next__, TaskIterator._next, BpmnTaskIterator._next)
_ORIGINAL_SET_STATE = Task._set_state
_ORIGINAL_CHILD_ADDED = Task._child_added_notify
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
_UNSETTLED_ATTR = "_fengqiao_unsettled"


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


def _may_lead_on(child: Any, subprocesses: Any) -> bool:
    """False for a settled child: completed or cancelled, without children, and neither with a
    subprocess registered under its id (which the walk may enter even when the task is finished; a
    version migration can leave one under a task that is no call activity any more) nor a call
    activity or subprocess by its spec. A finished task is never given a subprocess later."""
    return (child is None or not child._state & _SETTLED or bool(child._children)
            or isinstance(child.task_spec, SubWorkflowTask) or (bool(subprocesses) and child.id in subprocesses))


def _subprocesses(task: Any) -> Any:
    workflow = task.workflow
    top = workflow.top_workflow if hasattr(workflow, "top_workflow") else workflow
    return getattr(top, "subprocesses", None)


def _unsettled_children(task: Any) -> list[Any]:
    """``task.children`` less its settled children, such as the finished iterations under a standard
    loop task, which a long case accumulates by the hundred; in order.

    Remembered on the task: the id list the children were resolved from (so they are not looked up
    by id on every walk), the children, and those not settled at the last count, with the
    workflow's unsettling count (``_note_unsettled``) at that time. The list of ids is trusted
    while it is the same object with the same first id and its previous last id still at the same
    place: SpiffWorkflow only appends children, inserts one at the front or removes some, so then
    only new ids were appended (resolved and tested on their own). Children that settled since the
    last count are walked in vain, harmlessly, until the next count; a settled child that is
    reset or gains a child bumps the unsettling count, and everything is counted afresh.
    """
    ids = task._children
    count = task.workflow.__dict__.get(_UNSETTLED_ATTR, 0)
    known = task.__dict__.get(_CHILDREN_ATTR)
    if known is not None and known[0] is ids and ids and known[1] is ids[0]:
        _ids, _first, last, children, open_children, at = known
        n = len(children)
        if len(ids) == n and ids[-1] is last:
            if at == count:
                return open_children
            subprocesses = _subprocesses(task)
            open_children = [child for child in children if _may_lead_on(child, subprocesses)]
        elif len(ids) > n and ids[n - 1] is last:  # only appended to
            lookup = task.workflow.tasks.get
            tail = [lookup(child) for child in ids[n:]]
            children = children + tail
            previous = open_children if at == count else children[:n]
            subprocesses = _subprocesses(task)
            open_children = [child for child in previous + tail if _may_lead_on(child, subprocesses)]
        else:
            known = None
        if known is not None:
            task.__dict__[_CHILDREN_ATTR] = (ids, ids[0], ids[-1], children, open_children, count)
            return open_children
    lookup = task.workflow.tasks.get
    children = [lookup(child) for child in ids]
    subprocesses = _subprocesses(task)
    open_children = [child for child in children if _may_lead_on(child, subprocesses)]
    task.__dict__[_CHILDREN_ATTR] = (ids, ids[0] if ids else None, ids[-1] if ids else None, children,
                                     open_children, count)
    return open_children


def _note_unsettled(task: Any) -> None:
    """Count, on the task's workflow, a settled task that stops being one (reset, or a new child)."""
    workflow = task.workflow.__dict__
    workflow[_UNSETTLED_ATTR] = workflow.get(_UNSETTLED_ATTR, 0) + 1


def _set_state(self: Any, value: int) -> None:
    """``Task._set_state``, noting a settled task whose state changes."""
    if self._state & _SETTLED and value != self._state:
        _note_unsettled(self)
    _ORIGINAL_SET_STATE(self, value)


def _child_added_notify(self: Any, child: Any) -> None:
    """``Task._child_added_notify``, noting a settled task that gains a child."""
    if self._state & _SETTLED:
        _note_unsettled(self)
    _ORIGINAL_CHILD_ADDED(self, child)


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
    Task._set_state = _set_state  # type: ignore[method-assign]
    Task._child_added_notify = _child_added_notify  # type: ignore[method-assign]
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
