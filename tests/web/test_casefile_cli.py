"""CLI: ``fengqiao document``, ``fengqiao export`` and ``fengqiao audit verify-export`` (offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cases.audit import AuditEvent
from tests.web.casefile_support import (
    AGREEMENT_DATA,
    case_at_agreement,
    flip_one_byte,
    pdf_text,
    stored_versions,
)
from web.cli import cli

pytestmark = pytest.mark.pdf


@pytest.fixture
def runner(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("FENGQIAO_DATABASE_URL", database_url)
    return CliRunner()


def test_document_export_and_verify(runner: CliRunner, session: Any, web_world: Any, tmp_path: Path) -> None:
    case, _task = case_at_agreement(session, web_world)
    number, case_id = case.number, case.id
    session.commit()  # no open transaction: on SQLite it would hold the write lock
    out = tmp_path / "agreement.pdf"
    result = runner.invoke(cli, ["document", number, "agreement", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "version 1" in result.output and out.is_file()
    assert "人民调解协议书" in pdf_text(out.read_bytes()) and "亓赟" in pdf_text(out.read_bytes())
    result = runner.invoke(cli, ["document", number, "agreement", "-o", str(tmp_path / "en.pdf"), "--lang", "en",
                                 "--user", "mediator"])
    assert result.exit_code == 0, result.output
    assert stored_versions(session, case_id) == [("agreement", 1), ("agreement", 2)]

    archive = tmp_path / "case.zip"
    result = runner.invoke(cli, ["export", number, "-o", str(archive), "--user", "auditor"])
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert [e.action for e in session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id)
                                              .order_by(AuditEvent.seq))][-1] == "case.exported"
    session.commit()  # end the read: on SQLite it would hold the write lock
    refused = runner.invoke(cli, ["export", number, "-o", str(tmp_path / "no.zip"), "--user", "lawyer"])
    assert refused.exit_code == 1 and "may not" in refused.output and not (tmp_path / "no.zip").exists()
    nowhere = runner.invoke(cli, ["export", number, "-o", str(tmp_path / "missing" / "x.zip")])
    assert nowhere.exit_code == 1 and "is not a writable folder" in nowhere.output
    session.expire_all()
    exported = [e for e in session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id))
                if e.action == "case.exported"]
    assert len(exported) == 1  # neither the refused nor the unwritable export was audited
    session.commit()
    result = runner.invoke(cli, ["audit", "verify-export", str(archive)])
    assert result.exit_code == 0 and result.output.startswith("ok"), result.output

    name = f"documents/{number}_agreement_en_v2.pdf"
    bad = tmp_path / "altered.zip"
    bad.write_bytes(flip_one_byte(archive.read_bytes(), name))
    result = runner.invoke(cli, ["audit", "verify-export", str(bad)])
    assert result.exit_code == 1 and name in result.output, result.output
    assert "Traceback" not in result.output


def test_missing_data_exits_1_with_the_list(runner: CliRunner, session: Any, web_world: Any, tmp_path: Path) -> None:
    data = {k: v for k, v in AGREEMENT_DATA.items() if k != "performance_place"}
    case, _task = case_at_agreement(session, web_world, data)
    number = case.number
    session.commit()
    out = tmp_path / "agreement.pdf"
    result = runner.invoke(cli, ["document", number, "agreement", "-o", str(out)])
    assert result.exit_code == 1 and "缺少：履行地点" in result.output and not out.exists()
    result = runner.invoke(cli, ["document", number, "agreement", "-o", str(out), "--lang", "en"])
    assert result.exit_code == 1 and "missing: place of performance" in result.output
    assert runner.invoke(cli, ["document", "1999-9999", "agreement", "-o", str(out)]).exit_code == 1
    unknown = runner.invoke(cli, ["document", number, "nonsense", "-o", str(out)])
    assert unknown.exit_code == 1 and "unknown document kind" in unknown.output
    forbidden = runner.invoke(cli, ["document", number, "agreement", "-o", str(out), "--user", "auditor"])
    assert forbidden.exit_code == 1 and "may not" in forbidden.output


def test_verify_export_refuses_a_non_zip(runner: CliRunner, tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    result = runner.invoke(cli, ["audit", "verify-export", str(junk)])
    assert result.exit_code == 1 and "not a zip file" in result.output
