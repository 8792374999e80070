"""``Instance.dump``'s writer: the by-reference workflow JSON, built from cached task fragments.

SpiffWorkflow never prunes history, so a long case would re-encode hundreds of finished tasks on
every save. ``StateWriter`` produces the same JSON as ``json.dumps(serializer.to_dict(workflow))``
(same keys, same order) but keeps each finished task's encoded text on the task and joins cached
pieces; only tasks that changed are encoded again. See ``tests/workflows/test_engine_dump.py``.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

_FINISHED = TaskState.COMPLETED | TaskState.CANCELLED
MEMO_ATTR = "_fengqiao_task_memo"
"""Attribute of each (sub)workflow holding its ``DumpMemo``; dropping it invalidates every fragment."""
_ENTRY_ATTR = "_fengqiao_dump_entry"
"""Attribute of each task holding its ``_TaskEntry`` (set by ``Instance.dump``)."""

# How a task's data is written. TaskConverter.from_dict restores all four: a non-empty ``delta`` is
# applied to the parent's restored data, an empty one means ``data`` holds the whole of it.
_ROOT = 1        # no parent: the whole data (as TaskConverter.to_dict does)
_DELTA = 2       # delta against a finished parent's data as written (its entry's ``snap``)
_LIVE_DELTA = 3  # finished task, unfinished parent: delta against the parent's data, kept while
                 # the parent's data encodes the same (``fp``)
_FULL = 4        # finished task, unfinished parent whose data changed since: the whole data


class DumpMemo:
    """One workflow's memo: its identity marks the task entries built for it; ``stamp`` counts dumps."""

    __slots__ = ("stamp",)

    def __init__(self) -> None:
        self.stamp = 0


class _TaskEntry:
    """One task's JSON fragment (``"<id>": {...}``) and what it was built from.

    The entry of a finished task is reused by later dumps while its signature and its base hold; the
    entry of an unfinished task is rebuilt by every dump (reusing the text of its children list and of
    long lists in its internal data while they only grew) and serves that dump as a parent.
    ``snap`` (finished tasks, built on demand) is the data that loading the fragment gives back: the
    children of a finished task write their delta against it rather than against the task's live data,
    which nested values shared between tasks (SpiffWorkflow copies data shallowly and merges in place)
    may have changed since the fragment was frozen. ``fp`` (unfinished tasks, on demand) is the JSON of
    the live data, which ``_LIVE_DELTA`` children were written against.
    """

    __slots__ = ("base", "children", "ctext", "finished", "fp", "itext", "live", "memo", "mode", "ptask", "sig",
                 "snap", "stamp", "text")

    def __init__(self, memo: DumpMemo, stamp: int, finished: bool) -> None:
        self.memo = memo
        self.stamp = stamp
        self.finished = finished
        self.mode = _ROOT
        self.sig: tuple[Any, ...] | None = None
        self.children: list[UUID] = []
        self.ctext: str | None = None  # JSON of a long children list
        self.itext: dict[str, tuple[list[str], str]] = {}  # long all-str lists in internal data → JSON
        self.text = ""
        self.base: _TaskEntry | None = None  # _DELTA: the parent's entry
        self.ptask: Any = None               # _LIVE_DELTA, _FULL: the (unfinished) parent task
        self.live: dict[str, Any] | None = None  # unfinished task: its data (for ``fp``, this dump only)
        self.fp: str | None = None
        self.snap: dict[str, Any] | None = None


def _signature(task: Any) -> tuple[Any, ...]:
    """What can change in a finished task's fragment. ``last_state_change`` moves with every state
    change (reset, retry); SpiffWorkflow does not replace, re-key or add to the data and internal data
    of finished tasks (only of running ones), their identity and size are a cheap guard all the same."""
    return (task._state, task.last_state_change, task.triggered, task.task_spec, task._parent,
            id(task.data), len(task.data), id(task.internal_data), len(task.internal_data))


_LONG_LIST = 16


class StateWriter:
    """Writes a workflow as ``json.dumps(serializer.to_dict(workflow))`` would (same keys in the same
    order), joining cached fragments of finished tasks instead of converting and encoding the whole
    history on every save. Beyond ``TaskConverter.to_dict``, a finished task under an unfinished parent
    (an iteration of a running loop) may be written with its whole data and an empty delta, which
    ``TaskConverter.from_dict`` restores as-is; deltas against a finished parent are taken against the
    parent's data as written (see ``_TaskEntry``)."""

    def __init__(self, serializer: BpmnWorkflowSerializer) -> None:
        self.serializer = serializer
        self.registry = serializer.registry
        self.encode = serializer._encoder_cls(ensure_ascii=False).encode

    def state(self, workflow: BpmnWorkflow) -> str:
        """The whole state as one JSON text."""
        return "".join(self._write(workflow, None))

    def parts(self, workflow: BpmnWorkflow) -> tuple[str, dict[str, list[str]]]:
        """The state split for row storage: the JSON with every ``"tasks"`` object left empty, and
        per workflow (``""`` for the top one, else the subprocess id) its task fragments in order,
        each ``"<task id>": {...}`` (the id is the fragment's characters 1 to 37)."""
        tasks: dict[str, list[str]] = {}
        return "".join(self._write(workflow, tasks)), tasks

    def _write(self, workflow: BpmnWorkflow, tasks: dict[str, list[str]] | None) -> list[str]:
        # One list of pieces and a single join: the state can be large, and every intermediate copy
        # of it costs as much as the cached fragments save.
        encode, registry = self.encode, self.registry
        out: list[str] = []
        subprocesses = []
        for sp_id, sp in workflow.subprocesses.items():
            subprocesses.extend((", " if subprocesses else "", encode(str(sp_id)), ": "))
            self._workflow(sp, [
                ("parent_task_id", encode(str(sp.parent_task_id))),
                ("spec", encode(sp.spec.name)),
                ("typename", encode(registry.typenames[sp.__class__])),
            ], subprocesses, tasks, str(sp_id))
        self._workflow(workflow, [
            ("spec", encode(workflow.spec.name)),
            ("subprocess_specs", "{}"),
            ("subprocesses", "{" + "".join(subprocesses) + "}"),
            ("bpmn_events", encode(registry.convert(workflow.bpmn_events))),
            ("typename", encode(registry.typenames[workflow.__class__])),
            (self.serializer.VERSION_KEY, encode(self.serializer.VERSION)),
        ], out, tasks, "")
        return out

    def _workflow(self, workflow: Any, extra: list[tuple[str, str]], out: list[str],
                  tasks: dict[str, list[str]] | None, key: str) -> None:
        """``WorkflowConverter.to_dict`` plus ``extra`` keys, as JSON text appended to ``out``; with
        ``tasks``, the task fragments go to ``tasks[key]`` and the ``"tasks"`` object stays empty."""
        encode, registry = self.encode, self.registry
        last = workflow.last_task
        out.extend((
            '{"data": ', encode(registry.convert(registry.clean(workflow.data))),
            ', "correlations": ', encode(workflow.correlations),
            ', "last_task": ', encode(str(last.id) if last is not None else None),
            ', "success": ', encode(workflow.success),
            ', "completed": ', encode(workflow.completed),
            ', "tasks": {',
        ))
        texts: list[str] = []
        self._tasks(workflow, texts)
        if tasks is None:
            out.append(", ".join(texts))
        else:
            tasks[key] = texts
        out.extend(('}, "root": ', encode(str(workflow.task_tree.id))))
        for name, value in extra:
            out.extend((f', "{name}": ', value))
        out.append("}")

    def _tasks(self, workflow: Any, out: list[str]) -> None:
        memo = workflow.__dict__.get(MEMO_ATTR)
        if type(memo) is not DumpMemo:
            memo = workflow.__dict__[MEMO_ATTR] = DumpMemo()
        memo.stamp += 1
        stamp = memo.stamp
        append = out.append
        for task in workflow.tasks.values():
            # Fast path of ``_entry`` for a finished task whose parent was already seen in this dump.
            e = task.__dict__.get(_ENTRY_ATTR)
            if (e is not None and e.finished and e.memo is memo and e.children == task._children
                    and e.sig == (task._state, task.last_state_change, task.triggered, task.task_spec, task._parent,
                                  id(task.data), len(task.data), id(task.internal_data), len(task.internal_data))):
                mode = e.mode
                if mode == _DELTA:
                    hit = e.base.stamp == stamp
                elif mode == _ROOT:
                    hit = True
                elif e.ptask._state & _FINISHED:
                    hit = False
                elif mode == _FULL:
                    hit = True
                else:  # _LIVE_DELTA
                    pe = e.ptask.__dict__.get(_ENTRY_ATTR)
                    hit = (pe is not None and pe.stamp == stamp and pe.memo is memo
                           and (pe.fp or self._fingerprint(pe)) == e.fp)
                if hit:
                    e.stamp = stamp
                    append(e.text)
                    continue
            append(self._entry(task, memo, stamp).text)

    def _entry(self, task: Any, memo: DumpMemo, stamp: int) -> _TaskEntry:
        """The task's entry for this dump: the cached one while it holds, else a new one."""
        e = task.__dict__.get(_ENTRY_ATTR)
        if e is None or e.memo is not memo:
            return self._compose(task, memo, stamp, None)
        if e.stamp == stamp:
            return e
        if e.finished and e.sig == _signature(task) and e.children == task._children:
            mode = e.mode
            if mode == _DELTA:
                # valid while the parent's entry (which the delta was taken against) is current
                parent = task.parent
                if e.base.stamp == stamp or (parent is not None and self._ensure(parent, memo, stamp) is e.base):
                    e.stamp = stamp
                    return e
            elif mode == _ROOT:
                e.stamp = stamp
                return e
            elif not e.ptask._state & _FINISHED:
                if mode == _FULL or self._fingerprint(self._ensure(e.ptask, memo, stamp)) == e.fp:
                    e.stamp = stamp
                    return e
        return self._compose(task, memo, stamp, e)

    def _ensure(self, task: Any, memo: DumpMemo, stamp: int) -> _TaskEntry:
        """``_entry`` for ``task``, after its ancestors (iteratively: trees can be thousands deep)."""
        e = task.__dict__.get(_ENTRY_ATTR)
        if e is not None and e.memo is memo and e.stamp == stamp:
            return e
        chain = []
        t = task
        while t is not None:
            e = t.__dict__.get(_ENTRY_ATTR)
            if e is not None and e.memo is memo and e.stamp == stamp:
                break
            chain.append(t)
            t = t.parent
        for t in reversed(chain):
            e = self._entry(t, memo, stamp)
        return e

    def _compose(self, task: Any, memo: DumpMemo, stamp: int, old: _TaskEntry | None) -> _TaskEntry:
        finished = bool(task._state & _FINISHED)
        e = _TaskEntry(memo, stamp, finished)
        data = task.data
        parent = task.parent
        delta: dict[str, Any] = {}
        dct_data: dict[str, Any] = data
        if parent is not None:
            pe = self._ensure(parent, memo, stamp)
            if pe.finished:
                e.mode = _DELTA
                base = self._snapshot(pe)
                if finished:
                    e.base = pe
            elif not finished:
                e.mode = _DELTA
                base = parent.data
            elif old is not None and old.mode in (_LIVE_DELTA, _FULL) and old.ptask is parent:
                # The parent's data changed while this task was cached: stop following it (a loop's
                # earlier iterations would otherwise all be re-diffed on every iteration).
                e.mode, e.ptask = _FULL, parent
            else:
                e.mode, e.ptask = _LIVE_DELTA, parent
                e.fp = self._fingerprint(pe)
                base = parent.data
            if e.mode != _FULL:
                dct_data = {}
                delta = {"updates": {k: v for k, v in data.items() if k not in base or v != base[k]},
                         "deletions": [k for k in base if k not in data]}
        task_id = str(task.id)
        children = task._children
        e.children = list(children)
        idata = task.internal_data
        # a running loop's children and ``merged`` ids: spliced in from text kept across dumps
        long_children = len(children) >= _LONG_LIST
        long_idata = any(type(v) is list and len(v) >= _LONG_LIST for v in idata.values())
        text = self.encode({
            "id": task_id,
            "parent": str(task._parent) if parent is not None else None,
            "children": None if long_children else [str(child) for child in children],
            "last_state_change": task.last_state_change,
            "state": task._state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": None if long_idata else self.registry.convert(idata),
            "data": dct_data,
            "delta": delta,
            "typename": self.registry.typenames[task.__class__],
        })
        if long_children:
            e.ctext = self._children_text(children, old)
            head, _, rest = text.partition(', "children": null')
            text = f'{head}, "children": {e.ctext}{rest}'
        if long_idata:
            head, _, rest = text.partition(', "internal_data": null')
            text = f'{head}, "internal_data": {self._internal_text(idata, e, old)}{rest}'
        e.text = f'"{task_id}": {text}'
        if finished:
            e.sig = _signature(task)
        else:
            e.live = data
        task.__dict__[_ENTRY_ATTR] = e
        return e

    def _children_text(self, children: list[UUID], old: _TaskEntry | None) -> str:
        """JSON of the child ids; a running loop's list only grows, so extend the previous text."""
        if old is not None and old.ctext is not None:
            n = len(old.children)
            if len(children) >= n and children[:n] == old.children:
                if len(children) == n:
                    return old.ctext
                return old.ctext[:-1] + "".join(f', "{child}"' for child in children[n:]) + "]"
        return "[" + ", ".join(f'"{child}"' for child in children) + "]"

    def _internal_text(self, idata: dict[str, Any], e: _TaskEntry, old: _TaskEntry | None) -> str:
        """``encode(registry.convert(idata))``; long lists of strings (a loop's ``merged`` ids) that only
        grew since the previous dump extend their previous text."""
        if not all(type(k) is str for k in idata):
            return self.encode(self.registry.convert(idata))
        encode = self.encode
        cleaned = self.registry.clean(idata)
        parts = []
        for key, value in cleaned.items():
            if type(value) is list and len(value) >= _LONG_LIST:
                hit = old.itext.get(key) if old is not None else None
                n = len(hit[0]) if hit is not None else 0
                if hit is not None and len(value) >= n and value[:n] == hit[0] and \
                        all(type(v) is str for v in value[n:]):
                    tail = "".join(", " + encode(v) for v in value[n:])
                    text = hit[1][:-1] + tail + "]" if n else "[" + tail[2:] + "]"
                    e.itext[key] = (list(value), text)
                elif all(type(v) is str for v in value):
                    text = encode(value)
                    e.itext[key] = (list(value), text)
                else:
                    text = encode(self.registry.convert(value))
            else:
                text = encode(self.registry.convert(value))
            parts.append(f"{encode(key)}: {text}")
        return "{" + ", ".join(parts) + "}"

    def _fingerprint(self, entry: _TaskEntry) -> str:
        """JSON of an unfinished task's live data, once per dump (``entry`` is this dump's)."""
        if entry.fp is None:
            entry.fp = self.encode(entry.live)
        return entry.fp

    def _snapshot(self, entry: _TaskEntry) -> dict[str, Any]:
        """The data loading ``entry``'s fragment gives back (what ``TaskConverter.from_dict`` builds)."""
        chain = []
        e: _TaskEntry | None = entry
        while e is not None and e.snap is None:
            chain.append(e)
            e = e.base if e.mode == _DELTA else None
        for e in reversed(chain):
            body = json.loads(e.text.partition(": ")[2])
            if e.mode == _DELTA:
                assert e.base is not None and e.base.snap is not None
                snap = dict(e.base.snap)
            elif e.mode == _LIVE_DELTA:  # the unfinished parent's data still encodes as ``fp``
                assert e.fp is not None
                snap = self.registry.restore(json.loads(e.fp))
            else:
                e.snap = self.registry.restore(body["data"])
                continue
            snap.update(self.registry.restore(body["delta"]["updates"]))
            for key in body["delta"]["deletions"]:
                snap.pop(key, None)
            e.snap = snap
        assert entry.snap is not None
        return entry.snap


