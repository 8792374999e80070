"""Cases for the case-file tests: the web test diagram (process ``dispute``) walked to its agreement step,
whose workflow data carries the fields the shipped ``finalize_agreement`` form collects (given as start
data, so the context is read through the real ``load_instance(...).data`` path).

Import after tests/web/conftest.py has run (it stands in for workflow modules still being written)."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cases.audit import Actor, AuditEvent
from cases.documents import CaseDocument
from cases.models import Case
from cases.services import open_case
from workflows.models import HumanTask
from workflows.services import complete_task, start_case

TODAY = datetime.now(timezone(timedelta(hours=8))).date().isoformat()

PARTIES = [
    {"role": "applicant", "name": "亓赟", "id_number": "110101199001011237", "address": "枫源村3组12号",
     "phone": "13800138000"},
    {"role": "respondent", "name": "仝喆", "id_number": "110105198805052342", "address": "枫源村3组14号"},
]

# The finalize_agreement form's fields plus the application's claims (the issues in dispute).
AGREEMENT_DATA: dict[str, Any] = {
    "claims": "请求确认两户宅基地的东西边界，并拆除越界围墙。",
    "parties_info_checked": True,
    "facts_and_issues": "申请人与被申请人系邻居。2026年春被申请人翻建围墙，申请人认为围墙越过原界桩约三十厘米。",
    "responsibilities": "被申请人翻建围墙前未与申请人确认边界，应负主要责任。",
    "agreement_content": "1. 两户边界以1998年所立界桩为准。\n2、被申请人于2026年12月31日前自费拆除越界部分围墙。\n"
                         "3. 双方就本纠纷再无其他争议。",
    "performance_manner": "被申请人自行拆除并恢复原状",
    "performance_place": "枫源村3组",
    "performance_deadline": "2026-12-31",
}


def case_at_agreement(session: Session, world: Any, data: dict[str, Any] | None = None,
                      *, language: str = "zh") -> tuple[Case, HumanTask]:
    """A village case walked to 签订调解协议 (documents: agreement); committed."""
    user = world.users["mediator"]
    case = open_case(session, actor=user, actor_role="mediator", org_unit=world.units["village"],
                     title="亓某与仝某宅基地边界纠纷", category="housing_homestead", parties=PARTIES,
                     language=language)
    start_case(session, case, Actor(user.id, user.username, "mediator"), process_id="dispute",
               data=dict(AGREEMENT_DATA if data is None else data))
    complete_task(session, human_task_id=_ready(session, case).id, user=user,
                  data={"accepted": True, "risk_colour": "yellow"})
    complete_task(session, human_task_id=_ready(session, case).id, user=user,
                  data={"parties": PARTIES, "meeting_date": TODAY, "agreed": True, "terms": "见协议书"})
    task = _ready(session, case)
    session.commit()
    assert task.documents == ["agreement"]
    return case, task


def _ready(session: Session, case: Case) -> HumanTask:
    return session.scalars(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.state == "ready")
                           .order_by(HumanTask.id)).first()


def stored_versions(session: Session, case_id: int) -> list[tuple[str, int]]:
    rows = session.execute(select(CaseDocument.kind, CaseDocument.version).where(CaseDocument.case_id == case_id)
                           .order_by(CaseDocument.kind, CaseDocument.version)).all()
    session.commit()  # end the read transaction (SQLite: BEGIN IMMEDIATE holds the write lock)
    return [tuple(r) for r in rows]


def generated_events(session: Session, case_id: int) -> list[dict[str, Any]]:
    events = list(session.scalars(
        select(AuditEvent.payload).where(AuditEvent.case_id == case_id, AuditEvent.action == "document.generated")
        .order_by(AuditEvent.seq)))
    session.commit()
    return events


def count_documents(session: Session) -> int:
    n = session.scalar(select(func.count()).select_from(CaseDocument)) or 0
    session.commit()
    return n


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def flip_one_byte(zip_bytes: bytes, name: str, offset: int = 200) -> bytes:
    """The same zip with one byte of entry ``name`` changed (the manifest left as it was)."""
    src = zipfile.ZipFile(io.BytesIO(zip_bytes))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == name:
                data = data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1:]
            dst.writestr(info, data)
    return out.getvalue()
