"""The ``fengqiao`` command line: init, validate, deploy, users, worker and audit verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from web.cli import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FENGQIAO_DATABASE_URL", database_url)

    def invoke(*args: str, **kwargs: Any) -> Any:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)

    return invoke


def test_init_deploys_and_loads_demo_once(run: Any) -> None:
    first = run("init", "--demo")
    assert first.exit_code == 0, first.output
    assert "deployed dispute v1" in first.output and "demo data loaded" in first.output
    assert "mediator" in first.output  # demo logins are printed
    again = run("init", "--demo")
    assert again.exit_code == 0 and "deployed" not in again.output and "demo data loaded" not in again.output
    assert run("audit", "verify").exit_code == 0


def test_validate_shipped_diagrams_and_json(run: Any) -> None:
    result = run("validate", str(ROOT / "bpmn"))
    assert result.exit_code == 0, result.output
    assert all(line.endswith(": ok") for line in result.output.strip().splitlines())
    as_json = json.loads(run("validate", "--json", str(ROOT / "bpmn")).output)
    assert {v["status"] for v in as_json} == {"ok"}


@pytest.mark.parametrize("name, expected", [
    ("billion_laughs.bpmn", "DOCTYPE"), ("xxe_file.bpmn", "DOCTYPE"), ("import_os.bpmn", "error:"),
    ("dunder_traversal.bpmn", "error:"), ("open_file.bpmn", "error:"), ("non_utf8.bpmn", "UTF-8"),
    ("empty.bpmn", "empty"),
])
def test_validate_refuses_hostile_files_without_a_traceback(run: Any, name: str, expected: str) -> None:
    result = run("validate", str(ROOT / "tests" / "data" / "hostile" / name))
    assert result.exit_code == 1
    assert expected.lower() in result.output.lower(), result.output
    assert "Traceback" not in result.output


def test_validate_missing_path_is_a_clear_error(run: Any) -> None:
    result = CliRunner().invoke(cli, ["validate", "no/such/file.bpmn"])
    assert result.exit_code != 0 and "no such file" in result.output


def test_deploy_users_add_and_worker(run: Any, tmp_path: Path) -> None:
    assert run("init").exit_code == 0
    result = run("deploy", str(ROOT / "tests" / "fixtures" / "core"))
    assert result.exit_code == 0, result.output
    assert "deployed core_case v1" in result.output
    assert "nothing new" in run("deploy", str(ROOT / "tests" / "fixtures" / "core")).output
    broken = tmp_path / "bad.bpmn"
    broken.write_text("<definitions>")
    refused = CliRunner().invoke(cli, ["deploy", str(broken)])
    assert refused.exit_code == 1 and "error" in refused.output
    from web.demo import build_org_tree  # noqa: F401 -- the org tree comes with --demo
    assert run("init", "--demo").exit_code == 0
    added = run("users", "add", "wang", "--role", "mediator@village", "--name", "王调解", input="pw\npw\n")
    assert added.exit_code == 0, added.output
    unknown = CliRunner().invoke(cli, ["users", "add", "li", "--role", "mediator@nowhere"], input="pw\npw\n")
    assert unknown.exit_code != 0 and "unknown org unit 'nowhere'" in unknown.output
    assert run("worker", "--once").exit_code == 0


def test_holiday_calendar_feeds_working_day_clocks(run: Any, database_url: str) -> None:
    from cases.db import make_engine, make_session_factory
    from workflows import services

    assert run("init").exit_code == 0
    assert "only weekends" in run("holidays", "list").output
    assert run("holidays", "add", "2026-10-01", "--name", "国庆节").exit_code == 0
    assert run("holidays", "add", "2026-10-10", "--workday", "--name", "调休").exit_code == 0
    bad = CliRunner().invoke(cli, ["holidays", "add", "2026-13-01"])
    assert bad.exit_code != 0 and "not a date" in bad.output
    listing = run("holidays", "list").output
    assert "2026-10-01  holiday  国庆节" in listing and "2026-10-10  working day" in listing
    services._calendar_cache.clear()
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        assert services.calendar(session) == (["2026-10-01"], ["2026-10-10"])
    engine.dispose()
    assert run("holidays", "remove", "2026-10-01").exit_code == 0
    assert CliRunner().invoke(cli, ["holidays", "remove", "2026-10-01"]).exit_code != 0
    assert run("audit", "verify").exit_code == 0


def test_init_does_not_revert_a_newer_deploy(run: Any, database_url: str) -> None:
    from cases.db import make_engine, make_session_factory
    from workflows.deploy import deploy, latest_version, read_bundle, read_forms

    assert run("init").exit_code == 0
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:  # an admin edits a diagram in the browser
        files = read_bundle([ROOT / "bpmn"])
        files["intake.bpmn"] = files["intake.bpmn"].replace("登记调解申请".encode(), "登记人民调解申请".encode())
        deploy(session, files, read_forms(ROOT / "forms" / "definitions"), "admin")
        session.commit()
    again = run("init")
    assert again.exit_code == 0 and "deployed" not in again.output
    with make_session_factory(engine)() as session:
        assert latest_version(session, "dispute").deployed_by == "admin"
    engine.dispose()
