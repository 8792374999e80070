"""Case-file export: a zip with every document, the audit chain and a SHA-256 manifest; offline verification.

Pure functions, no database and no WeasyPrint. Layout of the zip:

    manifest.json   {"format": "fengqiao-case-export/1", "case_number", "created_at",
                     "files": {name: sha256 hex, ...}}            (covers every other file)
    audit.json      the audit events ordered by ``seq``
    documents/<name>  one entry per document

Audit chain rule (identical to ``cases/audit.py``; passed in as ``hash_fn`` so nothing is imported):
``hash = sha256(canonical_json(event minus "id", "hash" and "prev_hash") + prev_hash)`` with
``canonical_json(o) = json.dumps(o, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()``;
the first event's ``prev_hash`` is 64 zeros.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

FORMAT = "fengqiao-case-export/1"
MANIFEST = "manifest.json"
AUDIT = "audit.json"
DOCS_DIR = "documents/"
GENESIS = "0" * 64

HashFn = Callable[[dict[str, Any], str], str]


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


#: Keys left out of the hashed body: the chain links themselves and the database row id (``cases/audit.py``
#: ``AuditEvent.fields()`` hashes everything but these; ``to_dict()`` adds them back for export).
UNHASHED = ("id", "hash", "prev_hash")


def event_hash(event: dict[str, Any], prev_hash: str) -> str:
    body = {k: v for k, v in event.items() if k not in UNHASHED}
    return hashlib.sha256(canonical_json(body) + prev_hash.encode("ascii")).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _safe_name(name: str) -> str:
    name = name.replace("\\", "/").strip("/")
    parts = [p for p in name.split("/") if p not in ("", ".", "..")]
    if not parts:
        raise ValueError(f"unusable document file name {name!r}")
    return "/".join(parts)


def build_export_zip(case_number: str, documents: list[tuple[str, bytes]], audit_events: list[dict[str, Any]],
                     *, created_at: datetime | None = None) -> bytes:
    """Zip the documents (``(file name, bytes)``), the audit events and a manifest of SHA-256 sums."""
    created = (created_at or datetime.now(UTC)).astimezone(UTC)
    files: dict[str, bytes] = {}
    for name, data in documents:
        path = DOCS_DIR + _safe_name(name)
        if path in files:
            raise ValueError(f"duplicate document file name {name!r}")
        files[path] = bytes(data)
    events = sorted(audit_events, key=lambda e: e["seq"])
    files[AUDIT] = json.dumps(events, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    manifest = {
        "format": FORMAT,
        "case_number": case_number,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": {name: _sha256(data) for name, data in sorted(files.items())},
    }
    buf = io.BytesIO()
    # A fixed timestamp for the entries keeps the zip reproducible; the real time is in the manifest.
    stamp = (created.year, created.month, created.day, created.hour, created.minute, created.second)
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in [(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")),
                           *sorted(files.items())]:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def verify_audit_chain(events: list[dict[str, Any]], hash_fn: HashFn = event_hash) -> list[str]:
    """Problems with an audit chain: order by ``seq``, then check every ``prev_hash`` link and ``hash``."""
    problems: list[str] = []
    prev = GENESIS
    last_seq = None
    for event in events:
        seq = event.get("seq")
        label = f"audit event seq={seq}"
        if last_seq is not None and (not isinstance(seq, int) or seq <= last_seq):
            problems.append(f"{label}: out of order or duplicate seq after {last_seq}")
        if event.get("prev_hash") != prev:
            problems.append(f"{label}: prev_hash does not match the previous event's hash (chain broken)")
        expected = hash_fn(event, event.get("prev_hash") or "")
        if event.get("hash") != expected:
            problems.append(f"{label}: hash does not recompute")
        prev = event.get("hash") or ""
        last_seq = seq if isinstance(seq, int) else last_seq
    return problems


def verify_export_zip(data: bytes, hash_fn: HashFn = event_hash) -> list[str]:
    """Check an export offline; returns human-readable problems (empty when the export is intact)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        return [f"not a zip file: {exc}"]
    problems: list[str] = []
    with zf:
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        if len(set(names)) != len(names):
            problems.append("duplicate entries in the zip")
        if MANIFEST not in names:
            return [*problems, f"{MANIFEST} is missing"]
        try:
            manifest = json.loads(zf.read(MANIFEST))
            listed: dict[str, str] = dict(manifest["files"])
        except (ValueError, KeyError, TypeError) as exc:
            return [*problems, f"{MANIFEST} is unreadable: {exc}"]
        if manifest.get("format") != FORMAT:
            problems.append(f"{MANIFEST}: unknown format {manifest.get('format')!r}")
        present = set(names) - {MANIFEST}
        for name in sorted(set(listed) - present):
            problems.append(f"{name}: listed in the manifest but missing from the zip")
        for name in sorted(present - set(listed)):
            problems.append(f"{name}: in the zip but not listed in the manifest")
        for name in sorted(present & set(listed)):
            try:
                actual = _sha256(zf.read(name))
            except (zipfile.BadZipFile, OSError) as exc:  # CRC errors from a damaged entry
                problems.append(f"{name}: cannot be read ({exc})")
                continue
            if actual != listed[name]:
                problems.append(f"{name}: SHA-256 {actual} does not match the manifest ({listed[name]})")
        if AUDIT in present:
            try:
                events = json.loads(zf.read(AUDIT))
            except (ValueError, zipfile.BadZipFile) as exc:
                problems.append(f"{AUDIT} is unreadable: {exc}")
            else:
                if not isinstance(events, list):
                    problems.append(f"{AUDIT} is not a list of events")
                else:
                    problems.extend(verify_audit_chain(events, hash_fn))
    return problems
