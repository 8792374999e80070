"""API: list, generate and fetch a case's documents; refusals in the envelope; OpenAPI paths."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.web.casefile_support import (
    AGREEMENT_DATA,
    case_at_agreement,
    count_documents,
    pdf_text,
)

pytestmark = pytest.mark.pdf


def token(client: Any, username: str) -> dict[str, str]:
    resp = client.post("/api/v1/auth/token", json={"username": username, "password": "demo"})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['token']}"}


def test_generate_list_and_download(client: Any, session: Any, web_world: Any) -> None:
    case, _task = case_at_agreement(session, web_world)
    mediator = token(client, "mediator")
    assert client.get(f"/api/v1/cases/{case.id}/documents", headers=mediator).get_json() == []
    created = client.post(f"/api/v1/cases/{case.id}/documents/agreement", json={}, headers=mediator)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["kind"], body["version"], body["lang"], body["title"]) == ("agreement", 1, "zh", "人民调解协议书")
    assert body["generated_by"] == "mediator" and body["page_count"] == 3
    again = client.post(f"/api/v1/cases/{case.id}/documents/agreement", json={"lang": "en"}, headers=mediator)
    assert again.get_json()["version"] == 2 and again.get_json()["title"] == "People's Mediation Agreement"
    listed = client.get(f"/api/v1/cases/{case.id}/documents", headers=mediator).get_json()
    assert [(d["version"], d["lang"]) for d in listed] == [(2, "en"), (1, "zh")]

    pdf = client.get(f"/api/v1/cases/{case.id}/documents/agreement", headers=token(client, "auditor"))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["X-Document-Version"] == "2"
    assert hashlib.sha256(pdf.data).hexdigest() == listed[0]["sha256"]
    assert "Qi" not in pdf_text(pdf.data) and "亓赟" in pdf_text(pdf.data)


def test_refusals(client: Any, session: Any, web_world: Any) -> None:
    data = {k: v for k, v in AGREEMENT_DATA.items() if k != "performance_place"}
    case, _task = case_at_agreement(session, web_world, data)
    mediator = token(client, "mediator")
    refused = client.post(f"/api/v1/cases/{case.id}/documents/agreement", json={"ui_lang": "en"}, headers=mediator)
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "document_incomplete" and error["fields"]["missing"] == ["missing: place of performance"]
    zh = client.post(f"/api/v1/cases/{case.id}/documents/agreement", json={}, headers=mediator).get_json()
    assert zh["error"]["fields"]["missing"] == ["缺少：履行地点"]  # the mediator's own language
    assert count_documents(session) == 0

    auditor, lawyer = token(client, "auditor"), token(client, "lawyer")
    assert client.post(f"/api/v1/cases/{case.id}/documents/agreement", json={}, headers=auditor).status_code == 403
    assert client.get(f"/api/v1/cases/{case.id}/documents", headers=lawyer).status_code == 403
    assert client.get(f"/api/v1/cases/{case.id}/documents/agreement", headers=lawyer).status_code == 403
    missing = client.get(f"/api/v1/cases/{case.id}/documents/agreement", headers=auditor)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    unknown = client.post(f"/api/v1/cases/{case.id}/documents/nonsense", json={}, headers=mediator)
    assert unknown.status_code == 404
    bad = client.post(f"/api/v1/cases/{case.id}/documents/agreement", json={"lang": "fr"}, headers=mediator)
    assert bad.status_code == 422 and "lang" in bad.get_json()["error"]["fields"]
    assert client.get(f"/api/v1/cases/{case.id}/documents").status_code == 401


def test_openapi_documents_the_routes(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get"} <= set(paths["/api/v1/cases/{case_id}/documents"])
    assert {"get", "post"} <= set(paths["/api/v1/cases/{case_id}/documents/{kind}"])
