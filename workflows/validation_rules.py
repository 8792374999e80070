"""Deployability rules for executable BPMN processes (no code is run).

Each rule returns ``DiagramError`` objects describing why a process cannot be deployed:
unsupported element types, non-Python code, timers the engine cannot evaluate, user/manual
tasks without a form or whose lane maps to no role, ids and names too long to be stored.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterator
from datetime import datetime
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from cases.models import Case
from cases.roles import role_for_lane
from workflows.expressions import (
    PYTHON_LANGUAGES,
    SPIFF_NS,
    CodeItem,
    bpmn_code,
    foreign_syntax,
)
from workflows.models import HumanTask, WorkflowInstance, WorkflowTimer
from workflows.parsing import BPMN_NS, DiagramError, FengqiaoParser
from workflows.sandbox import SandboxError, compile_check

_B = "{" + BPMN_NS + "}"
_S = "{" + SPIFF_NS + "}"
_FLOW_NODES = frozenset({
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "subProcess", "transaction", "adHocSubProcess", "callActivity",
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
})
_UNSUPPORTED_EVENTS = {"compensateEventDefinition": "compensation", "linkEventDefinition": "link"}
_CONTAINERS = (_B + "subProcess", _B + "transaction", _B + "adHocSubProcess")
_ISO_LIKE = re.compile(r"^(R\d*/)?P[\dYMWDTHS.,/]*$|^\d{4}-\d{2}-\d{2}([T ][\d:.+\-Z]*)?$", re.IGNORECASE)


def executable_processes(root: etree._Element) -> list[etree._Element]:
    """The ``bpmn:process`` elements SpiffWorkflow treats as executable."""
    return [p for p in root.iter(_B + "process") if p.get("isExecutable", "true") == "true"]


def _err(file: str, element: etree._Element, message: str) -> DiagramError:
    return DiagramError(file, element.sourceline, element.get("id"), message)


def unsupported_elements(file: str, process: etree._Element, parser: FengqiaoParser) -> Iterator[DiagramError]:
    """Flow nodes and event definitions the engine cannot execute."""
    supported = {etree.QName(t).localname for t in (*parser.PARSER_CLASSES, *parser.OVERRIDE_PARSER_CLASSES)}
    for element in process.iter():
        if not isinstance(element.tag, str) or not element.tag.startswith(_B):
            continue
        name = element.tag[len(_B):]
        if name in _FLOW_NODES and name not in supported:
            yield _err(file, element, f"{name} {element.get('id')} is not supported by the engine")
        elif name in _UNSUPPORTED_EVENTS:
            owner = element.getparent()
            yield _err(file, owner if owner is not None else element,
                       f"{_UNSUPPORTED_EVENTS[name]} event {owner.get('id') if owner is not None else ''} "
                       "is not supported by the engine")


def foreign_code(file: str, root: etree._Element) -> Iterator[DiagramError]:
    """Code declared in, or looking like, a language other than Python; empty conditions."""
    for item in bpmn_code(file, root):
        what = f"{item.kind.replace('_', ' ')} of {item.element_id}"
        if item.kind == "timer":
            continue
        if item.language not in PYTHON_LANGUAGES:
            yield item.error(f"{what} is written in {item.language!r}; only Python is supported")
        elif item.mode == "eval" and not (item.source or "").strip():
            yield item.error(f"{what} is empty")
        elif foreign_syntax(item.source):
            yield item.error(f"{what} looks like a {foreign_syntax(item.source)} expression "
                             f"({(item.source or '').strip()[:60]!r}); only Python is supported")


def _timer_value_problem(tag: str, value: str) -> str | None:
    try:
        if tag == "timeDuration":
            TimerEventDefinition.parse_iso_duration(value)
        elif tag == "timeCycle":
            TimerEventDefinition.parse_iso_recurring_interval(value)
        else:
            datetime.fromisoformat(value)
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exception for bad ISO text
        kind = {"timeDuration": "duration", "timeCycle": "recurring interval"}.get(tag, "date/time")
        return f"{value!r} is not a valid ISO 8601 {kind}"
    return None


def timer_problem(item: CodeItem) -> DiagramError | None:
    """Why a timer expression cannot run, or ``None``.

    The engine evaluates the text as Python, so ISO values must be quoted (``"P3D"``).
    """
    source = (item.source or "").strip()
    timer = f"timer {item.element_id}"
    if not source:
        return item.error(f"{timer} has no {item.tag or 'time'} expression")
    quoted_hint = f"{timer}: {source!r} must be a quoted string such as \"{source}\" (timers are Python expressions)"
    try:
        compile_check(source, "eval")
    except SandboxError as err:
        if _ISO_LIKE.match(source):
            return item.error(quoted_hint)
        return item.error(f"{timer}: the expression is not valid: {err.message}")
    node = ast.parse(source, mode="eval").body
    if _ISO_LIKE.match(source) and not isinstance(node, ast.Constant):
        return item.error(quoted_hint)
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, str):
            return item.error(f"{timer}: {source!r} must evaluate to an ISO 8601 string")
        problem = _timer_value_problem(item.tag, node.value)
        if problem:
            return item.error(f"{timer}: {problem}")
    return None


def timer_problems(file: str, root: etree._Element) -> Iterator[DiagramError]:
    """Timer problems in the executable processes of one BPMN document."""
    for item in bpmn_code(file, root):
        if item.kind == "timer":
            problem = timer_problem(item)
            if problem is not None:
                yield problem


def _form_key(task: etree._Element) -> str:
    for prop in task.iterfind(f"{_B}extensionElements/{_S}properties/{_S}property"):
        if prop.get("name") == "formKey" and prop.get("value"):
            return str(prop.get("value"))
    return str(task.get("id"))


def _lane_of(task: etree._Element, lanes: dict[str, str | None]) -> tuple[bool, str | None]:
    """(in a lane?, lane name) for a task, inheriting the lane of enclosing subprocesses."""
    node: etree._Element | None = task
    while node is not None and node.tag != _B + "process":
        node_id = node.get("id")
        if node_id in lanes:
            return True, lanes[node_id]
        node = node.getparent()
        while node is not None and node.tag not in _CONTAINERS and node.tag != _B + "process":
            node = node.getparent()
    return False, None


def human_task_problems(file: str, root: etree._Element, process: etree._Element,
                        form_keys: Collection[str] | None) -> Iterator[DiagramError]:
    """User/manual tasks without a form (when ``form_keys`` is given) or without a role lane."""
    lanes: dict[str, str | None] = {}
    for ref in root.iter(_B + "flowNodeRef"):
        if ref.text and ref.getparent() is not None:
            lanes[ref.text.strip()] = ref.getparent().get("name")
    has_lanes = next(process.iter(_B + "lane"), None) is not None
    for task in process.iter(_B + "userTask", _B + "manualTask"):
        kind = "user task" if task.tag == _B + "userTask" else "manual task"
        task_id = task.get("id")
        if form_keys is not None:
            key = _form_key(task)
            if key not in form_keys:
                yield _err(file, task, f"{kind} {task_id} has no form (form key {key!r})")
        in_lane, lane = _lane_of(task, lanes)
        if not has_lanes and not in_lane:
            yield _err(file, task, f"{kind} {task_id} has no lane")
        elif not in_lane:
            yield _err(file, task, f"{kind} {task_id} lies in no lane")
        elif role_for_lane(lane) is None:
            yield _err(file, task, f"{kind} {task_id} is in lane {lane!r}, which maps to no role")


def _length(column: Any) -> int:
    return int(column.type.length)


def _spiff_property(element: etree._Element, name: str) -> str | None:
    for prop in element.iterfind(f"{_B}extensionElements/{_S}properties/{_S}property"):
        if prop.get("name") == name:
            return prop.get("value")
    return None


def stored_text_problems(file: str, root: etree._Element, process: etree._Element) -> Iterator[DiagramError]:
    """Ids and names longer than the database columns a running case stores them in (the case's
    stage, its task and timer rows, its error state): refused at deploy, not at the step that
    would store them."""
    def too_long(element: etree._Element, what: str, value: str | None, limit: int) -> DiagramError | None:
        if value is None or len(value) <= limit:
            return None
        return _err(file, element, f"{what} of {str(element.get('id', ''))[:80]} is {len(value)} characters "
                                   f"long; at most {limit} can be stored")

    checks: list[DiagramError | None] = []
    element_ids = _length(WorkflowInstance.__table__.c.error_element)
    for element in process.iter():
        if isinstance(element.tag, str) and element.tag[len(_B):] in _FLOW_NODES and element.tag.startswith(_B):
            checks.append(too_long(element, "the id", element.get("id"), element_ids))
    lanes: dict[str, str | None] = {ref.text.strip(): ref.getparent().get("name")
                                    for ref in root.iter(_B + "flowNodeRef")
                                    if ref.text and ref.getparent() is not None}
    table = HumanTask.__table__
    for task in process.iter(_B + "userTask", _B + "manualTask"):
        # The process or embedded subprocess a task runs in names its workflow: stored as the
        # task's process id and as the case's stage while the task is open.
        owner = task.getparent()
        while owner is not None and owner.tag not in _CONTAINERS and owner.tag != _B + "process":
            owner = owner.getparent()
        if owner is not None:
            checks.append(too_long(owner, "the id (a stage of the case while its tasks are open)", owner.get("id"),
                                   min(_length(Case.__table__.c.stage), _length(table.c.process_id))))
        checks += [too_long(task, "the id", task.get("id"), _length(table.c.spec_id)),
                   too_long(task, "the name", task.get("name"), _length(table.c.name)),
                   too_long(task, "the form key", _form_key(task), _length(table.c.form_key)),
                   too_long(task, "the caseAction property", _spiff_property(task, "caseAction"),
                            _length(table.c.case_action)),
                   # the lane it runs in, inherited from an enclosing subprocess as the engine does
                   too_long(task, "the lane name", _lane_of(task, lanes)[1], _length(table.c.lane))]
    timers = WorkflowTimer.__table__
    for definition in process.iter(_B + "timerEventDefinition"):
        event = definition.getparent()
        if event is not None:
            checks += [too_long(event, "the timer's id", event.get("id"), _length(timers.c.spec_id)),
                       too_long(event, "the timer's name", event.get("name"), _length(timers.c.name))]
    seen: set[tuple[int | None, str]] = set()
    for problem in checks:
        if problem is not None and (problem.line, problem.message) not in seen:
            seen.add((problem.line, problem.message))
            yield problem


def deployability_problems(file: str, root: etree._Element, parser: FengqiaoParser,
                           form_keys: Collection[str] | None) -> list[DiagramError]:
    """All not-executable reasons for the executable processes of one BPMN document."""
    problems: list[DiagramError] = []
    for process in executable_processes(root):
        problems.extend(unsupported_elements(file, process, parser))
        problems.extend(human_task_problems(file, root, process, form_keys))
        problems.extend(stored_text_problems(file, root, process))
    problems.extend(foreign_code(file, root))
    problems.extend(timer_problems(file, root))
    return problems
