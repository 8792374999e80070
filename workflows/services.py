"""Case workflow services: start, complete, claim, draft, retry. They flush; callers commit.

One completion reads the case's workflow row under a lock (``SELECT … FOR UPDATE`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite), re-checks the task is still open, runs the engine, and writes the
state, the task projection and the audit events in the caller's single transaction.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session

from cases.audit import Actor, AuditAction, record
from cases.db import utcnow
from cases.driver_sql import DriverStatement
from cases.models import Case, CaseStatus, Holiday, User
from cases.permissions import Action, can
from cases.services import replace_parties
from forms.definition import FormDefinition, load_definition
from forms.schema import validate_submission
from workflows import cache, projection, rows, state_rows
from workflows.case_lock import lock_task
from workflows.deploy import latest_version, settings
from workflows.engine import SERIALIZER_VERSION, Definition, EngineError, Instance
from workflows.errors import Conflict, Forbidden, NotFound, ValidationFailed, WorkflowServiceError
from workflows.models import HumanTask, ProcessVersion, WorkflowInstance

# Keyed by (id, sha256): deployed versions are immutable, and the hash keeps two databases whose
# version ids collide (tests, several installations in one process) from sharing an entry.
_definitions: dict[tuple[int, str], Definition] = {}
_forms: dict[tuple[int, str, str], FormDefinition] = {}
_lock = threading.Lock()


def definition_for(version: ProcessVersion) -> Definition:
    """The parsed definition of a deployed version, cached per process (versions are immutable)."""
    key = (version.id, version.sha256)
    with _lock:
        found = _definitions.get(key)
    if found is None:
        found = Definition.from_json(version.spec_json)
        with _lock:
            _definitions[key] = found
    return found


def form_for(version: ProcessVersion, form_key: str) -> FormDefinition:
    key = (version.id, version.sha256, form_key)
    with _lock:
        found = _forms.get(key)
    if found is None:
        if form_key not in version.forms:
            raise WorkflowServiceError(f"form '{form_key}' is not part of {version.process_id} "
                                       f"v{version.version}")
        found = load_definition(version.forms[form_key], source=f"{form_key}.json")
        with _lock:
            _forms[key] = found
    return found


_calendar_cache: dict[str, tuple[float, tuple[list[str], list[str]]]] = {}
CALENDAR_TTL_SECONDS = 30.0


def calendar(session: Session) -> tuple[list[str], list[str]]:
    """(holidays, make-up working days) from the admin-edited calendar, re-read every 30 s."""
    key = str(session.get_bind().url)
    now = time.monotonic()
    hit = _calendar_cache.get(key)
    if hit is not None and now - hit[0] < CALENDAR_TTL_SECONDS:
        return hit[1]
    days = session.scalars(select(Holiday)).all()
    value = ([h.day for h in days if not h.is_workday], [h.day for h in days if h.is_workday])
    _calendar_cache[key] = (now, value)
    return value


def load_instance(session: Session, wi: WorkflowInstance) -> Instance:
    """The case's live instance: from the process-local cache when it holds exactly the committed
    state (see ``workflows.cache``), else deserialized from the stored state."""
    holidays, workdays = calendar(session)
    version = wi.process_version
    cached = cache.instances.take(cache.cache_key(session, wi.case_id),
                                  cache.state_token(wi.lock_version, version.sha256, wi.updated_at))
    if cached is not None:
        cached.attach_sandbox(holidays, workdays)
        return cached
    return state_rows.load(session, wi, definition_for(version), holidays, workdays)


def read_instance(session: Session, wi: WorkflowInstance) -> Instance:
    """The case's instance for reading (pages, documents): deserialized from the stored state,
    leaving the cached live instance to the next step that changes the case."""
    holidays, workdays = calendar(session)
    return state_rows.load(session, wi, definition_for(wi.process_version), holidays, workdays)


def _lock_instance(session: Session, case_id: int) -> WorkflowInstance:
    wi = session.execute(select(WorkflowInstance).where(WorkflowInstance.case_id == case_id)
                         .with_for_update(of=WorkflowInstance)
                         .execution_options(populate_existing=True)).scalar_one_or_none()
    if wi is None:
        raise NotFound(f"case {case_id} has no workflow")
    return wi


_HAS_WORKFLOW = DriverStatement(select(WorkflowInstance.__table__.c.case_id)
                                .where(WorkflowInstance.__table__.c.case_id == bindparam("case")))


@dataclass
class Started:
    """A case's workflow just started: its row and the case's open tasks (none if it failed)."""

    instance: WorkflowInstance
    open_tasks: list[HumanTask] = field(default_factory=list)


def start_case(session: Session, case: Case, actor: Actor, *, process_id: str = "dispute",
               data: dict[str, Any] | None = None) -> Started:
    """Start the latest deployed version of ``process_id`` for ``case`` (a case has one workflow: a
    second start is a conflict, not a late duplicate-key failure at commit)."""
    held = session.identity_map.get(inspect(WorkflowInstance).identity_key_from_primary_key((case.id,)))
    if held is not None or _HAS_WORKFLOW.first(session.connection(), {"case": case.id}) is not None:
        raise Conflict(f"case {case.number} has a workflow already", case_id=case.id)
    version = latest_version(session, process_id)
    if version is None:
        raise NotFound(f"process '{process_id}' is not deployed")
    holidays, workdays = calendar(session)
    clocks = settings(version, "clocks.json")
    start_data = {"case_number": case.number, "category": case.category, "level": case.level,
                  "current_level": case.level, "clocks": clocks, **(data or {})}
    # lock_version 0 until the first save makes it 1. Not added to the session: the save inserts its
    # row once, with the state it saves (``projection.persist``); a first step that fails adds it.
    wi = WorkflowInstance(case_id=case.id, process_version=version, state="{}",
                          serializer_version=SERIALIZER_VERSION, lock_version=0)
    instance = Instance.create(definition_for(version), start_data, holidays, workdays)
    try:
        instance.run_engine()
    except EngineError as exc:
        projection.mark_error(session, case, wi, exc, actor, instance)
        return Started(wi)
    # A new workflow: no task rows yet to read.
    return Started(wi, projection.save_step(session, case, wi, instance, actor, held_rows=[]) or [])


@dataclass
class Completion:
    case_id: int
    next_tasks: list[HumanTask] = field(default_factory=list)
    error: str | None = None


def _acting_role(user: User, task: HumanTask) -> str:
    return task.role if (task.role in user.roles() or any(
        g.user_id == user.id and g.role == task.role for g in task.case.grants)) else next(
        iter(sorted(user.roles())), "unknown")


def get_task(session: Session, human_task_id: int) -> HumanTask:
    task = session.get(HumanTask, human_task_id)
    if task is None:
        raise NotFound(f"task {human_task_id} does not exist")
    return task


def check_task_access(user: User, task: HumanTask, action: Action = Action.TASK_COMPLETE) -> None:
    if not can(user, action, task.case, task_role=task.role, task_unit=task.org_unit):
        raise Forbidden(f"you may not act on task {task.id} ({task.name}): it is for role "
                        f"'{task.role}' at {task.org_unit.code}")


def complete_task(session: Session, *, human_task_id: int, user: User, data: dict[str, Any],
                  lang: str = "zh", validated: bool = False) -> Completion:
    """Complete one human task with form data; exactly one of several concurrent callers wins."""
    task, wi, held_rows = lock_task(session, human_task_id)
    check_task_access(user, task)
    if task.state != "ready":
        who = task.completed_by.display_name if task.completed_by else None
        raise Conflict(f"task '{task.name}' was already completed"
                       + (f" by {who}" if who else ""), by=who, at=task.completed_at, case_id=task.case_id)
    if task.claimed_by_id not in (None, user.id):
        raise Conflict(f"task '{task.name}' is claimed by {task.claimed_by.display_name}",
                       by=task.claimed_by.display_name, case_id=task.case_id)
    case = task.case
    if case.status == CaseStatus.ERROR:
        raise WorkflowServiceError(f"case {case.number} is in an error state: {wi.error_message}")
    if not validated:
        clean, errors = validate_submission(form_for(wi.process_version, task.form_key), data, lang)
        if errors:
            raise ValidationFailed("the submitted data does not match the form", errors)
    else:
        clean = data
    actor = Actor(user.id, user.username, _acting_role(user, task))
    instance = load_instance(session, wi)
    rows.update_row(session, task, {"state": "completed", "completed_by_id": user.id,
                                    "completed_at": utcnow(), "draft": None})
    record(session, actor=actor, action=AuditAction.TASK_COMPLETED, case_id=case.id,
           payload={"task": task.spec_id, "name": task.name, "form": task.form_key, "data": clean})
    if isinstance(clean.get("parties"), list) and clean["parties"]:
        before = [p.to_dict() for p in case.parties]
        replace_parties(session, case, clean["parties"])
        record(session, actor=actor, action=AuditAction.DATA_CHANGED, case_id=case.id,
               payload={"field": "parties", "before": before, "after": [p.to_dict() for p in case.parties]})
    try:
        instance.complete(task.task_id, clean)
    except EngineError as exc:
        projection.mark_error(session, case, wi, exc, actor, instance)
        return Completion(case.id, error=exc.message)
    projection.apply_case_action(session, case, task, clean, actor)
    ready = projection.save_step(session, case, wi, instance, actor, held_rows)
    if ready is None:
        return Completion(case.id, error=wi.error_message)
    nxt = [t for t in ready if can(user, Action.TASK_COMPLETE, case, task_role=t.role, task_unit=t.org_unit)]
    return Completion(case.id, next_tasks=nxt)


def claim_task(session: Session, *, human_task_id: int, user: User) -> HumanTask:
    task = get_task(session, human_task_id)
    check_task_access(user, task, Action.TASK_CLAIM)
    _lock_instance(session, task.case_id)
    session.refresh(task, ["state", "claimed_by_id"])
    if task.state != "ready":
        raise Conflict(f"task '{task.name}' is no longer open", case_id=task.case_id)
    if task.claimed_by_id not in (None, user.id):
        raise Conflict(f"task '{task.name}' is claimed by {task.claimed_by.display_name}",
                       by=task.claimed_by.display_name, case_id=task.case_id)
    task.claimed_by_id = user.id
    record(session, actor=Actor(user.id, user.username, task.role), action=AuditAction.TASK_CLAIMED,
           case_id=task.case_id, payload={"task": task.spec_id, "name": task.name})
    session.flush()
    return task


def release_task(session: Session, *, human_task_id: int, user: User) -> HumanTask:
    task = get_task(session, human_task_id)
    is_claimant = task.claimed_by_id == user.id
    if not (is_claimant or can(user, Action.CASE_GRANT, task.case)):
        check_task_access(user, task, Action.TASK_CLAIM)  # no peeking at other units' tasks
        raise Forbidden("only the claimant or a supervisor may release this task")
    _lock_instance(session, task.case_id)
    session.refresh(task, ["state", "claimed_by_id"])
    if task.claimed_by_id is None:
        return task
    task.claimed_by_id = None
    record(session, actor=Actor(user.id, user.username, task.role), action=AuditAction.TASK_RELEASED,
           case_id=task.case_id, payload={"task": task.spec_id, "name": task.name})
    session.flush()
    return task


def save_draft(session: Session, *, human_task_id: int, user: User, data: dict[str, Any]) -> HumanTask:
    """Keep unfinished form input on the task (not validated, not audited, never in the engine)."""
    task = get_task(session, human_task_id)
    check_task_access(user, task)
    if task.state != "ready":
        raise Conflict(f"task '{task.name}' is no longer open", case_id=task.case_id)
    task.draft = dict(data)
    session.flush()
    return task


def retry_case(session: Session, *, case: Case, user: User,
               data_patch: dict[str, Any] | None = None) -> str | None:
    """Re-run the failed step of a case in error, optionally after correcting its data."""
    if not can(user, Action.CASE_RETRY, case):
        raise Forbidden("only an admin or a supervisor of the case's unit may retry it")
    wi = _lock_instance(session, case.id)
    if wi.status != "error":
        raise Conflict(f"case {case.number} is not in an error state", case_id=case.id)
    actor = Actor(user.id, user.username, "admin" if "admin" in user.roles() else "supervisor")
    instance = load_instance(session, wi)
    changed = instance.reset_errors(data_patch or {})
    for element, before, after in changed:
        record(session, actor=actor, action=AuditAction.DATA_CHANGED, case_id=case.id,
               payload={"element": element, "before": before, "after": after})
    record(session, actor=actor, action=AuditAction.RETRIED, case_id=case.id,
           payload={"element": wi.error_element, "error": wi.error_message})
    try:
        instance.run_engine()
    except EngineError as exc:
        projection.mark_error(session, case, wi, exc, actor, instance)
        return exc.message
    case.status = CaseStatus.OPEN
    wi.status, wi.error_message, wi.error_element = "running", None, None
    projection.save_step(session, case, wi, instance, actor)
    return None


def signal_case(session: Session, *, case: Case, user: User, signal: str,
                reason: str = "") -> None:
    """Send a BPMN signal into a case, e.g. ``party_withdrawal`` when a party withdraws (Art. 23)."""
    if not (can(user, Action.CASE_RETRY, case) or any(
            can(user, Action.TASK_COMPLETE, case, task_role=t.role, task_unit=t.org_unit)
            for t in projection.ready_tasks(session, case.id))):
        raise Forbidden(f"you may not act on case {case.number}")
    wi = _lock_instance(session, case.id)
    if wi.status != "running":
        raise Conflict(f"case {case.number} is not running (status {wi.status})", case_id=case.id)
    role = next(iter(sorted(user.roles())), "unknown")
    actor = Actor(user.id, user.username, role)
    instance = load_instance(session, wi)
    try:
        caught = instance.send_signal(signal)
    except EngineError as exc:
        projection.mark_error(session, case, wi, exc, actor, instance)
        return
    if not caught:
        raise Conflict(f"nothing in case {case.number} is waiting for the signal '{signal}' now",
                       case_id=case.id)
    record(session, actor=actor, action=AuditAction.SIGNAL_SENT, case_id=case.id,
           payload={"signal": signal, "reason": reason})
    projection.save_step(session, case, wi, instance, actor)
