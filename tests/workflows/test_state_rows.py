"""A case's state stored as a header and one row per task: a step writes only the rows that
changed, every load gives back exactly the state that was saved, earlier states still load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bench.steps import data_for
from tests.sql_log import statements
from tests.workflows.test_services import new_case, open_task
from workflows import cache, services, state_rows
from workflows.deploy import deploy, read_forms
from workflows.models import WorkflowInstance, WorkflowTaskState

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench_deployed(session: Any, world: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(cache, "instances", cache.InstanceCache())
    deploy(session, {"mediation.bpmn": (ROOT / "bench" / "mediation.bpmn").read_bytes()},
           read_forms(ROOT / "bench" / "forms"))
    session.commit()
    return world


def step(session: Any, world: Any, case: Any, more_visits: bool = True) -> str:
    task = open_task(session, case)
    user = world.users["supervisor" if task.role == "supervisor" else "mediator"]
    services.complete_task(session, human_task_id=task.id, user=user, data=data_for(task.spec_id, more_visits))
    session.commit()
    return task.spec_id


def live_and_loaded(session: Any, case_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cached live instance's state and the state loaded afresh from the rows, as parsed JSON."""
    session.expire_all()
    wi = session.get(WorkflowInstance, case_id)
    token = cache.state_token(wi.lock_version, wi.process_version.sha256, wi.updated_at)
    live = cache.instances.take(cache.cache_key(session, case_id), token)
    assert live is not None, "the step's instance should be cached"
    loaded = state_rows.load(session, wi, services.definition_for(wi.process_version))
    result = json.loads(live.dump()), json.loads(loaded.dump())
    cache.instances.put(cache.cache_key(session, case_id), token, live)
    return result


def test_every_save_loads_back_exactly(session: Any, bench_deployed: Any) -> None:
    case = new_case(session, bench_deployed, process_id="bench_mediation")
    for _ in range(25):  # nine steps to the return visits, then visit after visit
        step(session, bench_deployed, case)
        live, loaded = live_and_loaded(session, case.id)
        assert loaded == live
    wi = session.get(WorkflowInstance, case.id)
    assert wi.serializer_version == state_rows.ROWS_FORMAT
    assert '"tasks": {}' in wi.state  # the header holds no task
    step(session, bench_deployed, case, more_visits=False)  # the loop ends: its iterations change form
    live, loaded = live_and_loaded(session, case.id)
    assert loaded == live
    rows = session.scalar(select(func.count()).select_from(WorkflowTaskState)
                          .where(WorkflowTaskState.case_id == case.id))
    assert rows == sum(len(w["tasks"]) for w in [live, *live["subprocesses"].values()])


def test_a_late_step_writes_no_more_rows_than_an_early_one(session: Any, bench_deployed: Any) -> None:
    case = new_case(session, bench_deployed, process_id="bench_mediation")
    per_step = []
    for _ in range(40):
        with statements(session.get_bind()) as run:
            step(session, bench_deployed, case)
        per_step.append(sum(s.rows for s in run if "workflow_task_states" in s.sql and s.verb != "SELECT"))
    early, late = per_step[10:15], per_step[35:40]
    assert max(late) <= max(early), (early, late)
    assert max(late) < 10  # a handful of rows, not the history


def test_state_saved_whole_still_loads_and_moves_to_rows(session: Any, bench_deployed: Any) -> None:
    case = new_case(session, bench_deployed, process_id="bench_mediation")
    for _ in range(4):
        step(session, bench_deployed, case)
    live, _ = live_and_loaded(session, case.id)
    # What an installation upgraded from the earlier format holds: the whole JSON, no rows.
    session.execute(text("DELETE FROM workflow_task_states WHERE case_id = :c"), {"c": case.id})
    session.execute(text("UPDATE workflow_instances SET state = :s, serializer_version = :v, lock_version = "
                         "lock_version + 1 WHERE case_id = :c"),
                    {"s": json.dumps(live, ensure_ascii=False), "v": state_rows.FULL_FORMAT, "c": case.id})
    session.commit()
    session.expire_all()
    wi = session.get(WorkflowInstance, case.id)
    assert json.loads(state_rows.load(session, wi, services.definition_for(wi.process_version)).dump()) == live
    step(session, bench_deployed, case)
    live, loaded = live_and_loaded(session, case.id)
    assert loaded == live
    assert session.get(WorkflowInstance, case.id).serializer_version == state_rows.ROWS_FORMAT


def test_downgrade_puts_states_back_whole(session: Any, bench_deployed: Any, database_url: str) -> None:
    from alembic import command

    from cases.migrate import alembic_config, upgrade

    case = new_case(session, bench_deployed, process_id="bench_mediation")
    for _ in range(12):
        step(session, bench_deployed, case)
    live, _ = live_and_loaded(session, case.id)
    case_id = case.id
    session.close()
    session.get_bind().dispose()
    command.downgrade(alembic_config(database_url), "0003")
    try:
        row = session.execute(text("SELECT state, serializer_version FROM workflow_instances WHERE case_id = :c"),
                              {"c": case_id}).one()
        assert row.serializer_version == state_rows.FULL_FORMAT
        assert json.loads(row.state) == live
        session.rollback()
    finally:
        session.close()
        session.get_bind().dispose()
        upgrade(database_url)
