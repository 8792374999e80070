"""SpiffWorkflow behind one small API: specs stored once, state serialized by reference, the
sandbox re-attached after every load, and a guard against the task iterator's depth limit.

Nothing outside ``workflows/`` sees a SpiffWorkflow object: callers get task ids and plain data.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskIterator, TaskState

from workflows import task_iteration
from workflows.sandbox import make_script_engine
from workflows.state_writer import StateWriter

SERIALIZER_VERSION = "spiff-1.5+ref-1"
HUMAN_TASK_CLASSES = ("UserTask", "ManualTask", "NoneTask")
ITERATOR_MAX_DEPTH = 1_000_000


def _raise_iterator_depth(limit: int) -> None:
    """SpiffWorkflow's task iterators stop at depth 1000 and then report a workflow complete
    while a task is READY (a gateway loop of ~500 iterations). Raise that default everywhere."""
    for cls in (TaskIterator, BpmnTaskIterator):
        positional = [p.name for p in inspect.signature(cls.__init__).parameters.values()
                      if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        defaults = list(cls.__init__.__defaults__ or ())
        index = positional.index("max_depth") - (len(positional) - len(defaults))
        defaults[index] = limit
        cls.__init__.__defaults__ = tuple(defaults)


_raise_iterator_depth(ITERATOR_MAX_DEPTH)
task_iteration.install()


class EngineError(Exception):
    """Diagram code failed or the engine reached an inconsistent state."""

    def __init__(self, message: str, element_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.element_id = element_id


_SPEC_REGISTRY = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)


def dump_specs(spec: Any, subprocess_specs: dict[str, Any]) -> str:
    """Serialize a top-level spec and its called processes once, for a deployed version."""
    return json.dumps({
        "spec": _SPEC_REGISTRY.convert(spec),
        "subprocess_specs": {k: _SPEC_REGISTRY.convert(v) for k, v in subprocess_specs.items()},
    }, ensure_ascii=False)


def load_specs(spec_json: str) -> tuple[Any, dict[str, Any]]:
    dct = json.loads(spec_json)
    spec = _SPEC_REGISTRY.restore(dct["spec"])
    subs = {k: _SPEC_REGISTRY.restore(v) for k, v in dct["subprocess_specs"].items()}
    return spec, subs


def _by_reference_serializer(spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflowSerializer:
    """A serializer whose workflow JSON names the spec instead of embedding it.

    Its ``to_dict`` is SpiffWorkflow's, task for task (no memo): ``Instance.dump`` writes the same
    JSON faster with ``workflows.state_writer.StateWriter``.
    """

    class Converter(BpmnWorkflowConverter):
        def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
            dct = WorkflowConverter.to_dict(self, workflow)
            dct["spec"] = workflow.spec.name
            dct["subprocess_specs"] = {}
            dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
            dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
            return dct

        def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
            dct.pop("spec", None)
            dct.pop("subprocess_specs", None)
            workflow = self.target_class(spec, subprocess_specs, deserializing=True)
            workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
            workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
            self.set_default_attributes(workflow, dct)
            self.subprocesses_from_dict(dct["subprocesses"], workflow)
            workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
            return workflow

    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = Converter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


@dataclass(frozen=True)
class HumanTaskInfo:
    """A READY user/manual task, as plain data."""

    task_id: str
    spec_id: str
    process_id: str
    name: str
    lane: str | None
    form_key: str
    documents: list[str]
    case_action: str | None
    instructions: str


@dataclass(frozen=True)
class TimerInfo:
    task_id: str
    spec_id: str
    name: str
    documentation: str
    due_at: datetime


@dataclass
class Definition:
    """One deployed version, ready to run: spec, called specs and a by-reference serializer."""

    spec: Any
    subprocess_specs: dict[str, Any]
    serializer: BpmnWorkflowSerializer = field(init=False)

    def __post_init__(self) -> None:
        self.serializer = _by_reference_serializer(self.spec, self.subprocess_specs)

    @classmethod
    def from_json(cls, spec_json: str) -> Definition:
        spec, subs = load_specs(spec_json)
        return cls(spec, subs)


ENGINE_MAX_TASKS = 10_000
"""Most engine tasks (scripts, gateways, events...) one ``Instance.run_engine`` call may run."""

ENGINE_MAX_SECONDS = 10.0
"""Longest wall-clock time one ``Instance.run_engine`` call may take (checked between tasks)."""


class _EngineBudget:
    """``did_complete_task`` callback that stops a ``do_engine_steps`` call running away."""

    def __init__(self, max_tasks: int, max_seconds: float) -> None:
        self.max_tasks = max_tasks
        self.deadline = time.monotonic() + max_seconds
        self.count = 0

    def task_done(self, task: Any) -> None:
        self.count += 1
        if self.count > self.max_tasks or time.monotonic() > self.deadline:
            element = getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
            raise EngineError(f"engine step budget exceeded after {self.count} tasks at element {element}: "
                              "the diagram loops without waiting for a person or a timer", element)


class Instance:
    """One running workflow. Wraps a ``BpmnWorkflow``; its methods take and return plain data."""

    def __init__(self, definition: Definition, workflow: BpmnWorkflow,
                 holidays: Collection[str] = (), workdays: Collection[str] = ()) -> None:
        self.definition = definition
        self.workflow = workflow
        self.stored: Any = None  # what the database holds of this state (``workflows.state_rows``)
        self.attach_sandbox(holidays, workdays)

    def attach_sandbox(self, holidays: Collection[str] = (), workdays: Collection[str] = ()) -> None:
        """The script engine is not serialized: re-attach the sandbox after every load."""
        self.workflow.script_engine = make_script_engine(holidays=holidays, workdays=workdays)

    @classmethod
    def create(cls, definition: Definition, data: dict[str, Any] | None = None,
               holidays: Collection[str] = (), workdays: Collection[str] = ()) -> Instance:
        """A new workflow with ``data`` on its start task; call ``run_engine`` to start it."""
        wf = BpmnWorkflow(definition.spec, definition.subprocess_specs)
        instance = cls(definition, wf, holidays, workdays)
        if data:
            # Start data goes on the start task so every later task inherits it.
            start = wf.get_next_task(state=TaskState.READY)
            (start or wf.task_tree).data.update(data)
        return instance

    @classmethod
    def load(cls, definition: Definition, state: str | dict[str, Any], holidays: Collection[str] = (),
             workdays: Collection[str] = ()) -> Instance:
        """The instance of a stored state: its JSON text, or that JSON already parsed (consumed)."""
        dct = json.loads(state) if isinstance(state, str) else state
        definition.serializer.migrate(dct)  # format migration on load (pops the version key)
        wf = definition.serializer.from_dict(dct)
        return cls(definition, wf, holidays, workdays)

    def dump(self) -> str:
        """The state as JSON; task data that cannot be stored (left by diagram code) → EngineError."""
        try:
            return StateWriter(self.definition.serializer).state(self.workflow)
        except (TypeError, ValueError, RecursionError) as exc:
            raise EngineError(f"the case data cannot be saved: {exc.__class__.__name__}: {exc}") from exc

    def dump_parts(self) -> tuple[str, dict[str, list[str]]]:
        """``dump`` split for row storage (see ``StateWriter.parts`` and ``workflows.state_rows``)."""
        try:
            return StateWriter(self.definition.serializer).parts(self.workflow)
        except (TypeError, ValueError, RecursionError) as exc:
            raise EngineError(f"the case data cannot be saved: {exc.__class__.__name__}: {exc}") from exc

    # -- running -------------------------------------------------------------------------

    def run_engine(self, refresh_timers: bool = True) -> None:
        """Run engine tasks until only human tasks or waits remain; diagram errors → EngineError.

        One call may run at most ``ENGINE_MAX_TASKS`` engine tasks and take ``ENGINE_MAX_SECONDS``:
        a diagram that loops through scripts and gateways without waiting for a person or a timer
        would otherwise never return.
        """
        budget = _EngineBudget(ENGINE_MAX_TASKS, ENGINE_MAX_SECONDS)
        try:
            if refresh_timers:
                self.workflow.refresh_timers()
            self.workflow.do_engine_steps(did_complete_task=budget.task_done)
        except EngineError:
            raise
        except Exception as exc:
            raise _engine_error(exc) from exc
        self._check_consistent()

    def complete(self, task_id: str, data: dict[str, Any]) -> None:
        task = self._ready_human_task(task_id)
        task.data.update(data)
        try:
            task.run()
        except Exception as exc:
            raise _engine_error(exc, task.task_spec.bpmn_id) from exc
        self.run_engine()

    def fire_timers(self) -> None:
        self.run_engine()

    def send_signal(self, name: str) -> bool:
        """Throw a BPMN signal from outside (e.g. "a party withdraws"); True when something caught it."""
        from SpiffWorkflow.bpmn.util.event import BpmnEvent
        from SpiffWorkflow.spiff.specs.event_definitions import SignalEventDefinition

        waiting_before = len(self.workflow.event_manager.tasks)
        open_before = {t.id for t in self._open_tasks()}
        try:
            self.workflow.send_event(BpmnEvent(SignalEventDefinition(name)))
        except Exception as exc:
            raise _engine_error(exc) from exc
        self.run_engine()
        return (len(self.workflow.event_manager.tasks) != waiting_before
                or {t.id for t in self._open_tasks()} != open_before)

    def reset_errors(self, patch: dict[str, Any]) -> list[tuple[str, Any, Any]]:
        """Put every task in ERROR back to READY after applying ``patch`` to its data.

        Returns ``(element id, before, after)`` for each changed task so the caller can audit it.
        """
        changed = []
        for task in self._tasks_in(TaskState.ERROR):
            bpmn_id = getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
            if patch:
                before = {k: task.data.get(k) for k in patch}
                task.data.update(patch)
                changed.append((bpmn_id, before, dict(patch)))
            task._set_state(TaskState.READY)
        return changed

    def error_tasks(self) -> list[str]:
        return [getattr(t.task_spec, "bpmn_id", None) or t.task_spec.name
                for t in self._tasks_in(TaskState.ERROR)]

    # -- reading -------------------------------------------------------------------------

    def _all_tasks(self) -> list[Any]:
        """Every task of the workflow and its subprocesses, without the depth-limited iterator."""
        tasks = list(self.workflow.tasks.values())
        for sp in self.workflow.subprocesses.values():
            tasks.extend(sp.tasks.values())
        return tasks

    def _tasks_in(self, states: int) -> list[Any]:
        """The tasks (workflow and subprocesses, in ``_all_tasks`` order) whose state is one of ``states``
        (a mask): one flat scan, cheap on a long history."""
        workflows = [self.workflow, *self.workflow.subprocesses.values()]
        return [t for wf in workflows for t in wf.tasks.values() if t._state & states]

    def _ready_human_task(self, task_id: str) -> Any:
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError):
            task = None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise EngineError(f"task {task_id} is not a ready human task")
        return task

    def ready_human_tasks(self) -> list[HumanTaskInfo]:
        result = []
        for task in self._tasks_in(TaskState.READY):
            if not task.task_spec.manual:
                continue
            spec = task.task_spec
            props = (spec.extensions or {}).get("properties", {}) if hasattr(spec, "extensions") else {}
            docs = [d.strip() for d in str(props.get("documents", "")).split(",") if d.strip()]
            instructions = (spec.extensions or {}).get("instructionsForEndUser", "") if hasattr(
                spec, "extensions") else ""
            result.append(HumanTaskInfo(
                task_id=str(task.id), spec_id=spec.bpmn_id or spec.name,
                process_id=task.workflow.spec.name, name=spec.bpmn_name or spec.bpmn_id or spec.name,
                lane=spec.lane, form_key=props.get("formKey") or spec.bpmn_id or spec.name,
                documents=docs, case_action=props.get("caseAction") or None,
                instructions=instructions or ""))
        return result

    def waiting_timers(self) -> list[TimerInfo]:
        timers = []
        for task in self.workflow.event_manager.tasks.values():
            event = getattr(task.task_spec, "event_definition", None)
            if not isinstance(event, TimerEventDefinition):
                continue
            value = task._get_internal_data("event_value")
            due = _timer_due(value)
            if due is None:
                continue
            spec = task.task_spec
            timers.append(TimerInfo(str(task.id), spec.bpmn_id or spec.name,
                                    spec.bpmn_name or spec.bpmn_id or spec.name,
                                    getattr(spec, "documentation", None) or "", due))
        return timers

    @property
    def data(self) -> dict[str, Any]:
        """Workflow-level data merged with the data of the most recently completed task."""
        merged = dict(self.workflow.data)
        last = self.workflow.last_task
        if last is not None:
            merged.update(last.data)
        return merged

    def task_data(self, task_id: str) -> dict[str, Any]:
        task = self.workflow.get_task_from_id(UUID(task_id))
        return dict(task.data) if task is not None else {}

    def is_completed(self) -> bool:
        return self.workflow.is_completed() and not self._open_tasks()

    def completed_task_count(self) -> int:
        return len(self._tasks_in(TaskState.COMPLETED))

    def path_element_ids(self) -> tuple[list[str], list[str]]:
        """(completed element ids, ready/waiting element ids) for marking a diagram."""
        done, open_ = [], []
        for t in self._all_tasks():
            bpmn_id = getattr(t.task_spec, "bpmn_id", None)
            if not bpmn_id:
                continue
            if t.state == TaskState.COMPLETED:
                done.append(bpmn_id)
            elif t.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED):
                open_.append(bpmn_id)
        return sorted(set(done)), sorted(set(open_))

    def _open_tasks(self) -> list[Any]:
        return [t for t in self._tasks_in(TaskState.READY | TaskState.WAITING | TaskState.STARTED)
                if t.task_spec.__class__.__name__ not in ("_EndJoin", "BpmnStartTask")]

    def _check_consistent(self) -> None:
        """Refuse to carry on when the engine stopped short: a READY engine task left unrun, or a
        workflow reported complete while work remains (the depth-limit failure mode)."""
        stuck = [t for t in self._tasks_in(TaskState.READY) if not t.task_spec.manual]
        if stuck:
            bpmn_id = getattr(stuck[0].task_spec, "bpmn_id", None) or stuck[0].task_spec.name
            raise EngineError(f"engine left task '{bpmn_id}' READY without running it "
                              f"(task tree depth {stuck[0].depth}); refusing to save", bpmn_id)
        if self.workflow.is_completed() and self._open_tasks():
            raise EngineError("workflow reported complete while tasks are still open; refusing to save")


def _timer_due(value: Any) -> datetime | None:
    try:
        if isinstance(value, dict):  # cycle timer
            value = value.get("next")
        if not value:
            return None
        due = TimerEventDefinition.get_datetime(value)
    except Exception:  # noqa: BLE001 -- a malformed value is simply not shown as a deadline
        return None
    return due if due.tzinfo else due.replace(tzinfo=UTC)


def _engine_error(exc: Exception, element_id: str | None = None) -> EngineError:
    """Turn a SpiffWorkflow exception into an EngineError naming the element."""
    task_spec = getattr(getattr(exc, "task", None), "task_spec", None)
    element = element_id or getattr(task_spec, "bpmn_id", None) or getattr(exc, "sender", None)
    element = getattr(element, "bpmn_id", element)
    message = str(exc) or exc.__class__.__name__
    line = getattr(exc, "line_number", None)
    if line:
        message = f"{message} (line {line})"
    return EngineError(message, str(element) if element else None)
