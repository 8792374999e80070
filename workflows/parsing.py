"""Safe parsing of uploaded BPMN/DMN files and loading them into SpiffWorkflow.

:func:`parse_xml` refuses hostile input before SpiffWorkflow sees it (DTDs and entities,
non-UTF-8 bytes, oversized or over-deep documents, too many flow elements).
:func:`load_bundle` adds a set of files to a validating :class:`FengqiaoParser` and converts
SpiffWorkflow ``ValidationException`` into :class:`DiagramError` with a line number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

MAX_FILE_BYTES = 5 * 2**20
MAX_DEPTH = 256
MAX_FLOW_ELEMENTS = 5_000
MAX_ELEMENTS = 200_000

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DMN_NAMESPACES = frozenset({
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
})
_FLOW_TAGS = frozenset({
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "subProcess", "transaction", "adHocSubProcess", "callActivity",
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway",
    "complexGateway", "sequenceFlow",
})
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class DiagramError(Exception):
    """A problem in a diagram file, located by file, line and element id when known."""

    def __init__(self, file: str, line: int | None, element_id: str | None, message: str) -> None:
        super().__init__(file, line, element_id, message)
        self.file = file
        self.line = line or None
        self.element_id = element_id or None
        self.message = message

    def __str__(self) -> str:
        where = self.file or "<diagram>"
        if self.line:
            where += f":{self.line}"
        if self.element_id:
            where += f": {self.element_id}"
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {"file": self.file, "line": self.line, "element_id": self.element_id,
                "message": self.message, "text": str(self)}


def _line_of_offset(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def parse_xml(data: bytes, filename: str, max_bytes: int = MAX_FILE_BYTES) -> etree._Element:
    """Parse one uploaded diagram safely and return its root element.

    Raises :class:`DiagramError` for empty, oversized or non-UTF-8 files, any DOCTYPE/ENTITY
    declaration, malformed XML, nesting deeper than ``MAX_DEPTH`` and more than
    ``MAX_FLOW_ELEMENTS`` flow elements.
    """
    if not data or not data.strip():
        raise DiagramError(filename, None, None, "the file is empty")
    if len(data) > max_bytes:
        raise DiagramError(filename, None, None,
                           f"the file is {len(data):,} bytes; the limit is {max_bytes:,} bytes")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DiagramError(filename, _line_of_offset(data, err.start), None,
                           f"the file is not valid UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start})"
                           ) from None
    match = _DOCTYPE.search(data)
    if match:
        raise DiagramError(filename, _line_of_offset(data, match.start()), None,
                           "DOCTYPE and ENTITY declarations are not allowed in diagrams")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        message = str(err.msg or err)
        if "depth" in message.lower():
            message = f"elements are nested deeper than {MAX_DEPTH} levels"
        raise DiagramError(filename, err.lineno, None, f"not well-formed XML: {message}") from None
    except ValueError as err:  # e.g. an encoding declaration lxml rejects
        raise DiagramError(filename, None, None, f"cannot parse XML: {err}") from None
    if root is None:
        raise DiagramError(filename, None, None, "the file contains no XML element")
    if root.getroottree().docinfo.doctype:
        raise DiagramError(filename, 1, None, "DOCTYPE declarations are not allowed in diagrams")
    _check_shape(root, filename)
    return root


def _check_shape(root: etree._Element, filename: str) -> None:
    """Refuse over-deep nesting and too many (flow) elements, in one bounded walk."""
    count = flow = 0
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            raise DiagramError(filename, element.sourceline, element.get("id"),
                               f"elements are nested deeper than {MAX_DEPTH} levels")
        if count > MAX_ELEMENTS:
            raise DiagramError(filename, element.sourceline, None,
                               f"the file has more than {MAX_ELEMENTS:,} XML elements")
        tag = element.tag
        if isinstance(tag, str) and tag.startswith("{" + BPMN_NS + "}") and tag[len(BPMN_NS) + 2:] in _FLOW_TAGS:
            flow += 1
            if flow > MAX_FLOW_ELEMENTS:
                raise DiagramError(filename, element.sourceline, element.get("id"),
                                   f"the file has more than {MAX_FLOW_ELEMENTS:,} flow elements")
        stack.extend((child, depth + 1) for child in element)


def document_kind(root: etree._Element) -> str | None:
    """'bpmn' or 'dmn' for a ``definitions`` root in a known namespace, else ``None``."""
    qname = etree.QName(root)
    if qname.localname != "definitions":
        return None
    if qname.namespace == BPMN_NS:
        return "bpmn"
    if qname.namespace in DMN_NAMESPACES:
        return "dmn"
    return None


class FengqiaoParser(SpiffBpmnParser):
    """SpiffWorkflow's Spiff-flavoured parser that validates against the XSDs and reads files
    only through :func:`parse_xml`."""

    def __init__(self) -> None:
        super().__init__(validator=VALIDATOR)

    def add_bpmn_files(self, filenames: Iterable[str]) -> None:
        """Add BPMN files from disk, safely parsed."""
        for name in filenames:
            with open(name, "rb") as f:
                self.add_bpmn_xml(parse_xml(f.read(), name), filename=name)

    def add_dmn_files(self, filenames: Iterable[str]) -> None:
        """Add DMN files from disk, safely parsed."""
        for name in filenames:
            with open(name, "rb") as f:
                self.add_dmn_xml(parse_xml(f.read(), name), filename=name)

    def add_bpmn_str(self, bpmn_str: bytes | str, filename: str | None = None) -> None:
        """Add BPMN text, safely parsed."""
        data = bpmn_str.encode("utf-8") if isinstance(bpmn_str, str) else bpmn_str
        self.add_bpmn_xml(parse_xml(data, filename or "<bpmn>"), filename=filename)

    def add_dmn_str(self, dmn_str: bytes | str, filename: str | None = None) -> None:
        """Add DMN text, safely parsed."""
        data = dmn_str.encode("utf-8") if isinstance(dmn_str, str) else dmn_str
        self.add_dmn_xml(parse_xml(data, filename or "<dmn>"), filename=filename)


def make_parser() -> FengqiaoParser:
    """A fresh validating parser (BPMN + DMN, Spiff extensions)."""
    return FengqiaoParser()


def _find_line(roots: dict[str, etree._Element], file: str | None,
               element_id: str | None) -> tuple[str | None, int | None]:
    """Find (file, line) of an element id, preferring ``file``."""
    if not element_id:
        return file, None
    order = ([file] if file in roots else []) + [f for f in roots if f != file]
    for name in order:
        for element in roots[name].iter():
            if element.get("id") == element_id:
                return name, element.sourceline
    return file, None


def diagram_error_from(exc: ValidationException, roots: dict[str, etree._Element],
                       default_file: str) -> DiagramError:
    """Convert a SpiffWorkflow ``ValidationException`` into a located :class:`DiagramError`."""
    file = exc.file_name or default_file
    element_id = getattr(exc, "id", None) or None
    line = getattr(exc, "line_number", None) or None
    if not line:
        file, line = _find_line(roots, file, element_id)
    message = str(exc.args[0]) if exc.args else str(exc)
    return DiagramError(file or default_file, int(line) if line else None, element_id, message)


@dataclass
class ParsedBundle:
    """Diagrams loaded into one parser, so call activities and decisions resolve across files."""

    parser: FengqiaoParser
    roots: dict[str, etree._Element] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)

    @property
    def process_ids(self) -> list[str]:
        """Ids of the executable processes."""
        return list(self.parser.get_process_ids())

    def specs(self, process_id: str) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]:
        """``(spec, subprocess_specs)`` for a top-level process; raises :class:`DiagramError`."""
        try:
            return self.parser.get_spec(process_id), self.parser.get_subprocess_specs(process_id)
        except ValidationException as exc:
            raise diagram_error_from(exc, self.roots, self._file_of(process_id)) from None

    def _file_of(self, process_id: str) -> str:
        process_parser = self.parser.get_process_parser(process_id)
        filename = getattr(process_parser, "filename", None)
        return filename or next(iter(self.roots), "<bundle>")


def add_file(bundle: ParsedBundle, filename: str, data: bytes) -> None:
    """Safely parse one file and add it to ``bundle``; raises :class:`DiagramError`."""
    root = parse_xml(data, filename)
    kind = document_kind(root)
    if kind is None:
        raise DiagramError(filename, root.sourceline, None,
                           f"not a BPMN 2.0 or DMN document (root element {etree.QName(root).localname!r} "
                           f"in namespace {etree.QName(root).namespace!r})")
    bundle.roots[filename] = root
    bundle.kinds[filename] = kind
    try:
        if kind == "bpmn":
            bundle.parser.add_bpmn_xml(root, filename=filename)
        else:
            bundle.parser.add_dmn_xml(root, filename=filename)
    except ValidationException as exc:
        raise diagram_error_from(exc, bundle.roots, filename) from None
    except (KeyError, IndexError, AttributeError, TypeError) as exc:
        raise DiagramError(filename, None, None,
                           f"the engine cannot read this file: {type(exc).__name__}: {exc}") from None


def load_bundle(files: dict[str, bytes]) -> ParsedBundle:
    """Safely parse ``files`` (name → bytes) into one parser; raises the first :class:`DiagramError`."""
    bundle = ParsedBundle(make_parser())
    for filename in sorted(files, key=lambda n: (not n.lower().endswith(".dmn"), n)):
        add_file(bundle, filename, files[filename])
    return bundle
