"""Move a running case onto another deployed version of its process.

A case keeps the version it started with (see ``workflows.deploy``). An admin may migrate it when
the new version only changes what lies ahead: the engine's diff (``SpiffWorkflow.bpmn.util.diff``)
aligns the old and new task specs by BPMN id (then by structure) and the migration is refused when
a task that already ran would change or disappear, when an open task has no counterpart, when a
called process is missing from the target, or when the case is not running.

Migrating swaps the specs of the top workflow and of every subprocess, resets and re-predicts the
open (READY/WAITING) tasks — keeping their ids, so inbox rows, claims and drafts survive — and
re-predicts the future of running (STARTED) tasks without resetting them (see ``_migrate_workflow``),
keeps the deadlines of waiting timers whose definition did not change, then stores the state under
the target version, re-projects the human tasks and writes a ``version.migrated`` audit event.

Everything that touches SpiffWorkflow objects stays in this module and ``workflows.engine``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.audit import Actor, AuditAction, record
from cases.models import Case, User
from cases.permissions import Action, can
from cases.roles import role_for_lane
from workflows import projection, state_rows
from workflows.deploy import latest_version
from workflows.engine import _SPEC_REGISTRY, Definition, EngineError, Instance
from workflows.errors import Conflict, Forbidden, NotFound
from workflows.models import ProcessVersion, WorkflowInstance
from workflows.services import _lock_instance, calendar, definition_for, load_instance
from workflows.state_writer import MEMO_ATTR

# Open tasks reset and re-predicted against the new spec. STARTED tasks (a running call activity or
# embedded subprocess, a loop or multi-instance task) are not reset: resetting drops all their
# children, i.e. the live loop instance, its subprocess and the loop counter (see _migrate_workflow).
RESET_MASK = TaskState.READY | TaskState.WAITING
_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_REPREDICT = TaskState.PREDICTED_MASK | TaskState.FUTURE
_FINISHED = TaskState.COMPLETED | TaskState.CANCELLED


@dataclass
class MigrationPlan:
    """What migrating one case to ``to_version`` would change, and whether it is allowed.

    Element ids of called processes are written ``process_id/element_id``.
    """

    case_id: int
    case_number: str
    process_id: str
    from_version: int
    to_version: int
    can_migrate: bool = True
    reasons: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # element id -> changed attributes
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    affected_tasks: list[str] = field(default_factory=list)  # open tasks whose element changed
    applied: bool = False
    dropped_predictions: int = 0  # predicted tasks replaced by the new version's predictions

    def summary(self) -> dict[str, Any]:
        """The diff, as stored in the audit event."""
        return {"changed": self.changed, "removed": self.removed, "added": self.added,
                "affected_tasks": self.affected_tasks}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """A human-readable rendering (the command line prints it)."""
        verdict = ("migrated" if self.applied else "can migrate") if self.can_migrate else "cannot migrate"
        out = [f"case {self.case_number}: {self.process_id} v{self.from_version} -> v{self.to_version}: {verdict}"]
        for element, attrs in self.changed.items():
            out.append(f"  changed  {element} ({', '.join(attrs)})")
        out += [f"  removed  {element}" for element in self.removed]
        out += [f"  added    {element}" for element in self.added]
        if self.affected_tasks:
            out.append(f"  open tasks affected: {', '.join(self.affected_tasks)}")
        out += [f"  refused: {reason}" for reason in self.reasons]
        return out


# -- engine level --------------------------------------------------------------------------------


def _element(spec: Any, prefix: str = "") -> str:
    return prefix + (getattr(spec, "bpmn_id", None) or spec.name)


def _is_element(spec: Any) -> bool:
    """A real BPMN element (not one of the engine's internal Start/EndJoin/boundary specs)."""
    return bool(getattr(spec, "bpmn_id", None))


def _state(task: Any) -> str:
    return TaskState.get_name(task.state)


class _InstanceDiff:
    """The engine diff of one instance (top workflow and subprocesses) against a target definition."""

    def __init__(self, instance: Instance, target: Definition) -> None:
        wf = instance.workflow
        self.target = target
        self.top_spec = SpecDiff(_SPEC_REGISTRY, wf.spec, target.spec)
        self.top = WorkflowDiff(wf, self.top_spec)
        # Spec-level diffs of every called process (for the summary), reused per spec name.
        self.dep_specs: dict[str, SpecDiff | None] = {
            name: (SpecDiff(_SPEC_REGISTRY, spec, target.subprocess_specs[name])
                   if name in target.subprocess_specs else None)
            for name, spec in wf.subprocess_specs.items()}
        self.added_deps = sorted(n for n in target.subprocess_specs if n not in wf.subprocess_specs)
        self.subs: dict[UUID, tuple[str, WorkflowDiff | None]] = {}
        for sp_id, sp in wf.subprocesses.items():
            name = sp.spec.name
            spec_diff = self.dep_specs.get(name)
            if spec_diff is None and name in target.subprocess_specs and name not in self.dep_specs:
                spec_diff = self.dep_specs[name] = SpecDiff(_SPEC_REGISTRY, sp.spec, target.subprocess_specs[name])
            self.subs[sp_id] = (name, WorkflowDiff(sp, spec_diff) if spec_diff is not None else None)

    def workflow_diffs(self, instance: Instance) -> list[tuple[str, Any, WorkflowDiff | None, SpecDiff | None]]:
        """(element prefix, workflow, workflow diff, spec diff) for the top workflow and each subprocess."""
        wf = instance.workflow
        out = [("", wf, self.top, self.top_spec)]
        for sp_id, (name, wdiff) in self.subs.items():
            sp = wf.subprocesses.get(sp_id)
            if sp is not None:
                out.append((f"{name}/", sp, wdiff, self.dep_specs.get(name)))
        return out

    def fill(self, plan: MigrationPlan, instance: Instance) -> None:
        """Copy the spec-level summary, the affected open tasks and the refusal reasons into ``plan``."""
        self._summarise(plan, "", self.top_spec)
        for name, spec_diff in self.dep_specs.items():
            if spec_diff is None:
                plan.removed.append(name)
            else:
                self._summarise(plan, f"{name}/", spec_diff)
        plan.added += self.added_deps

        reasons: dict[str, None] = {}
        affected: dict[str, None] = {}
        version = f"v{plan.to_version}"
        for prefix, workflow, wdiff, spec_diff in self.workflow_diffs(instance):
            if wdiff is None or spec_diff is None:
                reasons[f"called process '{workflow.spec.name}' (started in this case) is not part "
                        f"of {version}"] = None
                continue
            changed = spec_diff.changed
            for task in wdiff.changed:
                element = _element(task.task_spec, prefix)
                attrs = ", ".join(changed.get(task.task_spec, []))
                if task.state == TaskState.COMPLETED:
                    reasons[f"'{element}' has already run and its definition changed in {version} "
                            f"({attrs})"] = None
                elif task.state & _OPEN and _is_element(task.task_spec):
                    affected[element] = None
            for task in wdiff.removed:
                element = _element(task.task_spec, prefix)
                if task.state & _FINISHED:
                    reasons[f"'{element}' has already run and is removed in {version}"] = None
                elif task.state & _OPEN:
                    reasons[f"open task '{element}' ({_state(task)}) has no counterpart in {version}"] = None
                    affected[element] = None
        plan.reasons += list(reasons)
        plan.affected_tasks = sorted(affected)

    @staticmethod
    def _summarise(plan: MigrationPlan, prefix: str, spec_diff: SpecDiff) -> None:
        for spec, attrs in spec_diff.changed.items():
            if _is_element(spec):
                plan.changed[_element(spec, prefix)] = sorted(attrs)
        plan.removed += sorted(_element(s, prefix) for s in spec_diff.removed if _is_element(s))
        plan.added += sorted(_element(s, prefix) for s in spec_diff.added if _is_element(s))

    def apply(self, instance: Instance) -> int:
        """Swap the specs in place (top workflow, then each subprocess); returns the number of
        predicted tasks dropped. The caller reloads the result before trusting it."""
        wf = instance.workflow
        target = self.target
        tasks = _all_tasks(wf)
        # A reset clears a waiting timer's due time and would restart the deadline from now: keep
        # the due time of every timer whose own definition did not change.
        changed_ids = {t.id for t in self.top.changed} | {
            t.id for _, d in self.subs.values() if d is not None for t in d.changed}
        deadlines = {t.id: t._get_internal_data("event_value") for t in tasks
                     if t.state == TaskState.WAITING and t.id not in changed_ids
                     and isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)
                     and t._get_internal_data("event_value") is not None}
        dropped = _migrate_workflow(self.top, wf, target.spec)
        wf.subprocess_specs = target.subprocess_specs
        for sp_id, (name, wdiff) in self.subs.items():
            sp = wf.subprocesses.get(sp_id)
            if sp is None or wdiff is None:
                continue
            dropped += _migrate_workflow(wdiff, sp, target.subprocess_specs[name])
        for task in _all_tasks(wf):
            if task.id in deadlines and task.state == TaskState.WAITING:
                task._set_internal_data(event_value=deadlines[task.id])
        # Cached task fragments (see workflows.state_writer) may name a spec that was just swapped.
        for workflow in [wf, *wf.subprocesses.values()]:
            workflow.__dict__.pop(MEMO_ATTR, None)
        instance.definition = target
        return len(dropped)


def _migrate_workflow(diff: WorkflowDiff, workflow: Any, spec: Any) -> list[Any]:
    """``migrate_workflow`` for one (sub)workflow, returning the dropped tasks.

    READY/WAITING tasks are reset and re-predicted (``Task.reset_branch``). A STARTED task is not:
    ``reset_branch`` drops *all* its children, which for a standard loop / multi-instance task are
    the live instances (with their subprocesses, e.g. closure's ``return_visits``) and restarts the
    loop from zero. For a STARTED task only its predicted children are dropped and re-predicted
    against the new spec; its live instances, subprocess, data and internal data stay.
    """
    dropped = migrate_workflow(diff, workflow, spec, reset_mask=RESET_MASK)
    for task in list(workflow.get_tasks(state=TaskState.STARTED, skip_subprocesses=True)):
        for child in list(task.children):
            if child.has_state(_REPREDICT) and not child.triggered:
                dropped.extend(child)  # the child and its (predicted) descendants
                workflow._remove_task(child.id)
        task.task_spec._predict_hook(task)
        for child in task.children:
            if child.has_state(_REPREDICT):
                child.task_spec._predict(child, mask=_REPREDICT)
    return dropped


def _all_tasks(wf: Any) -> list[Any]:
    tasks = list(wf.tasks.values())
    for sp in wf.subprocesses.values():
        tasks.extend(sp.tasks.values())
    return tasks


def _advance(instance: Instance) -> None:
    """Run engine tasks the new version made READY; timers are left to the timer sweep (which
    audits them)."""
    instance.run_engine(refresh_timers=False)


# -- services ------------------------------------------------------------------------------------


def version_by_number(session: Session, process_id: str, number: int) -> ProcessVersion:
    found = session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id,
                                                        ProcessVersion.version == number))
    if found is None:
        raise NotFound(f"process '{process_id}' has no version {number}")
    return found


def _plan(case: Case, wi: WorkflowInstance, target: ProcessVersion,
          instance: Instance | None) -> tuple[MigrationPlan, _InstanceDiff | None]:
    current = wi.process_version
    plan = MigrationPlan(case_id=case.id, case_number=case.number, process_id=current.process_id,
                         from_version=current.version, to_version=target.version)
    if target.process_id != current.process_id:
        plan.reasons.append(f"version {target.version} belongs to process '{target.process_id}', "
                            f"not '{current.process_id}'")
    elif target.id == current.id:
        plan.reasons.append(f"the case already runs v{current.version}")
    if wi.status != "running":
        plan.reasons.append(f"the case is not running (workflow status '{wi.status}')")
    diff = None
    if instance is not None and target.process_id == current.process_id and target.id != current.id:
        diff = _InstanceDiff(instance, definition_for(target))
        diff.fill(plan, instance)
    plan.can_migrate = not plan.reasons
    return plan, diff


def _target_for(session: Session, wi: WorkflowInstance, target: ProcessVersion | None) -> ProcessVersion:
    if target is not None:
        return target
    found = latest_version(session, wi.process_version.process_id)
    if found is None:  # pragma: no cover -- the case's own version exists
        raise NotFound(f"process '{wi.process_version.process_id}' is not deployed")
    return found


def check_migration(session: Session, case: Case, target: ProcessVersion | None = None) -> MigrationPlan:
    """The plan for migrating ``case`` to ``target`` (default: the latest version of its process).

    Read-only: the instance is deserialized from the stored state, the cache is left alone.
    """
    wi = session.get(WorkflowInstance, case.id)
    if wi is None:
        raise NotFound(f"case {case.number} has no workflow")
    target = _target_for(session, wi, target)
    holidays, workdays = calendar(session)
    instance = state_rows.load(session, wi, definition_for(wi.process_version), holidays, workdays)
    return _plan(case, wi, target, instance)[0]


def migrate_case(session: Session, *, case: Case, user: User | None, target: ProcessVersion | None = None,
                 operator: str | None = None) -> MigrationPlan:
    """Migrate ``case`` to ``target`` (default: the latest version of its process). Admin only.

    ``user=None`` with ``operator`` set is the trusted command line (audited as that operator in
    the admin role). Raises ``Forbidden``, ``NotFound`` or ``Conflict`` (naming the elements);
    flushes, the caller commits.
    """
    if user is not None:
        if not can(user, Action.PROCESS_DEPLOY):
            raise Forbidden("only an admin may migrate a case to another process version")
        actor = Actor(user.id, user.username, "admin")
    elif operator:
        actor = Actor(None, operator, "admin")
    else:
        raise Forbidden("only an admin may migrate a case to another process version")
    wi = _lock_instance(session, case.id)
    target = _target_for(session, wi, target)
    instance = load_instance(session, wi) if wi.status == "running" else None
    plan, diff = _plan(case, wi, target, instance)
    if not plan.can_migrate or diff is None or instance is None:
        raise Conflict(f"case {case.number} cannot be migrated to {plan.process_id} v{plan.to_version}: "
                       + "; ".join(plan.reasons or ["nothing to migrate"]), case_id=case.id)

    definition = definition_for(target)
    try:
        plan.dropped_predictions = diff.apply(instance)
    except Exception as exc:  # SpiffWorkflow's migration can fail on states the plan did not foresee
        raise Conflict(f"case {case.number} cannot be migrated to v{target.version}: the engine could not "
                       f"move its tasks ({exc.__class__.__name__}: {exc})", case_id=case.id) from exc
    holidays, workdays = calendar(session)
    try:
        # Reload what will be stored: every task must resolve against the target's specs.
        migrated = Instance.load(definition, instance.dump(), holidays, workdays)
        _advance(migrated)
    except EngineError as exc:
        raise Conflict(f"case {case.number} cannot be migrated to v{target.version}: the engine failed "
                       f"at '{exc.element_id or '?'}': {exc.message}", case_id=case.id) from exc
    except Exception as exc:
        raise Conflict(f"case {case.number} cannot be migrated to v{target.version}: the migrated state "
                       f"does not load ({exc.__class__.__name__}: {exc})", case_id=case.id) from exc

    record(session, actor=actor, action=AuditAction.VERSION_MIGRATED, case_id=case.id,
           payload={"process_id": plan.process_id, "from": plan.from_version, "to": plan.to_version,
                    "dropped_predictions": plan.dropped_predictions, **plan.summary()})
    wi.process_version = target
    wi.process_version_id = target.id
    projection.persist(session, case, wi, migrated, actor)
    _refresh_open_tasks(session, case, migrated)
    plan.applied = True
    session.flush()
    return plan


def _refresh_open_tasks(session: Session, case: Case, instance: Instance) -> None:
    """Open tasks keep their ids (and rows) across a migration: update what the new version says
    about them. A changed role drops the claim; a changed form drops the draft."""
    infos = {info.task_id: info for info in instance.ready_human_tasks()}
    for row in projection.ready_tasks(session, case.id):
        info = infos.get(row.task_id)
        if info is None:
            continue
        role = role_for_lane(info.lane)
        role_name = str(role) if role else "admin"
        if role_name != row.role:
            row.claimed_by_id = None
        if info.form_key != row.form_key:
            row.draft = None
        row.spec_id, row.process_id, row.name, row.lane, row.role = (
            info.spec_id, info.process_id, info.name, info.lane, role_name)
        row.form_key, row.documents, row.case_action, row.instructions = (
            info.form_key, info.documents, info.case_action, info.instructions)
