"""The JSON API: tokens, tasks, cases, events, the OpenAPI document and the error envelope."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflows.test_services import new_case


def token(client: Any, username: str = "mediator", password: str = "demo") -> dict[str, str]:
    resp = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['token']}"}


def assert_error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()["error"]
    assert body["code"] == code and body["message"]
    return body


def test_openapi_document_lists_the_endpoints(client: Any, world: Any) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/auth/token", "/api/v1/tasks", "/api/v1/tasks/{task_id}/complete",
                 "/api/v1/cases", "/api/v1/cases/{case_id}", "/api/v1/cases/{case_id}/events"):
        assert path in spec["paths"], path
    assert "CaseArgs" in spec["components"]["schemas"]


def test_token_errors(client: Any, world: Any) -> None:
    assert_error(client.post("/api/v1/auth/token", json={"username": "mediator", "password": "x"}),
                 401, "unauthorized")
    body = assert_error(client.post("/api/v1/auth/token", json={"username": "mediator"}), 422,
                        "validation_failed")
    assert "password" in body["fields"]
    assert_error(client.post("/api/v1/auth/token", data="not json", content_type="text/plain"), 422,
                 "validation_failed")
    assert_error(client.get("/api/v1/tasks"), 401, "unauthorized")
    assert_error(client.get("/api/v1/tasks", headers={"Authorization": "Bearer forged"}), 401, "unauthorized")


def test_login_rate_limit(client: Any, world: Any) -> None:
    for _ in range(5):
        client.post("/api/v1/auth/token", json={"username": "police", "password": "wrong"})
    assert_error(client.post("/api/v1/auth/token", json={"username": "police", "password": "demo"}),
                 429, "too_many_requests")


def test_demo_password_refused_in_production(database_url: str, world: Any, app_factory: Any) -> None:
    app = app_factory({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "x",
                       "FENGQIAO_ENV": "production"})
    assert_error(app.test_client().post("/api/v1/auth/token", json={"username": "admin", "password": "demo"}),
                 401, "unauthorized")


def test_case_and_task_flow_through_the_api(client: Any, core_deployed: Any) -> None:
    h = token(client)
    resp = client.post("/api/v1/cases", headers=h, json={
        "title": "邻里噪音纠纷", "category": "neighbour", "process_id": "core_case",
        "parties": [{"role": "applicant", "name": "王芳"}, {"role": "respondent", "name": "赵明"}]})
    assert resp.status_code == 201, resp.get_json()
    case = resp.get_json()
    assert case["number"].endswith("-0001") and case["org_unit"] == "village"
    [task] = case["open_tasks"]
    assert task["form_key"] == "core_register"
    tasks = client.get("/api/v1/tasks", headers=h).get_json()
    assert [t["id"] for t in tasks] == [task["id"]]
    bad = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=h, json={"data": {"urgent": "maybe"}})
    body = assert_error(bad, 422, "validation_failed")
    assert {"summary", "urgent"} <= set(body["fields"])
    ok = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=h,
                     json={"data": {"summary": "夜间噪音", "urgent": False}, "lang": "en"})
    assert ok.status_code == 200, ok.get_json()
    assert [t["spec_id"] for t in ok.get_json()["next_tasks"]] == ["mediate"]
    again = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=h,
                        json={"data": {"summary": "x", "urgent": False}})
    body = assert_error(again, 409, "conflict")
    assert body["completed_by"]
    events = client.get(f"/api/v1/cases/{case['id']}/events", headers=h).get_json()
    assert [e["action"] for e in events] == ["case.opened", "task.completed"]
    assert events[1]["payload"]["data"]["summary"] == "夜间噪音"
    assert events[1]["prev_hash"] == events[0]["hash"]
    listing = client.get("/api/v1/cases?q=王芳", headers=h).get_json()
    assert listing["total"] == 1


def test_permissions_in_the_api(client: Any, session: Any, core_deployed: Any) -> None:
    case = new_case(session, core_deployed)
    lawyer = token(client, "lawyer")
    assert_error(client.get(f"/api/v1/cases/{case.id}", headers=lawyer), 403, "forbidden")
    assert client.get("/api/v1/tasks", headers=lawyer).get_json() == []
    assert client.get("/api/v1/cases", headers=lawyer).get_json()["total"] == 0
    auditor = token(client, "auditor")
    assert client.get(f"/api/v1/cases/{case.id}", headers=auditor).status_code == 200
    task_id = client.get(f"/api/v1/cases/{case.id}", headers=auditor).get_json()["open_tasks"]
    assert task_id == []  # auditors see the case, not its tasks
    assert_error(client.get("/api/v1/cases/99999", headers=auditor), 404, "not_found")
    mediator_tasks = client.get("/api/v1/tasks", headers=token(client)).get_json()
    assert_error(client.post(f"/api/v1/tasks/{mediator_tasks[0]['id']}/complete", headers=auditor,
                             json={"data": {"summary": "x", "urgent": False}}), 403, "forbidden")
    assert_error(client.post("/api/v1/cases", headers=auditor, json={"title": "x", "category": "other"}),
                 403, "forbidden")


@pytest.mark.parametrize("payload, field", [
    ({"title": "", "category": "neighbour"}, "title"),
    ({"title": "x", "category": "nonsense"}, "category"),
    ({"title": "x", "category": "other", "org_unit": "nowhere"}, "org_unit"),
    ({"title": "x", "category": "other", "parties": [{"role": "judge", "name": "a"}]}, "parties"),
    ({"title": "x", "category": "other", "unknown": 1}, "unknown"),
])
def test_bad_case_input_names_the_field(client: Any, core_deployed: Any, payload: dict[str, Any],
                                        field: str) -> None:
    body = assert_error(client.post("/api/v1/cases", headers=token(client), json=payload), 422,
                        "validation_failed")
    assert field in body["fields"], body


def test_healthz(client: Any, world: Any) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_retry_a_case_in_error(client: Any, session: Any, core_deployed: Any) -> None:
    case = new_case(session, core_deployed, process_id="fragile_case")
    h = token(client)
    [task] = client.get("/api/v1/tasks", headers=h).get_json()
    client.post(f"/api/v1/tasks/{task['id']}/complete", headers=h, json={"data": {"copies": 0}})
    detail = client.get(f"/api/v1/cases/{case.id}", headers=h).get_json()
    assert (detail["status"], detail["workflow_status"], detail["workflow_error_element"]) == (
        "error", "error", "fr_compute")
    assert_error(client.post(f"/api/v1/cases/{case.id}/retry", headers=h, json={"data": {"copies": 2}}),
                 403, "forbidden")
    admin = token(client, "admin")
    fixed = client.post(f"/api/v1/cases/{case.id}/retry", headers=admin, json={"data": {"copies": 2}}).get_json()
    assert (fixed["status"], fixed["workflow_status"]) == ("open", "running")
    assert client.get("/healthz").status_code == 200  # the server kept serving throughout


def test_retry_page(client: Any, session: Any, core_deployed: Any) -> None:
    case = new_case(session, core_deployed, process_id="fragile_case")
    h = token(client)
    [task] = client.get("/api/v1/tasks", headers=h).get_json()
    client.post(f"/api/v1/tasks/{task['id']}/complete", headers=h, json={"data": {"copies": 0}})
    client.post("/login", data={"username": "admin", "password": "demo"})
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)  # the admin's language: zh
    assert "fr_compute" in page and "重新执行出错步骤" in page
    bad = client.post(f"/cases/{case.id}/retry", data={"patch": "[1, 2]"})
    assert bad.status_code == 422
    done = client.post(f"/cases/{case.id}/retry", data={"patch": '{"copies": 3}'})
    assert done.status_code == 302
    detail = client.get(f"/api/v1/cases/{case.id}", headers=token(client, "admin")).get_json()
    assert detail["status"] == "open"


def test_police_open_cases_in_the_town_their_station_serves(client: Any, core_deployed: Any) -> None:
    h = token(client, "police")
    resp = client.post("/api/v1/cases", headers=h, json={"title": "酒后滋事", "category": "damages",
                                                         "org_unit": "village", "process_id": "core_case"})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["org_unit"] == "village"
    assert_error(client.post("/api/v1/cases", headers=token(client, "grid"), json={
        "title": "x", "category": "other", "org_unit": "town", "process_id": "core_case"}), 403, "forbidden")
