"""The ``case_documents`` table: versions per case and kind, deferred content, migrated and truncated."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from cases.db import Base
from cases.documents import CaseDocument
from cases.services import open_case


def _case(session: Any, world: Any) -> Any:
    return open_case(session, actor=world.users["mediator"], actor_role="mediator", org_unit=world.units["village"],
                     title="邻里纠纷", category="neighbour", parties=[{"name": "张三"}])


def _doc(case: Any, version: int, kind: str = "agreement") -> CaseDocument:
    return CaseDocument(case_id=case.id, kind=kind, lang="zh", version=version,
                        filename=f"{case.number}_{kind}_zh_v{version}.pdf", sha256="0" * 64, size=4,
                        page_count=1, content=b"%PDF", task_spec_id=None)


def test_table_is_migrated_and_registered(session: Any) -> None:
    assert "case_documents" in inspect(session.get_bind()).get_table_names()
    assert "case_documents" in [t.name for t in Base.metadata.sorted_tables]  # TRUNCATE list of the fixtures


def test_versions_are_unique_per_case_and_kind(session: Any, world: Any) -> None:
    case = _case(session, world)
    session.add_all([_doc(case, 1), _doc(case, 2), _doc(case, 1, "rights_notice")])
    session.commit()
    session.add(_doc(case, 2))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_content_is_deferred(session: Any, world: Any) -> None:
    case = _case(session, world)
    session.add(_doc(case, 1))
    session.commit()
    session.expunge_all()
    doc = session.scalars(select(CaseDocument)).one()
    assert "content" in inspect(doc).unloaded and doc.generated_at is not None
    assert doc.content == b"%PDF"
    session.commit()
