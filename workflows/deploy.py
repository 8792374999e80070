"""Deploy diagram bundles as numbered process versions. Running cases keep their version."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, inspect, select
from sqlalchemy.orm import Session

from cases.driver_sql import DriverStatement
from workflows.engine import dump_specs
from workflows.models import ProcessVersion
from workflows.parsing import load_bundle
from workflows.rows import attach
from workflows.validation import validate_bundle

DIAGRAM_SUFFIXES = (".bpmn", ".dmn")
# Deployment settings shipped beside the diagrams and stored with each version (e.g. local clocks).
SETTINGS_FILES = ("clocks.json",)


class DeployError(Exception):
    """The bundle is not deployable; ``lines`` holds one verdict line per failing file."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


def read_bundle(paths: list[str | Path]) -> dict[str, bytes]:
    """Read diagram files (directories are scanned for .bpmn/.dmn) into ``{file name: bytes}``."""
    files: dict[str, bytes] = {}
    for raw in paths:
        path = Path(raw)
        found = (sorted(p for p in path.iterdir() if p.suffix in DIAGRAM_SUFFIXES or p.name in SETTINGS_FILES)
                 if path.is_dir() else [path])
        for p in found:
            files[p.name] = p.read_bytes()
    return files


def read_forms(directory: str | Path) -> dict[str, dict[str, Any]]:
    """Read every ``<key>.json`` form definition in ``directory``."""
    forms: dict[str, dict[str, Any]] = {}
    d = Path(directory)
    if d.is_dir():
        for p in sorted(d.glob("*.json")):
            forms[p.stem] = json.loads(p.read_text(encoding="utf-8"))
    return forms


def bundle_sha256(files: dict[str, bytes], forms: dict[str, dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    h.update(json.dumps(forms, sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()


def deploy(session: Session, files: dict[str, bytes], forms: dict[str, dict[str, Any]],
           deployed_by: str = "system", *, unless_seen: bool = False) -> list[ProcessVersion]:
    """Validate and store every executable process of the bundle as a new version.

    A process whose files and forms are unchanged since its latest version is not redeployed; with
    ``unless_seen`` (``fengqiao init``), neither is one whose bundle was *ever* deployed, so
    re-running the set-up never reverts diagrams an admin has since edited in the browser.
    Returns the versions that were created. Flushes; the caller commits.
    """
    diagrams = {name: data for name, data in files.items() if name.endswith(DIAGRAM_SUFFIXES)}
    bad = _check_settings(files)
    verdicts = validate_bundle(diagrams, form_keys=set(forms))
    bad += [f"{v.path}: {v.line()}" for v in verdicts if v.status != "ok"]
    if bad:
        raise DeployError(bad)
    bundle = load_bundle(diagrams)
    sha = bundle_sha256(files, forms)
    texts = {name: data.decode("utf-8") for name, data in files.items()}
    created = []
    for process_id in bundle.process_ids:
        latest = session.scalars(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                                 .order_by(ProcessVersion.version.desc()).limit(1)).first()
        if latest is not None and latest.sha256 == sha:
            continue
        if unless_seen and session.scalar(select(ProcessVersion.id).where(
                ProcessVersion.process_id == process_id, ProcessVersion.sha256 == sha).limit(1)):
            continue
        spec, subs = bundle.specs(process_id)
        number = (session.scalar(select(func.max(ProcessVersion.version))
                                 .where(ProcessVersion.process_id == process_id)) or 0) + 1
        version = ProcessVersion(process_id=process_id, version=number, sha256=sha, files=texts,
                                 forms=forms, spec_json=dump_specs(spec, subs), deployed_by=deployed_by)
        session.add(version)
        created.append(version)
    session.flush()
    return created


def _check_settings(files: dict[str, bytes]) -> list[str]:
    problems = []
    for name in SETTINGS_FILES:
        if name in files:
            try:
                value = json.loads(files[name].decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                problems.append(f"{name}: error: not valid UTF-8 JSON: {exc}")
                continue
            if not isinstance(value, dict):
                problems.append(f"{name}: error: expected a JSON object")
    return problems


_settings_cache: dict[tuple[int, str, str], str | None] = {}
_settings_lock = threading.Lock()


def settings(version: ProcessVersion, name: str) -> dict[str, Any]:
    """A settings file deployed with ``version`` (empty when it has none). A deployed version's
    files never change, so each is read from the database once per process (by id and SHA-256)."""
    key = (version.id, version.sha256, name)
    with _settings_lock:
        found = key in _settings_cache
        text = _settings_cache.get(key)
    if not found:
        text = (version.files or {}).get(name)
        with _settings_lock:
            _settings_cache[key] = text
    return json.loads(text) if text else {}


_PV = ProcessVersion.__table__
_PV_LOADED = [c for c in _PV.c if not inspect(ProcessVersion).get_property_by_column(c).deferred]
_LATEST = DriverStatement(select(*_PV_LOADED).where(_PV.c.process_id == bindparam("process_id"))
                          .order_by(_PV.c.version.desc()).limit(1))


def latest_version(session: Session, process_id: str) -> ProcessVersion | None:
    """The newest deployed version of ``process_id`` (its large columns deferred), or None. Every new
    case reads it: one statement on the driver's cursor, the row made the session's object."""
    session.flush()  # as a query's autoflush would: a version deployed in this transaction counts
    row = _LATEST.first(session.connection(), {"process_id": process_id})
    if row is None:
        return None
    return attach(session, ProcessVersion, {c.key: value for c, value in zip(_PV_LOADED, row, strict=True)})
