"""The process administration pages and the in-browser diagram editor's endpoints (admin only):
validate an edited file within its deployed bundle, deploy it as new versions (running cases keep
theirs), refuse broken edits with the verdict lines and store nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.web.helpers import login, new_case
from workflows.deploy import deploy, read_bundle, read_forms
from workflows.models import ProcessVersion, WorkflowInstance

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ["dispute", "prevention", "intake", "mediation", "police_mediation", "judicial_confirmation",
           "referral", "closure"]


@pytest.fixture
def shipped(session: Any, web_world: Any) -> Any:
    """The test ``dispute`` diagram (v1) with one running case on it, then the shipped bundle deployed."""
    old_case = new_case(session, web_world)
    deploy(session, read_bundle([ROOT / "bpmn"]), read_forms(ROOT / "forms" / "definitions"))
    session.commit()
    web_world.old_case = old_case
    return web_world


def _intake_xml() -> str:
    return (ROOT / "bpmn" / "intake.bpmn").read_text(encoding="utf-8")


def _versions(session: Any) -> dict[str, int]:
    session.expire_all()
    rows = session.execute(select(ProcessVersion.process_id, func.max(ProcessVersion.version))
                           .group_by(ProcessVersion.process_id))
    found = dict(rows.all())
    session.commit()
    return found


def test_mediator_gets_403_everywhere(client: Any, shipped: Any) -> None:
    login(client, "mediator")
    for url in ("/admin/processes", "/admin/processes/intake", "/admin/diagrams/edit?file=intake.bpmn",
                "/admin/diagrams/file/intake.bpmn"):
        assert client.get(url).status_code == 403, url
    for url in ("/admin/diagrams/validate", "/admin/diagrams/deploy"):
        response = client.post(url, json={"file": "intake.bpmn", "xml": _intake_xml()})
        assert response.status_code == 403 and response.get_json()["ok"] is False
    assert "/admin/processes" not in client.get("/inbox").get_data(as_text=True)


def test_anonymous_is_sent_to_login(client: Any, shipped: Any) -> None:
    assert client.get("/admin/processes").status_code in (302, 401)
    assert client.post("/admin/diagrams/deploy", json={"file": "intake.bpmn", "xml": ""}).status_code in (302, 401)


def test_admin_lists_processes_versions_and_running_cases(client: Any, shipped: Any) -> None:
    login(client, "admin")
    assert 'href="/admin/processes"' in client.get("/inbox").get_data(as_text=True)
    page = client.get("/admin/processes", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for pid in SHIPPED:
        assert f'href="/admin/processes/{pid}"' in page
    assert "v1: 1" in page  # the running case on the test dispute diagram
    assert "file=intake.bpmn" in page
    detail = client.get("/admin/processes/dispute").get_data(as_text=True)
    assert "v2" in detail and "v1" in detail and "intake.bpmn" in detail
    assert client.get("/admin/processes/nope").status_code == 404


def test_editor_page_and_file(client: Any, shipped: Any) -> None:
    login(client, "admin")
    page = client.get("/admin/diagrams/edit?file=intake.bpmn").get_data(as_text=True)
    assert "bpmn-modeler.production.min.js" in page and "modeler.js" in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()
    xml = client.get("/admin/diagrams/file/intake.bpmn")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert xml.get_data(as_text=True) == _intake_xml()
    assert len(xml.headers["X-Fengqiao-Bundle"]) == 64
    for name in ("risk.dmn", "clocks.json", "nope.bpmn", "../intake.bpmn"):
        assert client.get("/admin/diagrams/edit", query_string={"file": name}).status_code == 404, name
    assert client.get("/admin/diagrams/file/risk.dmn").status_code == 404


def test_validate_unchanged_file_is_ok(client: Any, shipped: Any) -> None:
    login(client, "admin")
    body = client.post("/admin/diagrams/validate", json={"file": "intake.bpmn", "xml": _intake_xml()}).get_json()
    assert body["ok"] is True and body["status"] == "ok"
    assert {v["path"] for v in body["verdicts"]} >= {"intake.bpmn", "dispute.bpmn", "risk.dmn"}
    assert all(line.endswith(": ok") for line in body["lines"])


def test_validate_broken_xml_names_the_problem(client: Any, shipped: Any) -> None:
    login(client, "admin")
    broken = _intake_xml().replace("</bpmn:userTask>", "</bpmn:userTsk>", 1)
    response = client.post("/admin/diagrams/validate", json={"file": "intake.bpmn", "xml": broken})
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is False and body["status"] == "error"
    mine = next(v for v in body["verdicts"] if v["path"] == "intake.bpmn")
    assert mine["edited"] is True and mine["line"].startswith("error: intake.bpmn:")
    assert "userTsk" in mine["line"] or "mismatch" in mine["line"].lower()
    assert mine["problems"][0]["line"]  # the parser's line number


def test_validate_names_the_element_to_highlight(client: Any, shipped: Any) -> None:
    login(client, "admin")
    # A user task whose form does not exist: valid BPMN, but the engine cannot show the task.
    xml = _intake_xml().replace('name="formKey" value="acceptability_check"', 'name="formKey" value="no_such_form"', 1)
    body = client.post("/admin/diagrams/validate", json={"file": "intake.bpmn", "xml": xml}).get_json()
    mine = next(v for v in body["verdicts"] if v["path"] == "intake.bpmn")
    assert body["ok"] is False and mine["status"] == "not_executable"
    assert "acceptability_check" in mine["element_ids"]
    assert "acceptability_check" in mine["line"] and "no_such_form" in mine["line"]


def test_deploy_edited_file_creates_versions_and_keeps_running_cases(client: Any, session: Any,
                                                                     shipped: Any) -> None:
    before = _versions(session)
    old_case_id = shipped.old_case.id
    old_version_id = session.get(WorkflowInstance, old_case_id).process_version_id
    session.commit()
    login(client, "admin")
    base = client.get("/admin/diagrams/file/intake.bpmn").headers["X-Fengqiao-Bundle"]
    xml = _intake_xml().replace('name="登记调解申请"', 'name="登记人民调解申请"', 1)
    assert xml != _intake_xml()
    response = client.post("/admin/diagrams/deploy", json={"file": "intake.bpmn", "xml": xml, "base": base})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    created = {v["process_id"]: v["version"] for v in body["created"]}
    assert set(created) == set(SHIPPED)
    assert all(created[pid] == before[pid] + 1 for pid in SHIPPED)
    assert _versions(session) == {**before, **created}
    assert body["base"] != base
    # The new latest bundle holds the edit; every other file is as deployed before.
    latest = session.scalars(select(ProcessVersion).where(ProcessVersion.process_id == "intake")
                             .order_by(ProcessVersion.version.desc())).first()
    assert "登记人民调解申请" in latest.files["intake.bpmn"]
    assert latest.files["dispute.bpmn"] == (ROOT / "bpmn" / "dispute.bpmn").read_text(encoding="utf-8")
    assert "clocks.json" in latest.files and latest.deployed_by == "admin"
    wi = session.get(WorkflowInstance, old_case_id)
    assert wi.process_version_id == old_version_id and wi.status == "running"
    session.commit()
    # The editor now serves the edited file; a second deploy from the stale base is refused.
    assert "登记人民调解申请" in client.get("/admin/diagrams/file/intake.bpmn").get_data(as_text=True)
    stale = client.post("/admin/diagrams/deploy", json={"file": "intake.bpmn", "xml": _intake_xml(), "base": base})
    assert stale.status_code == 409
    assert _versions(session) == {**before, **created}


def test_deploy_invalid_edit_is_refused_and_stores_nothing(client: Any, session: Any, shipped: Any) -> None:
    before = _versions(session)
    login(client, "admin")
    # The call activity now points at a process that does not exist.
    xml = (ROOT / "bpmn" / "dispute.bpmn").read_text(encoding="utf-8").replace(
        'calledElement="intake"', 'calledElement="intake_missing"', 1)
    assert 'calledElement="intake_missing"' in xml
    response = client.post("/admin/diagrams/deploy", json={"file": "dispute.bpmn", "xml": xml})
    assert response.status_code == 422
    lines = response.get_json()["lines"]
    assert lines and any(line.startswith("dispute.bpmn: ") for line in lines)
    broken = client.post("/admin/diagrams/deploy", json={"file": "intake.bpmn", "xml": "<not-bpmn"})
    assert broken.status_code == 422 and any("intake.bpmn" in line for line in broken.get_json()["lines"])
    assert _versions(session) == before


def test_bad_requests(client: Any, shipped: Any) -> None:
    login(client, "admin")
    assert client.post("/admin/diagrams/validate", data="nope").status_code == 400
    assert client.post("/admin/diagrams/validate", json={"file": "intake.bpmn"}).status_code == 400
    assert client.post("/admin/diagrams/validate", json={"file": "risk.dmn", "xml": "<x/>"}).status_code == 404
    huge = "<x>" + " " * (6 * 2**20) + "</x>"
    assert client.post("/admin/diagrams/deploy", json={"file": "intake.bpmn", "xml": huge}).status_code == 413


def test_csrf_is_required(app_factory: Any, database_url: str, shipped: Any, tmp_path: Path) -> None:
    strict = app_factory({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "s",
                          "DOCUMENTS_DIR": str(tmp_path / "d")})
    client = strict.test_client()
    page = client.get("/login").get_data(as_text=True)
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "admin", "password": "demo", "csrf_token": token})
    payload = {"file": "intake.bpmn", "xml": _intake_xml()}
    assert client.post("/admin/diagrams/validate", json=payload).status_code == 400
    editor = client.get("/admin/diagrams/edit?file=intake.bpmn").get_data(as_text=True)
    token = re.search(r'data-csrf="([^"]+)"', editor).group(1)
    response = client.post("/admin/diagrams/validate", json=payload, headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.get_json()["ok"] is True
