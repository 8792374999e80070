"""Static checks of the shipped diagrams (bpmn/), forms (forms/definitions/) and clocks, plus in-memory
engine walks of every route in bpmn_routes.ROUTES on plain SpiffWorkflow 3.2 with a moved clock."""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bpmn_engine, bpmn_routes live beside this file

from bpmn_engine import (
    BPMN_DIR,
    FORMS_DIR,
    drive,
    moved_clock,
    parse_bundle,
    ready_user_tasks,
    start_workflow,
)
from bpmn_routes import ADVANCE_CLOCK, ROUTES, SIGNAL, Route

from cases.roles import role_for_lane

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC",
      "di": "http://www.omg.org/spec/DD/20100524/DI",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
      "dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/"}
BPMN_FILES = sorted(BPMN_DIR.glob("*.bpmn"))
STAGES = {"dispute", "prevention", "intake", "mediation", "police_mediation", "judicial_confirmation", "referral",
          "closure"}
DOCUMENT_KINDS = {"agreement", "oral_agreement_record", "application_record", "not_accepted_notice", "rights_notice",
                  "mediation_record", "termination_notice", "police_agreement", "judicial_confirmation_pack",
                  "referral_letter", "return_visit_record", "case_file_index"}
CASE_ACTIONS = {"transfer_upward", "close", "withdraw"}
OUTCOMES = {"resolved_on_spot", "written_agreement", "oral_agreement", "terminated", "referred", "withdrawn",
            "police_agreement", "police_punishment", "not_accepted"}
FIELD_TYPES = {"text", "textarea", "integer", "date", "datetime", "choice", "multichoice", "boolean", "money",
               "parties", "evidence"}
HELPERS = {"today", "now", "add_days", "add_working_days", "days_between", "iso_duration_days"}
# Confirmed [C] clocks of domain.md section 5: timer id -> (text the name must contain, article in documentation)
CONFIRMED_TIMERS = {
    "labour_deadline_timer": ("15日", "Art. 14"),
    "case_period_timer": ("30日", "Art. 99"),
    "jc_deadline_timer": ("30日", "Art. 205"),
    "enforcement_deadline_timer": ("2年", "Art. 250"),
}
LOCAL_RULE_TIMERS = {"mediation_target_timer", "police_deadline_timer", "court_review_timer", "wait_onsite_visit"}


def xml(path: Path) -> etree._ElementTree:
    return etree.parse(str(path))


def user_tasks(tree):
    return tree.xpath("//bpmn:userTask", namespaces=NS)


def properties(task) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in task.xpath(".//spiffworkflow:property", namespaces=NS)}


def expressions(tree) -> list[tuple[str, str, str]]:
    """(where, mode, text) for every Python expression or script in a BPMN tree."""
    out = []
    for el in tree.xpath("//bpmn:conditionExpression | //bpmn:loopCondition | //bpmn:timeDate | "
                         "//bpmn:timeDuration | //bpmn:timeCycle", namespaces=NS):
        out.append((el.getparent().get("id") or el.getparent().getparent().get("id"), "eval", el.text or ""))
    for el in tree.xpath("//bpmn:script | //spiffworkflow:postScript | //spiffworkflow:preScript", namespaces=NS):
        owner = el.getparent() if el.tag.endswith("script") and "bpmn" in el.tag else el.getparent().getparent()
        out.append((owner.get("id"), "exec", el.text or ""))
    return out


@pytest.fixture(scope="module")
def parser() -> SpiffBpmnParser:
    return parse_bundle()


# ======================================================================================== static checks
@pytest.mark.parametrize("path", BPMN_FILES, ids=lambda p: p.name)
def test_each_file_parses_with_the_validator(path: Path) -> None:
    p = SpiffBpmnParser(validator=VALIDATOR)
    p.add_bpmn_file(str(path))
    tree = xml(path)
    for proc in tree.xpath("//bpmn:process", namespaces=NS):
        assert proc.get("isExecutable") == "true", proc.get("id")
        assert proc.get("id") in p.get_process_ids()


def test_bundle_has_every_stage_and_resolves_call_activities(parser: SpiffBpmnParser) -> None:
    assert STAGES <= set(parser.get_process_ids())
    subs = parser.get_subprocess_specs("dispute")
    assert STAGES - {"dispute"} <= set(subs)
    calls = {el.get("calledElement") for path in BPMN_FILES for el in xml(path).xpath("//bpmn:callActivity", namespaces=NS)}
    assert {"prevention", "intake", "mediation", "police_mediation", "referral", "closure",
            "judicial_confirmation"} == calls


def test_risk_dmn(parser: SpiffBpmnParser) -> None:
    tree = xml(BPMN_DIR / "risk.dmn")
    decision = tree.xpath("//dmn:decision", namespaces=NS)
    assert [d.get("id") for d in decision] == ["risk_grading"]
    table = tree.xpath("//dmn:decisionTable", namespaces=NS)[0]
    assert table.get("hitPolicy") == "UNIQUE"
    outputs = {o.get("name") for o in tree.xpath("//dmn:output", namespaces=NS)}
    assert outputs == {"risk_colour", "recommended_level", "police_alert"}
    assert "local practice" in " ".join(tree.xpath("//dmn:decision/dmn:description/text()", namespaces=NS))
    brts = [el for path in BPMN_FILES for el in xml(path).xpath("//bpmn:businessRuleTask", namespaces=NS)]
    assert [b.xpath("string(.//spiffworkflow:calledDecisionId)", namespaces=NS) for b in brts] == ["risk_grading"]


def _risk_inputs():
    base = {"weapons": False, "threats": False, "repeated_police_calls": False, "group_size": 1,
            "petition_intent": False, "prior_failed_mediations": False, "category": "neighbour",
            "vulnerable_persons": False}
    import itertools
    cats = ["neighbour", "land_acquisition", "labour"]
    for bits in itertools.product([False, True], repeat=6):
        for group in (1, 10):
            for cat in cats:
                d = dict(base, weapons=bits[0], threats=bits[1], repeated_police_calls=bits[2],
                         petition_intent=bits[3], prior_failed_mediations=bits[4], vulnerable_persons=bits[5],
                         group_size=group, category=cat)
                yield d


def test_risk_table_is_unique_and_complete(parser: SpiffBpmnParser) -> None:
    """Every input combination matches exactly one rule (the table is valid UNIQUE, not order-dependent)."""
    from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

    engine = parser.get_engine("risk_grading", None) if hasattr(parser, "get_engine") else None
    table = engine.decision_table if engine else parser.dmn_parsers["risk_grading"].decision.decisionTables[0]
    script_engine = PythonScriptEngine()
    for data in _risk_inputs():
        hits = 0
        for rule in table.rules:
            ok = True
            for entry in rule.inputEntries:
                expr = entry.input.expression
                for lhs in entry.lhs:
                    if lhs is None:
                        continue
                    lhs = lhs.strip()
                    if "?" in lhs:
                        text = lhs.replace("?", f"({expr})")
                    elif re.match(r"^(<|>|=|!)", lhs):
                        text = f"{expr} {lhs}"
                    else:
                        text = f"({expr}) == ({lhs})"
                    if not script_engine.environment.evaluate(text, dict(data)):
                        ok = False
            hits += ok
        assert hits == 1, (data, hits)


def test_every_user_task_has_a_form_lane_and_valid_properties(parser: SpiffBpmnParser) -> None:
    keys_used = set()
    for path in BPMN_FILES:
        for task in user_tasks(xml(path)):
            props = properties(task)
            key = props.get("formKey")
            assert key, f"{path.name}:{task.get('id')} has no formKey"
            keys_used.add(key)
            form_path = FORMS_DIR / f"{key}.json"
            assert form_path.exists(), f"missing form {form_path.name}"
            for kind in filter(None, (props.get("documents") or "").split(",")):
                assert kind.strip() in DOCUMENT_KINDS, (task.get("id"), kind)
            if "caseAction" in props:
                assert props["caseAction"] in CASE_ACTIONS
            assert task.xpath("string(.//spiffworkflow:instructionsForEndUser)", namespaces=NS).strip()
            assert task.xpath("string(bpmn:documentation)", namespaces=NS).strip()
    orphans = {p.stem for p in FORMS_DIR.glob("*.json")} - keys_used
    assert not orphans, f"form definitions no task uses: {orphans}"
    # lanes as SpiffWorkflow sees them, including tasks inside embedded sub-processes and loop instances
    specs = dict(parser.get_subprocess_specs("dispute"))
    specs["dispute"] = parser.get_spec("dispute")
    for name, spec in specs.items():
        for ts in spec.task_specs.values():
            if getattr(ts, "manual", False):
                assert ts.lane is not None, f"{name}:{ts.name} lies in no lane"
                assert role_for_lane(ts.lane) is not None, f"{name}:{ts.name} lane {ts.lane!r} maps to no role"


def test_real_validator_says_ok_for_every_file() -> None:
    """``fengqiao validate bpmn/`` in-process: the real validator with the shipped form definitions
    gives every diagram and the decision table the verdict ``ok``."""
    from forms.definition import load_directory
    from workflows.validation import validate_paths

    verdicts = validate_paths([str(BPMN_DIR)], form_keys=set(load_directory(FORMS_DIR)))
    assert {Path(v.path).name: v.line() for v in verdicts} == {
        p.name: "ok" for p in [*BPMN_FILES, BPMN_DIR / "risk.dmn"]}


def test_cli_validate_prints_ok_for_every_file() -> None:
    from click.testing import CliRunner

    from web.cli import cli

    result = CliRunner().invoke(cli, ["validate", str(BPMN_DIR), "--forms", str(FORMS_DIR)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == len(BPMN_FILES) + 1 and all(line.endswith(": ok") for line in lines), lines


@pytest.mark.parametrize("breakage", ["form", "lane"])
def test_real_validator_refuses_a_task_without_form_or_role(tmp_path: Path, breakage: str) -> None:
    """The walk is real: drop a form, or rename a lane to something that is no role, and the
    validator refuses the diagram naming the task."""
    from forms.definition import load_directory
    from workflows.validation import validate_paths

    keys = set(load_directory(FORMS_DIR))
    for path in [*BPMN_FILES, BPMN_DIR / "risk.dmn"]:
        text = path.read_text("utf-8")
        if path.name == "mediation.bpmn" and breakage == "lane":
            text = text.replace('name="调解员"', 'name="访客"')
        (tmp_path / path.name).write_text(text, "utf-8")
    if breakage == "form":
        keys.discard("investigation")
    verdicts = {Path(v.path).name: v for v in validate_paths([str(tmp_path)], form_keys=keys)}
    bad = verdicts["mediation.bpmn"]
    assert bad.status != "ok" and "investigation" in bad.line(), bad.line()
    assert verdicts["intake.bpmn"].status == "ok"


@pytest.mark.parametrize("path", BPMN_FILES, ids=lambda p: p.name)
def test_every_lane_maps_to_a_role(path: Path) -> None:
    for lane in xml(path).xpath("//bpmn:lane", namespaces=NS):
        assert role_for_lane(lane.get("name")) is not None, lane.get("name")


@pytest.mark.parametrize("path", BPMN_FILES, ids=lambda p: p.name)
def test_every_gateway_has_a_default_or_conditions(path: Path) -> None:
    tree = xml(path)
    flows = {f.get("id"): f for f in tree.xpath("//bpmn:sequenceFlow", namespaces=NS)}
    for gw in tree.xpath("//bpmn:exclusiveGateway | //bpmn:inclusiveGateway", namespaces=NS):
        outgoing = [o.text for o in gw.xpath("bpmn:outgoing", namespaces=NS)]
        if len(outgoing) < 2:
            continue
        conditional = [f for f in outgoing if flows[f].xpath("bpmn:conditionExpression", namespaces=NS)]
        assert gw.get("default") in outgoing, f"{path.name}:{gw.get('id')} has no default flow"
        assert len(conditional) == len(outgoing) - 1, f"{path.name}:{gw.get('id')}"


@pytest.mark.parametrize("path", BPMN_FILES, ids=lambda p: p.name)
def test_diagram_interchange_is_complete_and_shapes_do_not_overlap(path: Path) -> None:
    tree = xml(path)
    shapes = {s.get("bpmnElement"): s for s in tree.xpath("//bpmndi:BPMNShape", namespaces=NS)}
    edges = {e.get("bpmnElement") for e in tree.xpath("//bpmndi:BPMNEdge", namespaces=NS)}
    nodes = tree.xpath("//bpmn:process//*[bpmn:incoming or bpmn:outgoing or self::bpmn:startEvent]", namespaces=NS)
    for n in nodes:
        assert n.get("id") in shapes, f"{path.name}: no shape for {n.get('id')}"
    for f in tree.xpath("//bpmn:sequenceFlow", namespaces=NS):
        assert f.get("id") in edges, f"{path.name}: no edge for {f.get('id')}"
    for lane in tree.xpath("//bpmn:lane", namespaces=NS):
        assert lane.get("id") in shapes

    def box(el_id):
        b = shapes[el_id].xpath("dc:Bounds", namespaces=NS)[0]
        return tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))

    node_ids = [n.get("id") for n in nodes]
    parents = {n.get("id"): n.getparent().get("id") for n in nodes}
    hosts = {b.get("id"): b.get("attachedToRef") for b in tree.xpath("//bpmn:boundaryEvent", namespaces=NS)}
    for i, a in enumerate(node_ids):
        ax, ay, aw, ah = box(a)
        assert ax >= 0 and ay >= 0
        for b in node_ids[i + 1:]:
            if hosts.get(a) == b or hosts.get(b) == a or parents.get(a) == b or parents.get(b) == a:
                continue
            bx, by, bw, bh = box(b)
            overlap = ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah
            assert not overlap, f"{path.name}: {a} overlaps {b}"


def _names(code: str, mode: str) -> tuple[set[str], set[str]]:
    tree = ast.parse(code, mode=mode)
    read, written = set(), set()
    for node in ast.walk(tree):
        assert not isinstance(node, (ast.Import, ast.ImportFrom)), code
        if isinstance(node, ast.Name):
            assert not node.id.startswith("_") and node.id != "format", code
            (written if isinstance(node.ctx, ast.Store) else read).add(node.id)
        if isinstance(node, ast.Attribute):
            assert not node.attr.startswith("_") and node.attr != "format", code
    return read, written


def test_expressions_are_sandbox_compatible_and_read_known_variables() -> None:
    """No imports, no underscore names, no format; every variable read is set by a form, script, DMN or runtime."""
    form_fields = {f["name"] for p in FORMS_DIR.glob("*.json") for f in json.loads(p.read_text("utf-8"))["fields"]}
    dmn_outputs = {"risk_colour", "recommended_level", "police_alert"}
    written_all, reads = set(), []
    for path in BPMN_FILES:
        for where, mode, text in expressions(xml(path)):
            read, written = _names(text.strip(), mode)
            written_all |= written
            reads.append((path.name, where, read))
    runtime = {"clocks", "level", "current_level", "case_number", "category"}  # start data (start_case)
    known = form_fields | dmn_outputs | written_all | HELPERS | runtime | {"str", "int", "True", "False", "None"}
    for name, where, read in reads:
        assert read <= known, f"{name}:{where} reads unknown {read - known}"
    try:
        from RestrictedPython import compile_restricted
    except ImportError:  # pragma: no cover - RestrictedPython is a runtime dependency
        return
    for path in BPMN_FILES:
        for where, mode, text in expressions(xml(path)):
            compile_restricted(text.strip(), "<bpmn>", mode)
    for cell in xml(BPMN_DIR / "risk.dmn").xpath("//dmn:text/text()", namespaces=NS):
        cell = cell.strip()
        if cell == "-":
            continue
        code = cell.replace("?", "value") if "?" in cell else (f"value {cell}" if cell[0] in "<>=!" else cell)
        _names(code, "eval")
        compile_restricted(code, "<dmn>", "eval")


def test_confirmed_clocks_are_timers_with_period_and_article() -> None:
    timers = {}
    for path in BPMN_FILES:
        for ev in xml(path).xpath("//*[bpmn:timerEventDefinition]", namespaces=NS):
            timers[ev.get("id")] = (ev.get("name"), ev.xpath("string(bpmn:documentation)", namespaces=NS))
    for tid, (period, article) in CONFIRMED_TIMERS.items():
        name, doc = timers[tid]
        assert period in name and article in doc, tid
        assert "[C]" in doc
    for tid in LOCAL_RULE_TIMERS:
        name, doc = timers[tid]
        assert "地方规则" in name and "local rule" in doc.lower(), tid


def test_clocks_json() -> None:
    clocks = json.loads((BPMN_DIR / "clocks.json").read_text("utf-8"))
    for key, c in clocks.items():
        assert set(c) >= {"value", "unit", "source", "confidence", "label_zh", "label_en"}, key
        assert c["confidence"] in {"R", "U"}, key  # confirmed clocks are in the diagrams, not configurable
        assert c["unit"] in {"days", "working_days"}
        assert isinstance(c["value"], int) and c["value"] > 0
    init = xml(BPMN_DIR / "dispute.bpmn").xpath("string(//bpmn:scriptTask[@id='init_case']/bpmn:script)", namespaces=NS)
    for key in clocks:
        assert f"'{key}'" in init, key


@pytest.mark.parametrize("path", sorted(FORMS_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_form_definition_shape(path: Path) -> None:
    d = json.loads(path.read_text("utf-8"))
    assert d["key"] == path.stem
    for k in ("title", "instructions"):
        assert d[k]["zh"] and d[k]["en"]
    assert d["legal_hint"]["zh"] and d["legal_hint"]["en"] and d["legal_hint"]["article"]
    if "confirm" in d:
        assert d["confirm"]["zh"] and d["confirm"]["en"]
    seen = []
    for f in d["fields"]:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", f["name"]), f["name"]
        assert f["name"] not in seen
        assert f["type"] in FIELD_TYPES
        assert f["label"]["zh"] and f["label"]["en"]
        assert isinstance(f["required"], bool)
        if f["type"] in ("choice", "multichoice"):
            assert f["choices"] and all(c["label"]["zh"] and c["label"]["en"] for c in f["choices"])
        if "visible_if" in f:
            assert f["visible_if"]["field"] in seen
        seen.append(f["name"])


def test_confirm_dialogs_on_irreversible_steps() -> None:
    for path in BPMN_FILES:
        for task in user_tasks(xml(path)):
            props = properties(task)
            form = json.loads((FORMS_DIR / f"{props['formKey']}.json").read_text("utf-8"))
            if props.get("caseAction") or props["formKey"] in {"sign_agreement", "police_agreement",
                                                                "termination_notice"}:
                assert "confirm" in form, props["formKey"]


# ======================================================================================== engine walks
def test_route_table_covers_the_issue() -> None:
    assert len({r.name for r in ROUTES}) == len(ROUTES)
    assert {r.outcome for r in ROUTES} <= OUTCOMES
    assert OUTCOMES <= {r.outcome for r in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_route(parser: SpiffBpmnParser, route: Route) -> None:
    with moved_clock() as clock:
        wf, trail = drive(parser, route, clock)
    assert wf.is_completed(), [t.task_spec.bpmn_id for t in ready_user_tasks(wf)]
    data = wf.data
    assert data["outcome"] == route.outcome
    assert data["closing_level"] == route.level
    assert data["case_closed"] is True
    for key, value in route.expect.items():
        assert data.get(key) == value, (key, data.get(key))
    lanes = dict(trail)
    for task_id, lane in route.lanes.items():
        assert lanes[task_id] == lane, task_id
    # every step was consumed by a user task or a pseudo-step, nothing left behind
    assert len(trail) == len([s for s in route.steps if s[0] not in (ADVANCE_CLOCK, SIGNAL)])


def _walk_until(parser, clock, steps):
    from bpmn_routes import resolve

    wf = start_workflow(parser, clock)
    for name, data in steps:
        task = next(t for t in ready_user_tasks(wf) if t.task_spec.bpmn_id == name)
        task.data.update(resolve(data, clock.today()))
        task.run()
        wf.do_engine_steps()
    return wf


def clock_day(clock, n: int) -> str:
    from datetime import timedelta

    return (clock.today() + timedelta(days=n)).isoformat()


def test_judicial_confirmation_deadline_fires_when_the_clock_moves(parser: SpiffBpmnParser) -> None:
    from bpmn_routes import FINALIZE, INTO_MEDIATION, session, sign

    with moved_clock() as clock:
        wf = _walk_until(parser, clock, [*INTO_MEDIATION, session("written_agreement"), FINALIZE, sign(True)])
        assert [t.task_spec.bpmn_id for t in ready_user_tasks(wf)] == ["judicial_confirmation_pack"]
        events = {e.name: e.value for e in wf.waiting_events()}
        # the runtime shows these countdowns: name -> due time (ISO, +08:00)
        assert events["司法确认申请期限（30日）"].startswith(clock_day(clock, 30))
        assert events["司法确认期限预警（第20日·设计值）"].startswith(clock_day(clock, 20))
        clock.advance(days=21)
        wf.refresh_timers()
        wf.do_engine_steps()
        assert [t.task_spec.bpmn_id for t in ready_user_tasks(wf)] == ["judicial_confirmation_pack"]
        clock.advance(days=10)
        wf.refresh_timers()
        wf.do_engine_steps()
        task = ready_user_tasks(wf)[0]  # pack cancelled; the performance deadline (day 30) has passed too
        assert task.task_spec.bpmn_id == "return_visit"
        assert task.data["jc_result"] == "deadline_missed"
        assert task.data["judicial_confirmation_warning"] is True


def test_police_three_working_day_clock_counts_as_failure(parser: SpiffBpmnParser) -> None:
    from bpmn_routes import INTO_POLICE, police_eligibility

    with moved_clock() as clock:
        wf = _walk_until(parser, clock, [*INTO_POLICE, police_eligibility()])
        assert [t.task_spec.bpmn_id for t in ready_user_tasks(wf)] == ["police_session"]
        clock.advance(days=6)  # 3 working days always pass within 6 calendar days (no holidays)
        wf.refresh_timers()
        wf.do_engine_steps()
        assert [t.task_spec.bpmn_id for t in ready_user_tasks(wf)] == ["punishment_decision"]


def test_mediation_target_reminder_does_not_interrupt(parser: SpiffBpmnParser) -> None:
    from bpmn_routes import INTO_MEDIATION, session

    with moved_clock() as clock:
        wf = _walk_until(parser, clock, [*INTO_MEDIATION, session("continue")])
        clock.advance(days=31)
        wf.refresh_timers()
        wf.do_engine_steps()
        ready = ready_user_tasks(wf)
        assert [t.task_spec.bpmn_id for t in ready] == ["mediation_session"]
        flagged = [t for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id == "flag_mediation_overdue"]
        assert flagged and flagged[0].data["mediation_overdue"] is True


def test_transfer_at_county_level_is_refused(parser: SpiffBpmnParser) -> None:
    from bpmn_routes import INTO_MEDIATION, INVESTIGATE, session, transfer

    with moved_clock() as clock:
        wf = _walk_until(parser, clock, [*INTO_MEDIATION, session("transfer_upward"), transfer(), INVESTIGATE,
                                         session("transfer_upward"), transfer(), INVESTIGATE,
                                         session("transfer_upward")])
        assert [t.task_spec.bpmn_id for t in ready_user_tasks(wf)] == ["termination_notice"]


def test_level_comes_from_the_runtime(parser: SpiffBpmnParser) -> None:
    """A case the runtime starts at town level (its org unit is a town) is mediated at town: no
    transfer to town, and one transfer up reaches the county, as the runtime's org tree does."""
    from bpmn_routes import (
        ASSIGN,
        INVESTIGATE,
        RIGHTS,
        acceptability,
        application,
        lead,
        resolve,
        session,
        transfer,
    )

    with moved_clock() as clock:
        wf = start_workflow(parser, clock, {"level": "town", "current_level": "town"})
        for name, data in [lead(), application(), acceptability(), RIGHTS, ASSIGN, INVESTIGATE,
                           session("transfer_upward"), transfer(), INVESTIGATE, session("transfer_upward")]:
            task = next(t for t in ready_user_tasks(wf) if t.task_spec.bpmn_id == name)
            task.data.update(resolve(data, clock.today()))
            task.run()
            wf.do_engine_steps()
            if name == "transfer_upward":
                assert task.data["current_level"] == "county"
        # at county a further transfer is refused: the mediation ends with a termination notice
        assert [t.task_spec.bpmn_id for t in ready_user_tasks(wf)] == ["termination_notice"]
