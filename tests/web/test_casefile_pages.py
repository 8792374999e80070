"""Documents on the task and case pages: generate, preview, download, the missing list, permissions, export."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from sqlalchemy import select

from cases.audit import AuditEvent
from documents.export import verify_export_zip
from tests.web.casefile_support import (
    AGREEMENT_DATA,
    case_at_agreement,
    count_documents,
    flip_one_byte,
    generated_events,
    pdf_text,
    stored_versions,
)
from tests.web.helpers import login

pytestmark = pytest.mark.pdf


def _visible_words(html: str) -> set[str]:
    html = re.sub(r"<(script|style|template)\b.*?</\1>", " ", html, flags=re.DOTALL)
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    return set(re.findall(r"[A-Za-z]{3,}", text)) - {"English"}


def test_task_page_generates_previews_and_downloads_the_agreement(client: Any, session: Any, web_world: Any) -> None:
    case, task = case_at_agreement(session, web_world)
    login(client, "mediator")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "本步骤需要的文书" in page or "人民调解协议书" in page
    assert f'action="/cases/{case.id}/documents/agreement"' in page and "尚未生成" in page
    assert not _visible_words(page), _visible_words(page)  # the panel is Chinese on a Chinese page

    response = client.post(f"/cases/{case.id}/documents/agreement",
                           data={"task_id": str(task.id), "next": f"/tasks/{task.id}"})
    assert response.status_code == 302 and response.headers["Location"] == f"/tasks/{task.id}"
    assert stored_versions(session, case.id) == [("agreement", 1)]
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "已生成人民调解协议书（第 1 版）" in page and "第 1 版 · 共 3 页" in page and "预览" in page
    assert not _visible_words(page), _visible_words(page)

    preview = client.get(f"/cases/{case.id}/documents/agreement/latest")
    assert preview.status_code == 200 and preview.mimetype == "application/pdf"
    assert preview.headers["Content-Disposition"].startswith("inline")
    download = client.get(f"/cases/{case.id}/documents/agreement/latest?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert f"{case.number}_agreement_zh_v1.pdf" in download.headers["Content-Disposition"]
    text = pdf_text(download.data)
    for expected in ("人民调解协议书", "亓赟", "仝喆", "枫源村人民调解委员会", "被申请人自行拆除并恢复原状",
                     "第 1 份，共 3 份", "第 3 份，共 3 份"):
        assert expected in text, expected
    assert generated_events(session, case.id)[0]["sha256"] == __import__("hashlib").sha256(download.data).hexdigest()

    # Regenerate in English from the case page: version 2; version 1 is still there.
    assert client.post(f"/cases/{case.id}/documents/agreement", data={"lang": "en"}).status_code == 302
    assert stored_versions(session, case.id) == [("agreement", 1), ("agreement", 2)]
    case_page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "历史版本" in case_page and f"/cases/{case.id}/documents/agreement/1" in case_page
    old = client.get(f"/cases/{case.id}/documents/agreement/1?download=1")
    assert old.status_code == 200 and old.data == download.data
    new = client.get(f"/cases/{case.id}/documents/agreement/latest")
    assert "People's Mediation Agreement" in pdf_text(new.data)
    assert client.get(f"/cases/{case.id}/documents/agreement/9").status_code == 404
    assert client.get(f"/cases/{case.id}/documents/nonsense/latest").status_code == 404


@pytest.mark.parametrize(("lang", "expected"), [
    ("zh", ["缺少：各方责任", "缺少：履行地点"]),
    ("en", ["missing: each party&#39;s responsibility", "missing: place of performance"]),
])
def test_incomplete_document_shows_the_missing_list(client: Any, session: Any, web_world: Any, lang: str,
                                                    expected: list[str]) -> None:
    data = {k: v for k, v in AGREEMENT_DATA.items() if k not in ("responsibilities", "performance_place")}
    case, task = case_at_agreement(session, web_world, data)
    login(client, "mediator")
    if lang == "en":
        client.post("/language", data={"lang": "en", "next": "/"})
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert all(m in page for m in expected)  # listed in the panel before anyone clicks
    response = client.post(f"/cases/{case.id}/documents/agreement", data={"task_id": str(task.id)})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert all(m in page for m in expected), page
    assert ("暂时无法生成人民调解协议书" if lang == "zh" else "People&#39;s Mediation Agreement cannot be generated yet") in page
    assert count_documents(session) == 0 and generated_events(session, case.id) == []


def test_lawyer_without_grant_and_auditor(client: Any, session: Any, web_world: Any) -> None:
    case, _task = case_at_agreement(session, web_world)
    login(client, "mediator")
    assert client.post(f"/cases/{case.id}/documents/agreement").status_code == 302
    client.post("/logout")

    login(client, "lawyer")
    assert client.get(f"/cases/{case.id}/documents/agreement/latest").status_code == 403
    assert client.get(f"/cases/{case.id}/documents/agreement/1").status_code == 403
    assert client.post(f"/cases/{case.id}/documents/agreement").status_code == 403
    assert client.get(f"/cases/{case.id}/export").status_code == 403
    client.post("/logout")

    login(client, "auditor")
    assert client.get(f"/cases/{case.id}/documents/agreement/latest?download=1").status_code == 200
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "导出卷宗" in page and 'value="zh"' not in page  # may read and export, no generate form
    assert client.post(f"/cases/{case.id}/documents/agreement").status_code == 403
    export = client.get(f"/cases/{case.id}/export")
    assert export.status_code == 200 and export.mimetype == "application/zip"
    assert verify_export_zip(export.data) == []
    assert stored_versions(session, case.id) == [("agreement", 1)]


def test_exported_zip_names_an_altered_file(client: Any, session: Any, web_world: Any) -> None:
    case, _task = case_at_agreement(session, web_world)
    login(client, "mediator")
    client.post(f"/cases/{case.id}/documents/agreement")
    data = client.get(f"/cases/{case.id}/export").data
    session.expire_all()
    exported = session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id)
                               .order_by(AuditEvent.seq.desc())).first()
    assert exported.action == "case.exported" and exported.actor_username == "mediator"  # committed with it
    name = f"documents/{case.number}_agreement_zh_v1.pdf"
    problems = verify_export_zip(flip_one_byte(data, name, offset=1000))
    assert problems and all(p.startswith(f"{name}:") for p in problems)


def test_only_a_whole_archive_taken_out_is_an_export(client: Any, session: Any, web_world: Any) -> None:
    """Each ``case.exported`` event stands for one complete copy: a HEAD probe takes nothing out and
    is not audited, and a Range request gets the whole archive (no partial copies)."""
    case, _task = case_at_agreement(session, web_world)
    case_id = case.id
    session.commit()
    login(client, "mediator")

    def exports() -> int:
        session.expire_all()
        found = len([e for e in session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id))
                     if e.action == "case.exported"])
        session.commit()  # end the read (SQLite: it would hold the write lock)
        return found

    head = client.head(f"/cases/{case_id}/export")
    assert head.status_code == 200 and head.mimetype == "application/zip" and exports() == 0
    ranged = client.get(f"/cases/{case_id}/export", headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 200 and len(ranged.data) > 10 and verify_export_zip(ranged.data) == []
    assert exports() == 1
