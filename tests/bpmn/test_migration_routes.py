"""Migrating shipped-dispute cases at the points where they wait inside loops and called processes.

A case waiting in a loop (closure's ``return_visits`` embedded subprocess, the mediation and police
session loops) migrates like any other: its open tasks keep their ids (inbox rows, claims, drafts),
the loop keeps its counter and its running subprocess, a waiting timer keeps its due time, and the
case carries on to its end.
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bpmn_routes lives beside this file

from bpmn_routes import (
    CLOSE,
    FINALIZE,
    INTO_MEDIATION,
    INTO_POLICE,
    Route,
    advance,
    lead,
    police_eligibility,
    police_session,
    resolve,
    sign,
    visit,
)
from bpmn_routes import session as mediation_session

from tests.bpmn.test_routes_runtime import Expect, deployed, drive, moved_clock, ready, user_for  # noqa: F401
from workflows import migration, services
from workflows.deploy import deploy, read_bundle, read_forms
from workflows.models import WorkflowInstance, WorkflowTimer
from workflows.timers import sweep

REPO = Path(__file__).resolve().parents[2]
RETURN_VISITS = [*INTO_MEDIATION, mediation_session("written_agreement"), FINALIZE, sign(False)]
POSITIONS = {
    "prevention": [lead()],
    "mediation session loop": [*INTO_MEDIATION],
    "mediation session loop, second session": [*INTO_MEDIATION, mediation_session("continue")],
    "police session loop": [*INTO_POLICE, police_eligibility()],
    "return visits, waiting for the deadline": RETURN_VISITS,
    "return visits, a visit open": [*RETURN_VISITS, advance(31)],
}


def _renamed(files: dict[str, bytes], name: str, element: str) -> dict[str, bytes]:
    text, n = re.subn(rf'(id="{element}" name=")([^"]*)"', r'\1\2（新）"', files[name].decode("utf-8"))
    assert n == 1, (name, element)
    return {**files, name: text.encode("utf-8")}


CHANGES = {  # one label changed: in the parent only, or in a called process
    "parent": ("dispute.bpmn", "call_referral"),
    "closure": ("closure.bpmn", "archive_case_file"),
}


def _bundle() -> tuple[dict[str, bytes], dict[str, Any]]:
    return read_bundle([REPO / "bpmn"]), read_forms(REPO / "forms" / "definitions")


def _open(session: Session, case: Any) -> list[tuple[str, str]]:
    return sorted((t.spec_id, t.task_id) for t in ready(session, case))


@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("position", list(POSITIONS))
def test_a_case_migrates_where_it_waits_and_keeps_its_open_tasks(
        session: Session, session_factory: sessionmaker[Session], deployed: Any,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, position: str, change: str) -> None:
    files, forms = _bundle()
    with moved_clock(monkeypatch) as clock:
        case = drive(session, session_factory, deployed, Route("p", POSITIONS[position], "x", "village"),
                     clock, Expect([], transfers=[])).case
        before = _open(session, case)
        timers = sorted(session.execute(select(WorkflowTimer.spec_id, WorkflowTimer.due_at)
                                        .where(WorkflowTimer.case_id == case.id)).all())
        session.commit()
        deploy(session, _renamed(dict(files), *CHANGES[change]), forms)
        session.commit()
        plan = migration.check_migration(session, case)
        assert plan.can_migrate, plan.reasons
        migration.migrate_case(session, case=case, user=deployed.users["admin"])
        session.commit()
        session.expire_all()
        assert session.get(WorkflowInstance, case.id).process_version.version == 2
        assert _open(session, case) == before  # the same tasks, under the same ids
        assert sorted(session.execute(select(WorkflowTimer.spec_id, WorkflowTimer.due_at)
                                      .where(WorkflowTimer.case_id == case.id)).all()) == timers


def test_a_case_in_return_visits_carries_on_to_its_end_after_a_migration(
        session: Session, session_factory: sessionmaker[Session], deployed: Any,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    files, forms = _bundle()
    with moved_clock(monkeypatch) as clock:
        case = drive(session, session_factory, deployed, Route("p", RETURN_VISITS, "x", "village"), clock,
                     Expect([], transfers=[])).case
        session.commit()
        deploy(session, _renamed(dict(files), *CHANGES["parent"]), forms)
        session.commit()
        migration.migrate_case(session, case=case, user=deployed.users["admin"])
        session.commit()
        clock.offset += timedelta(days=31)  # the performance deadline passes: the return visit opens
        sweep(session_factory, now=clock.now())
        session.expire_all()
        for name, data in [visit("performed"), *CLOSE]:
            [task] = [t for t in ready(session, case) if t.spec_id == name]
            done = services.complete_task(session, human_task_id=task.id, user=user_for(deployed, case, task),
                                          data=resolve(data, clock.today()))
            assert done.error is None
            session.commit()
        session.expire_all()
        assert session.get(WorkflowInstance, case.id).status == "completed"


def test_a_loop_keeps_its_count_across_a_migration(
        session: Session, session_factory: sessionmaker[Session], deployed: Any,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Police sessions stop after two (loopMaximum): one before the migration and one after it are two."""
    files, forms = _bundle()
    with moved_clock(monkeypatch) as clock:
        case = drive(session, session_factory, deployed,
                     Route("p", [*INTO_POLICE, police_eligibility(), police_session("another_session")], "x",
                           "village"), clock, Expect([], transfers=[])).case
        session.commit()
        deploy(session, _renamed(dict(files), *CHANGES["parent"]), forms)
        session.commit()
        migration.migrate_case(session, case=case, user=deployed.users["admin"])
        session.commit()
        name, data = police_session("another_session")
        [task] = [t for t in ready(session, case) if t.spec_id == name]
        assert services.complete_task(session, human_task_id=task.id, user=user_for(deployed, case, task),
                                      data=resolve(data, clock.today())).error is None
        session.commit()
        assert name not in [t.spec_id for t in ready(session, case)]  # no third session
