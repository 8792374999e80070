"""Safe XML parsing and loading bundles into SpiffWorkflow."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from workflows.parsing import (
    DiagramError,
    FengqiaoParser,
    load_bundle,
    make_parser,
    parse_xml,
)

DATA = Path(__file__).resolve().parents[1] / "data"
HOSTILE = DATA / "hostile"

NS = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'


def tasks_bpmn(n: int) -> bytes:
    """A well-formed executable process with ``n`` chained tasks (generated, never committed)."""
    nodes = ['<bpmn:startEvent id="s"/>'] + [f'<bpmn:task id="t{i}"/>' for i in range(n)]
    flows = [f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="t{i}"/>'
             for i, a in enumerate(["s"] + [f"t{i}" for i in range(n - 1)])]
    body = "".join(nodes + flows)
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="d" targetNamespace="x">'
            f'<bpmn:process id="big" isExecutable="true">{body}</bpmn:process></bpmn:definitions>').encode()


def nested_bpmn(depth: int) -> bytes:
    inner = "<x:a xmlns:x='urn:x'>" * depth + "</x:a>" * depth
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="d" targetNamespace="x">'
            f'<bpmn:documentation>{inner}</bpmn:documentation></bpmn:definitions>').encode()


def test_diagram_error_format():
    assert str(DiagramError("a.bpmn", 12, "Task_1", "broken")) == "a.bpmn:12: Task_1: broken"
    assert str(DiagramError("a.bpmn", None, None, "the file is empty")) == "a.bpmn: the file is empty"
    assert str(DiagramError("a.bpmn", None, "Task_1", "x")) == "a.bpmn: Task_1: x"


def test_empty_file_is_refused():
    with pytest.raises(DiagramError, match="empty"):
        parse_xml((HOSTILE / "empty.bpmn").read_bytes(), "empty.bpmn")
    with pytest.raises(DiagramError, match="empty"):
        parse_xml(b"  \n ", "blank.bpmn")


def test_non_utf8_is_refused_with_offset_and_line():
    with pytest.raises(DiagramError) as info:
        parse_xml((HOSTILE / "non_utf8.bpmn").read_bytes(), "non_utf8.bpmn")
    assert "not valid UTF-8" in info.value.message and "offset" in info.value.message
    assert info.value.line == 5


@pytest.mark.parametrize("name", ["billion_laughs.bpmn", "xxe_file.bpmn", "xxe_http.bpmn"])
def test_doctype_and_entities_are_refused_outright(name):
    started = time.monotonic()
    with pytest.raises(DiagramError, match="DOCTYPE and ENTITY declarations are not allowed") as info:
        parse_xml((HOSTILE / name).read_bytes(), name)
    assert info.value.line == 2
    assert time.monotonic() - started < 1


def test_doctype_is_refused_even_if_spelled_oddly():
    data = b'<?xml version="1.0"?>\n<!doctype x>\n<x/>'
    with pytest.raises(DiagramError, match="DOCTYPE"):
        parse_xml(data, "x.bpmn")


def test_oversized_file_is_refused():
    with pytest.raises(DiagramError, match="the limit is"):
        parse_xml(b"<a>" + b" " * 2000 + b"</a>", "big.bpmn", max_bytes=1000)


def test_deep_nesting_is_refused():
    with pytest.raises(DiagramError, match="nested deeper than 256"):
        parse_xml(nested_bpmn(300), "deep.bpmn")
    parse_xml(nested_bpmn(100), "ok.bpmn")


def test_ten_thousand_tasks_are_refused_quickly():
    data = tasks_bpmn(10_000)
    started = time.monotonic()
    with pytest.raises(DiagramError, match="more than 5,000 flow elements"):
        parse_xml(data, "huge.bpmn")
    assert time.monotonic() - started < 2


def test_malformed_xml_gives_a_line():
    with pytest.raises(DiagramError) as info:
        parse_xml(b"<a>\n<b>\n</a>", "bad.bpmn")
    assert info.value.line in (2, 3) and "not well-formed" in info.value.message


def test_load_bundle_resolves_call_activities_and_decisions_across_files():
    files = {p.name: p.read_bytes() for p in (DATA / "bundle").iterdir()}
    bundle = load_bundle(files)
    assert sorted(bundle.process_ids) == ["case_flow", "followup_flow"]
    spec, subs = bundle.specs("case_flow")
    assert spec.name == "case_flow" and "followup_flow" in subs
    assert spec.task_specs["intake"].lane == "调解员"


def test_xsd_errors_carry_the_line():
    data = (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NS} id="d" targetNamespace="x">\n'
            '  <bpmn:process id="p" isExecutable="true">\n    <bpmn:bogus id="b"/>\n  </bpmn:process>\n'
            '</bpmn:definitions>').encode()
    with pytest.raises(DiagramError) as info:
        load_bundle({"x.bpmn": data})
    assert info.value.line == 4 and info.value.file == "x.bpmn"


def test_semantic_errors_are_located_by_element_id():
    data = (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NS} id="d" targetNamespace="x">\n'
            '  <bpmn:process id="p" isExecutable="true">\n    <bpmn:startEvent id="s"/>\n'
            '    <bpmn:exclusiveGateway id="g"/>\n    <bpmn:endEvent id="e1"/>\n    <bpmn:endEvent id="e2"/>\n'
            '    <bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="g"/>\n'
            '    <bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="e1"/>\n'
            '    <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e2"/>\n'
            '  </bpmn:process>\n</bpmn:definitions>').encode()
    bundle = load_bundle({"g.bpmn": data})
    with pytest.raises(DiagramError) as info:
        bundle.specs("p")
    assert info.value.element_id in ("f1", "f2") and info.value.line in (9, 10)


def test_parser_reads_files_only_through_the_safe_parser(tmp_path):
    path = tmp_path / "lol.bpmn"
    path.write_bytes((HOSTILE / "billion_laughs.bpmn").read_bytes())
    parser = make_parser()
    assert isinstance(parser, FengqiaoParser)
    with pytest.raises(DiagramError, match="DOCTYPE"):
        parser.add_bpmn_file(str(path))
    with pytest.raises(DiagramError, match="DOCTYPE"):
        parser.add_bpmn_str(path.read_bytes(), filename="lol.bpmn")
