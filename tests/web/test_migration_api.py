"""Version migration through the JSON API and the ``fengqiao migrate`` command."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.audit import AuditEvent, chain_for, verify_chains
from tests.web.test_api import assert_error, token
from tests.workflows.test_migration import at_mediate, deploy_text, version_of, with_register_renamed, with_visit
from tests.workflows.test_services import actions, open_task
from web.cli import cli


def test_plan_and_migrate_through_the_api(client: Any, session: Session, core_deployed: Any) -> None:
    w = core_deployed
    case = at_mediate(session, w)
    other = at_mediate(session, w)
    deploy_text(session, with_visit())
    admin = token(client, "admin")

    plan = client.get(f"/api/v1/cases/{case.id}/migration", headers=admin)
    assert plan.status_code == 200, plan.get_json()
    body = plan.get_json()
    assert (body["can_migrate"], body["from_version"], body["to_version"], body["applied"]) == (True, 1, 2, False)
    assert body["added"] == ["visit"] and body["affected_tasks"] == ["mediate"]
    # Someone who may see the case may see its plan; only an admin may migrate.
    assert client.get(f"/api/v1/cases/{case.id}/migration", headers=token(client, "mediator")).status_code == 200
    assert_error(client.post(f"/api/v1/cases/{case.id}/migrate", headers=token(client, "mediator"), json={}),
                 403, "forbidden")
    assert_error(client.post(f"/api/v1/cases/{case.id}/migrate", headers=token(client, "supervisor")),
                 403, "forbidden")
    assert_error(client.post(f"/api/v1/cases/{case.id}/migrate"), 401, "unauthorized")
    assert version_of(session, case) == 1

    done = client.post(f"/api/v1/cases/{case.id}/migrate", headers=admin)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["applied"] is True
    assert version_of(session, case) == 2
    assert version_of(session, other) == 1
    assert open_task(session, case).name == "调解（第二版）"
    assert "version.migrated" in actions(session, case)
    assert verify_chains(session)[1] == []
    session.commit()

    again = assert_error(client.post(f"/api/v1/cases/{case.id}/migrate", headers=admin, json={}),
                         409, "conflict")
    assert "already runs v2" in again["message"]


def test_api_refusals_use_the_error_envelope(client: Any, session: Session, core_deployed: Any) -> None:
    w = core_deployed
    case = at_mediate(session, w)
    deploy_text(session, with_visit())
    deploy_text(session, with_register_renamed(with_visit()))
    admin = token(client, "admin")

    plan = client.get(f"/api/v1/cases/{case.id}/migration", headers=admin).get_json()
    assert plan["can_migrate"] is False and any("'register'" in r for r in plan["reasons"])
    refused = assert_error(client.post(f"/api/v1/cases/{case.id}/migrate", headers=admin), 409, "conflict")
    assert "register" in refused["message"] and refused["case_id"] == case.id
    assert version_of(session, case) == 1

    assert client.get(f"/api/v1/cases/{case.id}/migration?to=2", headers=admin).get_json()["can_migrate"]
    assert_error(client.get(f"/api/v1/cases/{case.id}/migration?to=9", headers=admin), 404, "not_found")
    assert_error(client.post(f"/api/v1/cases/{case.id}/migrate", headers=admin, json={"to": 0}),
                 422, "validation_failed")
    assert_error(client.post(f"/api/v1/cases/{case.id}/migrate", headers=admin, json={"version": 2}),
                 422, "validation_failed")
    assert_error(client.post("/api/v1/cases/999999/migrate", headers=admin), 404, "not_found")
    assert_error(client.get(f"/api/v1/cases/{case.id}/migration", headers=token(client, "lawyer")),
                 403, "forbidden")
    done = client.post(f"/api/v1/cases/{case.id}/migrate", headers=admin, json={"to": 2})
    assert done.status_code == 200 and done.get_json()["to_version"] == 2
    assert version_of(session, case) == 2


def test_openapi_lists_the_migration_endpoints(client: Any, world: Any) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/cases/{case_id}/migration"]
    assert "post" in paths["/api/v1/cases/{case_id}/migrate"]


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FENGQIAO_DATABASE_URL", database_url)
    monkeypatch.setenv("USER", "ops")

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_cli_migrate_dry_run_refusal_and_success(run: Any, session: Session, core_deployed: Any) -> None:
    w = core_deployed
    case = at_mediate(session, w)
    deploy_text(session, with_visit())
    deploy_text(session, with_register_renamed(with_visit()))

    refused = run("migrate", case.number)
    assert refused.exit_code == 1
    assert "cannot migrate" in refused.output and "'register'" in refused.output

    dry = run("migrate", case.number, "--to", "2", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "v1 -> v2: can migrate" in dry.output and "added    visit" in dry.output
    assert version_of(session, case) == 1

    assert run("migrate", case.number, "--to", "2", "--user", "mediator").exit_code != 0
    assert run("migrate", case.number, "--to", "7").exit_code != 0
    assert version_of(session, case) == 1

    done = run("migrate", case.number, "--to", "2")
    assert done.exit_code == 0, done.output
    assert "v1 -> v2: migrated" in done.output
    assert version_of(session, case) == 2
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.chain == chain_for(case.id),
                                                       AuditEvent.action == "version.migrated")).all()
    assert (event.actor_username, event.actor_role, event.payload["to"]) == ("ops", "admin", 2)
    assert verify_chains(session, case.id)[1] == []
