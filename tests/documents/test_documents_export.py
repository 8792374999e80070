from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest

from documents.export import (
    GENESIS,
    build_export_zip,
    canonical_json,
    event_hash,
    verify_export_zip,
)

CREATED = datetime(2027, 1, 6, 8, 0, tzinfo=UTC)


def chain(n: int = 4) -> list[dict[str, Any]]:
    events, prev = [], GENESIS
    for seq in range(1, n + 1):
        event = {"seq": seq, "case_number": "东调〔2026〕015", "action": f"step-{seq}", "actor": "乜红梅",
                 "at": f"2026-11-0{seq}T09:00:00Z", "data": {"sha256": "ab" * 32, "note": "第 k 份"}}
        event["prev_hash"] = prev
        event["hash"] = prev = event_hash(event, prev)
        events.append(event)
    return events


DOCS = [("agreement_zh.pdf", b"%PDF-1.7 agreement " * 50), ("mediation_record_zh.pdf", b"%PDF-1.7 record " * 40)]


def make(events: list[dict[str, Any]] | None = None) -> bytes:
    return build_export_zip("东调〔2026〕015", DOCS, list(reversed(events or chain())), created_at=CREATED)


def rewrite(data: bytes, change: dict[str, bytes | None]) -> bytes:
    """Copy a zip, replacing (bytes) or dropping (None) entries, adding new ones."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename in change:
                if change[info.filename] is not None:
                    dst.writestr(info.filename, change[info.filename])
            else:
                dst.writestr(info, src.read(info))
        for name, body in change.items():
            if name not in src.namelist() and body is not None:
                dst.writestr(name, body)
    return out.getvalue()


def test_hash_rule_matches_the_specification() -> None:
    event = {"seq": 1, "action": "创建", "hash": "x", "prev_hash": GENESIS}
    body = json.dumps({"seq": 1, "action": "创建"}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")
    assert canonical_json({"seq": 1, "action": "创建"}) == body
    assert event_hash(event, GENESIS) == hashlib.sha256(body + GENESIS.encode()).hexdigest()


def test_rule_is_the_one_in_cases_audit() -> None:
    """An exported ``AuditEvent.to_dict()`` carries ``id``; it is not hashed (cases/audit.py ``fields()``)."""
    event = {"chain": "case:1", "seq": 1, "case_id": 1, "actor_user_id": 2, "actor_username": "med",
             "actor_role": "mediator", "at": "2026-11-01T09:00:00Z", "action": "case.created", "payload": {}}
    digest = hashlib.sha256(canonical_json(event) + GENESIS.encode("ascii")).hexdigest()
    assert event_hash({**event, "id": 17, "prev_hash": GENESIS, "hash": digest}, GENESIS) == digest
    try:
        from cases.audit import event_hash as lead_rule
    except ImportError:  # pragma: no cover - documents must not depend on cases; only the test compares
        return
    assert lead_rule(event, GENESIS) == digest


def test_export_contents_and_clean_verification() -> None:
    data = make()
    assert verify_export_zip(data) == []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        audit = json.loads(zf.read("audit.json"))
        assert names == {"manifest.json", "audit.json", "documents/agreement_zh.pdf",
                         "documents/mediation_record_zh.pdf"}
        assert manifest["case_number"] == "东调〔2026〕015"
        assert manifest["created_at"] == "2027-01-06T08:00:00Z"
        assert set(manifest["files"]) == names - {"manifest.json"}
        for name, digest in manifest["files"].items():
            assert hashlib.sha256(zf.read(name)).hexdigest() == digest
    assert [e["seq"] for e in audit] == [1, 2, 3, 4]  # ordered by seq although given reversed
    assert make() == data  # reproducible


def test_one_altered_byte_in_a_document_is_named() -> None:
    data = make()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        body = bytearray(zf.read("documents/agreement_zh.pdf"))
    body[100] ^= 0x01
    problems = verify_export_zip(rewrite(data, {"documents/agreement_zh.pdf": bytes(body)}))
    assert len(problems) == 1
    assert problems[0].startswith("documents/agreement_zh.pdf: SHA-256")


def test_a_flipped_byte_in_the_raw_zip_is_named() -> None:
    data = bytearray(make())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("documents/mediation_record_zh.pdf")
    # Local header is 30 bytes + name + extra; flip a byte inside the compressed data.
    offset = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 5
    data[offset] ^= 0xFF
    problems = verify_export_zip(bytes(data))
    assert problems and all("documents/mediation_record_zh.pdf" in p for p in problems)


def test_missing_and_extra_files_are_named() -> None:
    problems = verify_export_zip(rewrite(make(), {"documents/mediation_record_zh.pdf": None,
                                                  "documents/extra.pdf": b"x"}))
    assert problems == [
        "documents/mediation_record_zh.pdf: listed in the manifest but missing from the zip",
        "documents/extra.pdf: in the zip but not listed in the manifest",
    ]
    assert verify_export_zip(rewrite(make(), {"manifest.json": None})) == ["manifest.json is missing"]
    assert verify_export_zip(b"not a zip")[0].startswith("not a zip file")


def _with_events(events: list[dict[str, Any]]) -> list[str]:
    """Export whose audit.json is replaced, with a manifest that matches it (so only the chain can fail)."""
    body = json.dumps(events, ensure_ascii=False).encode("utf-8")
    data = make()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    manifest["files"]["audit.json"] = hashlib.sha256(body).hexdigest()
    return verify_export_zip(rewrite(data, {"audit.json": body, "manifest.json": json.dumps(manifest).encode()}))


def test_tampered_event_is_named() -> None:
    events = chain()
    events[1]["actor"] = "someone else"
    assert _with_events(events) == ["audit event seq=2: hash does not recompute"]


def test_broken_chain_is_named() -> None:
    events = chain()
    del events[1]  # drop seq=2: seq=3 no longer links to its predecessor
    assert _with_events(events) == [
        "audit event seq=3: prev_hash does not match the previous event's hash (chain broken)"]
    events = chain()
    events[2]["prev_hash"] = "f" * 64
    events[2]["hash"] = event_hash(events[2], events[2]["prev_hash"])  # consistent alone, but unlinked
    problems = _with_events(events)
    assert "audit event seq=3: prev_hash does not match the previous event's hash (chain broken)" in problems
    assert "audit event seq=4: prev_hash does not match the previous event's hash (chain broken)" in problems


def test_audit_change_without_manifest_update_is_named_twice() -> None:
    events = chain()
    events[0]["action"] = "changed"
    data = rewrite(make(), {"audit.json": json.dumps(events).encode()})
    problems = verify_export_zip(data)
    assert any(p.startswith("audit.json: SHA-256") for p in problems)
    assert "audit event seq=1: hash does not recompute" in problems


def test_custom_hash_fn_is_used() -> None:
    def other(event: dict[str, Any], prev: str) -> str:
        return hashlib.sha256(prev.encode()).hexdigest()

    assert verify_export_zip(make(), hash_fn=other)  # the default-rule chain fails another rule


@pytest.mark.parametrize("name", ["../evil.pdf", "/abs/evil.pdf"])
def test_document_names_cannot_escape(name: str) -> None:
    data = build_export_zip("X", [(name, b"x")], [], created_at=CREATED)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert all(n.startswith("documents/") or n in ("manifest.json", "audit.json") for n in zf.namelist())
        assert not any(".." in n for n in zf.namelist())
    with pytest.raises(ValueError):
        build_export_zip("X", [("a.pdf", b"1"), ("a.pdf", b"2")], [], created_at=CREATED)
