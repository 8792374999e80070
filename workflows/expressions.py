"""Find every piece of diagram code in a bundle and compile-check it without running it.

Covers gateway/sequence-flow conditions, script tasks, ``spiffworkflow:preScript``/``postScript``,
timers, conditional events, multi-instance cardinality/completion conditions, standard-loop
conditions and DMN input expressions, input entries and output entries. DMN input entries are
turned into Python exactly as SpiffWorkflow's ``DMNEngine`` does before they are checked.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from lxml import etree

from workflows.parsing import BPMN_NS, DiagramError, ParsedBundle
from workflows.sandbox import SandboxError, compile_check

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
PYTHON_LANGUAGES = frozenset({"", "python", "python3", "text/x-python", "text/python", "py"})

Kind = Literal["condition", "script", "pre_script", "post_script", "timer", "loop_cardinality",
               "completion_condition", "loop_condition", "event_condition", "dmn_input",
               "dmn_input_entry", "dmn_output_entry"]

_B = "{" + BPMN_NS + "}"
_S = "{" + SPIFF_NS + "}"
Mode = Literal["eval", "exec"]
_BPMN_CODE: dict[str, tuple[Kind, Mode]] = {
    _B + "conditionExpression": ("condition", "eval"),
    _B + "script": ("script", "exec"),
    _S + "preScript": ("pre_script", "exec"),
    _S + "postScript": ("post_script", "exec"),
    _B + "timeDate": ("timer", "eval"),
    _B + "timeDuration": ("timer", "eval"),
    _B + "timeCycle": ("timer", "eval"),
    _B + "loopCardinality": ("loop_cardinality", "eval"),
    _B + "completionCondition": ("completion_condition", "eval"),
    _B + "loopCondition": ("loop_condition", "eval"),
    _B + "condition": ("event_condition", "eval"),
}
# Same look-ahead SpiffWorkflow's DMNEngine uses to replace '?' outside quotes.
_QUESTION = re.compile(r'(\?)(?=(?:[^\'"]|[\'"][^\'"]*[\'"])*$)')


@dataclass(frozen=True)
class CodeItem:
    """One piece of diagram code: where it is, what it is and how the engine runs it."""

    file: str
    line: int | None
    element_id: str | None
    kind: Kind
    mode: Literal["eval", "exec"]
    source: str | None
    language: str = ""
    input_expression: str | None = None  # for DMN input entries
    tag: str = ""  # local name of the XML element holding the code (timeDuration...)

    def error(self, message: str, line: int | None = None) -> DiagramError:
        """A :class:`DiagramError` located at this item."""
        return DiagramError(self.file, line or self.line, self.element_id, message)


def _owner_id(element: etree._Element) -> str | None:
    """The id of the nearest ancestor (or self) that has one."""
    node: etree._Element | None = element
    while node is not None:
        if node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


def _in_executable_process(element: etree._Element) -> bool:
    node = element.getparent()
    while node is not None:
        if node.tag == _B + "process":
            return node.get("isExecutable", "true") == "true"
        node = node.getparent()
    return False


def _language(element: etree._Element, default: str) -> str:
    """The declared language of a piece of code ('' when undeclared, i.e. Python for us)."""
    if element.tag == _B + "script":
        parent = element.getparent()
        return (parent.get("scriptFormat", "") if parent is not None else "").strip().lower()
    if element.tag.startswith(_S):
        return ""
    return (element.get("language") or default).strip().lower()


def foreign_syntax(source: str | None) -> str | None:
    """Name of a well-known non-Python expression syntax the text is written in, if any."""
    text = (source or "").strip()
    if text.startswith(("${", "#{")):
        return "JUEL"
    if text.startswith("=") and not text.startswith("=="):
        return "FEEL"
    return None


def bpmn_code(file: str, root: etree._Element, executable_only: bool = True) -> Iterator[CodeItem]:
    """Yield the code of a BPMN document (by default only inside executable processes)."""
    default_language = root.get("expressionLanguage") or ""
    for element in root.iter(*_BPMN_CODE):
        if executable_only and not _in_executable_process(element):
            continue
        if element.tag == _B + "condition" and element.getparent() is not None \
                and element.getparent().tag != _B + "conditionalEventDefinition":
            continue
        if element.tag == _B + "completionCondition" and element.getparent() is not None \
                and element.getparent().tag == _B + "adHocSubProcess":
            kind: Kind = "completion_condition"
            mode: Mode = "eval"
        else:
            kind, mode = _BPMN_CODE[element.tag]
        yield CodeItem(file, element.sourceline, _owner_id(element), kind, mode, element.text,
                       _language(element, default_language), tag=etree.QName(element).localname)


def _local(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _text_child(element: etree._Element) -> etree._Element | None:
    for child in element:
        if _local(child) == "text":
            return child
    return None


def dmn_code(file: str, root: etree._Element) -> Iterator[CodeItem]:
    """Yield the code of a DMN document: input expressions and input/output entries."""
    for table in root.iter():
        if _local(table) != "decisionTable":
            continue
        inputs: list[str | None] = []
        for child in table:
            name = _local(child)
            if name == "input":
                expr_node = next((c for c in child if _local(c) == "inputExpression"), None)
                text_node = _text_child(expr_node) if expr_node is not None else None
                source = text_node.text if text_node is not None else None
                inputs.append(source)
                if source is not None and text_node is not None:
                    yield CodeItem(file, text_node.sourceline, child.get("id"), "dmn_input", "eval", source)
            elif name == "rule":
                yield from _rule_code(file, child, inputs)


def _rule_code(file: str, rule: etree._Element, inputs: list[str | None]) -> Iterator[CodeItem]:
    index = 0
    for entry in rule:
        name = _local(entry)
        text_node = _text_child(entry)
        text = text_node.text if text_node is not None else None
        line = text_node.sourceline if text_node is not None else entry.sourceline
        if name == "inputEntry":
            input_expr = inputs[index] if index < len(inputs) else None
            index += 1
            if text is not None and text != "-":
                yield CodeItem(file, line, entry.get("id") or rule.get("id"), "dmn_input_entry", "eval",
                               text, input_expression=input_expr)
        elif name == "outputEntry" and text:
            yield CodeItem(file, line, entry.get("id") or rule.get("id"), "dmn_output_entry", "eval", text)


def dmn_entry_python(input_expression: str | None, entry: str) -> str:
    """The Python SpiffWorkflow's ``DMNEngine.evaluate`` builds for an input entry.

    ``"red"`` → ``(color) == ("red")``; ``> 3`` → ``size> 3``; ``? > 3`` uses the input value.
    Raises ``SandboxError`` when the engine would fail to build or run it as a comparison
    (e.g. ``in ("a","b")`` glued to the input as ``colorin ("a","b")``).
    """
    input_expr = input_expression if input_expression is not None else "dmn_input"
    replaced = _QUESTION.sub("dmninputexpr", entry)
    if "dmninputexpr" in replaced:
        return replaced
    try:
        ast.parse(entry)
        return f"({input_expr}) == ({entry})"
    except SyntaxError:
        pass
    try:
        ast.parse(f"v {entry}")
    except SyntaxError as err:
        raise SandboxError(f"input entry {entry!r} is neither a value nor a comparison: {err.msg}") from None
    combined = input_expr + entry
    try:
        tree = ast.parse(combined.strip(), mode="eval").body
        left = ast.parse(input_expr.strip(), mode="eval").body
    except SyntaxError as err:
        raise SandboxError(f"input entry {entry!r} joined to the input expression gives "
                           f"{combined!r}, which is invalid: {err.msg}") from None
    if not isinstance(tree, ast.Compare) or ast.dump(tree.left) != ast.dump(left):
        raise SandboxError(f"the engine joins input entry {entry!r} directly to the input expression "
                           f"{input_expr!r}, giving {combined!r}, which is not a comparison; "
                           f"put a space before it or write a full expression using '?'")
    return combined


def iter_code(bundle: ParsedBundle) -> Iterator[CodeItem]:
    """Every piece of code in the bundle (BPMN: executable processes only)."""
    for file, root in bundle.roots.items():
        if bundle.kinds.get(file) == "dmn":
            yield from dmn_code(file, root)
        else:
            yield from bpmn_code(file, root)


def is_checked_python(item: CodeItem) -> bool:
    """Whether ``check_expressions`` compile-checks this item (an error if it fails).

    Timers, empty expressions and code in (or looking like) another language are reported as
    not executable by validation instead.
    """
    if item.kind == "timer" or item.language not in PYTHON_LANGUAGES:
        return False
    if item.mode == "eval" and not (item.source or "").strip():
        return item.kind.startswith("dmn")
    return item.kind.startswith("dmn") or foreign_syntax(item.source) is None


def check_item(item: CodeItem) -> DiagramError | None:
    """Compile-check one item; ``None`` when it is fine."""
    try:
        if item.kind == "dmn_input_entry":
            compile_check(dmn_entry_python(item.input_expression, item.source or ""), "eval")
        elif item.mode == "exec" and item.source is None:
            return None
        else:
            compile_check(item.source or "", item.mode)
    except SandboxError as err:
        line = (item.line or 0) + err.line - 1 if err.line and item.line else item.line
        return item.error(f"{item.kind.replace('_', ' ')}: {err.message}", line)
    return None


def check_expressions(bundle: ParsedBundle) -> list[DiagramError]:
    """Compile-check all Python code of the bundle except timers (see ``check_timers``).

    Code in a non-Python language is skipped here; validation reports it as not executable.
    """
    problems = []
    for item in iter_code(bundle):
        if not is_checked_python(item):
            continue
        problem = check_item(item)
        if problem is not None:
            problems.append(problem)
    return problems
