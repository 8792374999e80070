"""The case file service: context from the case and its workflow data, versions, audit, refusals, export."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from sqlalchemy import select

from cases.audit import event_hash, verify_chains
from documents.completeness import IncompleteDocumentError
from documents.export import verify_export_zip
from tests.web.casefile_support import (
    AGREEMENT_DATA,
    case_at_agreement,
    count_documents,
    flip_one_byte,
    generated_events,
    pdf_text,
)
from web.casefile import service
from web.casefile.context import build_context, person_name
from workflows.errors import Forbidden

pytestmark = pytest.mark.pdf


def test_agreement_context_comes_from_the_case_and_its_workflow_data(session: Any, web_world: Any) -> None:
    case, _task = case_at_agreement(session, web_world)
    ctx = build_context(session, case, "agreement", "zh")
    assert ctx["case_number"] == case.number
    assert ctx["committee"] == {"name": "枫源村人民调解委员会"}  # the village's committee unit
    assert [(p["name"], p["role"], p["id_number"]) for p in ctx["parties"]] == [
        ("亓赟", "申请人", "110101199001011237"), ("仝喆", "被申请人", "110105198805052342")]
    assert ctx["facts"] == AGREEMENT_DATA["facts_and_issues"]
    assert ctx["issues"] == AGREEMENT_DATA["claims"]
    assert ctx["terms"] == ["两户边界以1998年所立界桩为准。", "被申请人于2026年12月31日前自费拆除越界部分围墙。",
                            "双方就本纠纷再无其他争议。"]  # the PDF numbers them itself
    assert ctx["performance"] == {"manner": "被申请人自行拆除并恢复原状", "place": "枫源村3组",
                                  "deadline": "2026年12月31日"}
    # No assignment form in this diagram: the mediator who completed the case's steps, without the title.
    assert ctx["mediators"] == [{"name": "张秀英"}]
    assert "signed_on" not in ctx  # not signed yet: blank date lines, never an invented date
    en = build_context(session, case, "agreement", "en")
    assert en["committee"]["name"] == "Fengyuan Village People's Mediation Committee"
    assert en["parties"][0]["role"] == "Applicant" and en["performance"]["deadline"] == "31 December 2026"


def test_generate_stores_versions_and_audits_the_sha256(session: Any, web_world: Any) -> None:
    case, task = case_at_agreement(session, web_world)
    mediator = web_world.users["mediator"]
    first = service.generate(session, case, "agreement", mediator, task=task)
    session.commit()
    assert (first.version, first.lang, first.task_spec_id, first.page_count) == (1, "zh", "Task_agreement", 3)
    assert first.filename == f"{case.number}_agreement_zh_v1.pdf" and first.size == len(first.content)
    text = pdf_text(first.content)
    for expected in ("人民调解协议书", "枫源村人民调解委员会", "亓赟", "仝喆", "110105198805052342",
                     "被申请人于2026年12月31日前自费拆除越界部分围墙", "第 1 份，共 3 份", "张秀英"):
        assert expected in text, expected

    second = service.generate(session, case, "agreement", mediator, "en")
    session.commit()
    assert (second.version, second.lang) == (2, "en") and second.sha256 != first.sha256
    events = generated_events(session, case.id)
    assert [(e["kind"], e["version"], e["sha256"], e["filename"]) for e in events] == [
        ("agreement", 1, first.sha256, first.filename), ("agreement", 2, second.sha256, second.filename)]
    assert verify_chains(session, case.id) == (1, [])
    session.commit()

    assert service.latest(session, case, "agreement").version == 2
    old = service.get_version(session, case, "agreement", 1)
    assert old is not None and old.content == first.content  # regenerating keeps version 1
    assert [(d.kind, d.version) for d in service.list_documents(session, case)] == [("agreement", 2), ("agreement", 1)]
    session.commit()


@pytest.mark.parametrize(("ui_lang", "expected"), [
    ("zh", ["缺少：各方责任", "缺少：履行地点"]),
    ("en", ["missing: each party's responsibility", "missing: place of performance"]),
])
def test_incomplete_data_is_refused_with_the_missing_list_and_nothing_is_stored(
        session: Any, web_world: Any, ui_lang: str, expected: list[str]) -> None:
    data = {k: v for k, v in AGREEMENT_DATA.items() if k not in ("responsibilities", "performance_place")}
    case, task = case_at_agreement(session, web_world, data)
    with pytest.raises(IncompleteDocumentError) as refused:
        service.generate(session, case, "agreement", web_world.users["mediator"], ui_lang=ui_lang, task=task)
    session.rollback()
    assert refused.value.missing == expected
    assert service.missing(session, case, "agreement", ui_lang) == expected
    session.commit()
    assert count_documents(session) == 0 and generated_events(session, case.id) == []


def test_the_open_steps_draft_completes_the_data(session: Any, web_world: Any) -> None:
    data = {k: v for k, v in AGREEMENT_DATA.items() if k != "performance_place"}
    case, task = case_at_agreement(session, web_world, data)
    task.draft = {"performance_place": "枫源村村委会"}
    session.commit()
    assert service.missing(session, case, "agreement", "zh") == ["缺少：履行地点"]
    assert service.missing(session, case, "agreement", "zh", task=task) == []
    doc = service.generate(session, case, "agreement", web_world.users["mediator"], task=task)
    session.commit()
    assert "枫源村村委会" in pdf_text(doc.content)


def test_permissions(session: Any, web_world: Any) -> None:
    case, _task = case_at_agreement(session, web_world)
    for username in ("auditor", "lawyer", "grid"):  # grid-1 lies below the village: out of the case's scope
        with pytest.raises(Forbidden):
            service.generate(session, case, "agreement", web_world.users[username])
    session.rollback()
    # The town supervisor's scope covers the village.
    assert service.generate(session, case, "agreement", web_world.users["supervisor"]).version == 1
    assert generated_events(session, case.id)[0]["version"] == 1
    with pytest.raises(Forbidden):
        service.list_documents(session, case, web_world.users["lawyer"])
    assert [d.version for d in service.list_documents(session, case, web_world.users["auditor"])] == [1]
    assert person_name(web_world.users["supervisor"]) == "李敏"  # "司法所所长 李敏"
    session.commit()


def test_export_holds_the_latest_documents_and_the_audit_chain_and_verifies(session: Any, web_world: Any) -> None:
    case, _task = case_at_agreement(session, web_world)
    mediator = web_world.users["mediator"]
    service.generate(session, case, "agreement", mediator)
    latest = service.generate(session, case, "agreement", mediator)
    rights = service.generate(session, case, "rights_notice", mediator)
    session.commit()
    data = service.export_zip(session, case, web_world.users["auditor"])
    session.commit()
    assert verify_export_zip(data) == []
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(zf.namelist()) == sorted(["manifest.json", "audit.json", f"documents/{latest.filename}",
                                            f"documents/{rights.filename}"])
    events = json.loads(zf.read("audit.json"))
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    # The exported shape hashes with the audit module's own rule.
    assert all(e["hash"] == event_hash({k: v for k, v in e.items() if k not in ("id", "hash", "prev_hash")},
                                       e["prev_hash"]) for e in events)
    assert {e["payload"]["sha256"] for e in events if e["action"] == "document.generated"} >= {
        latest.sha256, rights.sha256}

    name = f"documents/{latest.filename}"
    problems = verify_export_zip(flip_one_byte(data, name))
    assert problems and all(p.startswith(name) for p in problems), problems

    with pytest.raises(Forbidden):
        service.export_zip(session, case, web_world.users["lawyer"])


def test_an_export_is_audited_after_the_chain_it_holds(session: Any, web_world: Any) -> None:
    """Who took which documents out, with the archive's SHA-256: the event follows the chain the
    archive contains (the next export holds it), and the chain still verifies."""
    import hashlib

    from cases.audit import AuditEvent, chain_for, verify_chains

    case, _task = case_at_agreement(session, web_world)
    doc = service.generate(session, case, "agreement", web_world.users["mediator"])
    session.commit()
    data = service.export_zip(session, case, web_world.users["auditor"])
    session.commit()
    last = session.scalars(select(AuditEvent).where(AuditEvent.chain == chain_for(case.id))
                           .order_by(AuditEvent.seq.desc())).first()
    assert last is not None and last.action == "case.exported" and last.actor_username == "auditor"
    assert last.payload["documents"] == {doc.filename: doc.sha256}
    assert last.payload["sha256"] == hashlib.sha256(data).hexdigest()
    exported = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("audit.json"))
    assert exported[-1]["seq"] == last.seq - 1  # the archive holds the chain as it was before its export
    again = json.loads(zipfile.ZipFile(io.BytesIO(service.export_zip(session, case))).read("audit.json"))
    assert again[-1]["action"] == "case.exported"
    session.commit()
    assert verify_chains(session, case.id) == (1, [])
    session.rollback()
