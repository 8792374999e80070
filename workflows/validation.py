"""Validate BPMN/DMN files and give each one a verdict: ok, not executable, or error.

* **error** — cannot be parsed, refused by the safe parser, fails the XSDs, a SpiffWorkflow
  semantic error that means the file is broken (duplicate ids...), or diagram code that fails
  the sandbox compile check.
* **not_executable** — valid BPMN that cannot be deployed: no executable process, elements or
  constructs the engine does not support (SpiffWorkflow's own "not supported" refusals included),
  user/manual tasks without a form or role lane, timers the engine cannot evaluate.

Validation never runs diagram code and catches everything per file.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from workflows.expressions import bpmn_code, check_item, dmn_code, is_checked_python
from workflows.parsing import (
    BPMN_NS,
    MAX_FILE_BYTES,
    DiagramError,
    ParsedBundle,
    add_file,
    diagram_error_from,
    make_parser,
    parse_xml,
)
from workflows.validation_rules import deployability_problems

Status = Literal["ok", "not_executable", "error"]

# SpiffWorkflow refusals that describe an engine limitation, not a broken file.
_NOT_EXECUTABLE_MESSAGES = (
    "There is no support implemented", "has no implementation", "A Service Task must have an operator",
    "Time Specification Error", "Exactly one start event is required", "A SubWorkflow Must contain an End event",
    "Multiple outgoing flows are not supported", "outgoing sequence flow without condition",
    "Cannot resolve data", "A multiinstance task must specify", "is not executable", "No start event found",
    "was not found", "No DMN Diagram available", "Sequential ordering for ad hoc", "loopMaximum or loopCondition",
    "Cancel Events may only be used", 'No "calledElement"', "loop input data reference",
    "loop output data reference",
)
_ELEMENT_REPR = re.compile(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-f]+>")
_DATA_STORE = re.compile(r"Data Store with name (.*) has no implementation", re.DOTALL)


@dataclass
class Verdict:
    """The verdict on one file."""

    path: str
    status: Status = "ok"
    problems: list[DiagramError] = field(default_factory=list)
    process_ids: list[str] = field(default_factory=list)
    reasons: list[DiagramError] = field(default_factory=list)

    def line(self) -> str:
        """``ok``, ``not executable: <reason>; <reason>`` or ``error: <first error>``."""
        if self.status == "error":
            return f"error: {self.problems[0]}" if self.problems else "error"
        if self.status == "not_executable":
            return "not executable: " + "; ".join(_reason_text(r) for r in self.reasons)
        return "ok"

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {"path": self.path, "status": self.status, "line": self.line(),
                "process_ids": list(self.process_ids),
                "problems": [p.to_json() for p in self.problems],
                "reasons": [r.to_json() for r in self.reasons]}


def _reason_text(reason: DiagramError) -> str:
    if reason.element_id and reason.element_id not in reason.message:
        return f"{reason.element_id}: {reason.message}"
    return reason.message


class _FileResult:
    def __init__(self, path: str) -> None:
        self.path = path
        self.errors: list[DiagramError] = []
        self.reasons: list[DiagramError] = []
        self.process_ids: list[str] = []

    def add(self, problem: DiagramError, not_executable: bool) -> None:
        target = self.reasons if not_executable else self.errors
        if all(str(p) != str(problem) for p in target):
            target.append(problem)

    def verdict(self) -> Verdict:
        status: Status = "error" if self.errors else "not_executable" if self.reasons else "ok"
        return Verdict(self.path, status, self.errors, self.process_ids, self.reasons)


def _tidy(problem: DiagramError, roots: dict[str, etree._Element]) -> DiagramError:
    """Readable element names in SpiffWorkflow messages; locate data stores by name."""
    message = _ELEMENT_REPR.sub(r"\1", " ".join(problem.message.split()))
    element_id, line = problem.element_id, problem.line
    match = _DATA_STORE.search(problem.message)
    root = roots.get(problem.file)
    if match and root is not None and not element_id:
        for store in root.iter(f"{{{BPMN_NS}}}dataStore"):
            if store.get("name") == match.group(1):
                element_id, line = store.get("id"), store.sourceline
                break
    return DiagramError(problem.file, line, element_id, message.rstrip(". ") or problem.message)


def _is_engine_limitation(problem: DiagramError) -> bool:
    return any(m in problem.message for m in _NOT_EXECUTABLE_MESSAGES)


def _internal(path: str, exc: BaseException) -> DiagramError:
    return DiagramError(path, None, None, f"internal validator error: {type(exc).__name__}: {exc}")


def _process_files(bundle: ParsedBundle) -> dict[str, str]:
    """Executable top-level process id → file, before any spec is built."""
    result = {}
    for pid in bundle.parser.get_process_ids():
        process_parser = bundle.parser.get_process_parser(pid)
        result[pid] = getattr(process_parser, "filename", None) or ""
    return result


def _check_bpmn(bundle: ParsedBundle, name: str, result: _FileResult,
                pids: list[str], form_keys: Collection[str] | None) -> None:
    root = bundle.roots[name]
    result.process_ids = pids
    if not pids:
        processes = list(root.iter(f"{{{BPMN_NS}}}process"))
        reason = ("the file contains no process" if not processes
                  else 'no process is marked isExecutable="true"')
        result.add(DiagramError(name, None, None, reason), not_executable=True)
        return
    for pid in pids:
        try:
            bundle.specs(pid)
        except DiagramError as raw:
            problem = _tidy(raw, bundle.roots)
            result.add(problem, _is_engine_limitation(problem))
    for item in bpmn_code(name, root):
        if is_checked_python(item):
            code_problem = check_item(item)
            if code_problem is not None:
                result.add(code_problem, not_executable=False)
    for problem in deployability_problems(name, root, bundle.parser, form_keys):
        result.add(problem, not_executable=True)


def _check_dmn(bundle: ParsedBundle, name: str, result: _FileResult) -> None:
    for dmn_parser in list(bundle.parser.dmn_parsers.values()):
        if getattr(dmn_parser, "filename", None) != name:
            continue
        try:
            dmn_parser.parse()
        except ValidationException as exc:
            result.add(_tidy(diagram_error_from(exc, bundle.roots, name), bundle.roots), False)
        except (KeyError, IndexError, AttributeError) as exc:
            result.add(DiagramError(name, None, None, f"the engine cannot read this decision: "
                                                       f"{type(exc).__name__}: {exc}"), False)
    for item in dmn_code(name, bundle.roots[name]):
        problem = check_item(item)
        if problem is not None:
            result.add(problem, not_executable=False)


def validate_bundle(files: dict[str, bytes], form_keys: Collection[str] | None = None) -> list[Verdict]:
    """Validate files that deploy together (name → bytes); one :class:`Verdict` per file, in order.

    ``form_keys``: the form keys that exist; when given, user/manual tasks must have one.
    """
    results = {name: _FileResult(name) for name in files}
    bundle = ParsedBundle(make_parser())
    loaded = []
    for name in sorted(files, key=lambda n: (not n.lower().endswith(".dmn"), n)):
        try:
            add_file(bundle, name, files[name])
            loaded.append(name)
        except DiagramError as raw:
            problem = _tidy(raw, bundle.roots)
            results[name].add(problem, _is_engine_limitation(problem))
            bundle.roots.pop(name, None)
        except Exception as exc:  # noqa: BLE001 - a verdict, never a traceback
            results[name].add(_internal(name, exc), False)
            bundle.roots.pop(name, None)
    try:
        process_files = _process_files(bundle)
    except Exception as exc:  # noqa: BLE001
        for name in loaded:
            results[name].add(_internal(name, exc), False)
        return [results[name].verdict() for name in files]
    for name in loaded:
        try:
            if bundle.kinds.get(name) == "dmn":
                _check_dmn(bundle, name, results[name])
            else:
                pids = [pid for pid, f in process_files.items() if f == name]
                _check_bpmn(bundle, name, results[name], pids, form_keys)
        except Exception as exc:  # noqa: BLE001
            results[name].add(_internal(name, exc), False)
    return [results[name].verdict() for name in files]


def _read(path: Path) -> bytes | DiagramError:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return DiagramError(str(path), None, None,
                                f"the file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,} bytes")
        return path.read_bytes()
    except OSError as exc:
        return DiagramError(str(path), None, None, f"cannot read the file: {exc.strerror or exc}")


def validate_paths(paths: Sequence[str], form_keys: Collection[str] | None = None) -> list[Verdict]:
    """Validate files and directories (scanned for ``*.bpmn``/``*.dmn``, recursively).

    Files of one directory are validated together as a bundle.
    """
    groups: dict[str, list[Path]] = {}
    missing: list[Verdict] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".bpmn", ".dmn") and p.is_file())
            for p in found:
                groups.setdefault(str(p.parent), []).append(p)
        elif path.is_file():
            groups.setdefault(str(path.parent), []).append(path)
        else:
            missing.append(Verdict(str(path), "error", [DiagramError(str(path), None, None, "no such file")]))
    verdicts = list(missing)
    for _, members in sorted(groups.items()):
        files: dict[str, bytes] = {}
        unreadable: list[Verdict] = []
        for p in dict.fromkeys(members):
            data = _read(p)
            if isinstance(data, DiagramError):
                unreadable.append(Verdict(str(p), "error", [data]))
            else:
                files[str(p)] = data
        verdicts.extend(unreadable)
        if _independent(files):
            # Several diagrams declaring the same process id are separate models (e.g. one
            # exported by different tools), not one bundle: judge each on its own.
            for name, data in files.items():
                verdicts.extend(validate_bundle({name: data}, form_keys))
        else:
            verdicts.extend(validate_bundle(files, form_keys))
    return verdicts


def _independent(files: dict[str, bytes]) -> bool:
    """True when two files of a folder declare the same process id."""
    seen: set[str] = set()
    for name, data in files.items():
        try:
            root = parse_xml(data, name)
        except DiagramError:
            continue
        ids = {el.get("id") for el in root.iter() if isinstance(el.tag, str)
               and el.tag.rsplit("}", 1)[-1] == "process" and el.get("id")}
        if ids & seen:
            return True
        seen |= ids
    return False


__all__ = ["DiagramError", "Verdict", "validate_bundle", "validate_paths"]
