"""Verdicts for valid, not-executable, broken and hostile diagrams."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

from workflows import validation
from workflows.expressions import check_expressions, dmn_entry_python, iter_code
from workflows.parsing import load_bundle
from workflows.sandbox import SandboxError, make_script_engine
from workflows.validation import validate_bundle, validate_paths

DATA = Path(__file__).resolve().parents[1] / "data"
BUNDLE = DATA / "bundle"
HOSTILE = DATA / "hostile"
PWNED = Path("/tmp/fengqiao-pwned")  # what the hostile scripts try to create


def bundle_files(**replace: tuple[str, str]) -> dict[str, bytes]:
    """The fixture bundle, with ``file=(old, new)`` text replacements applied."""
    files = {p.name: p.read_text(encoding="utf-8") for p in BUNDLE.iterdir()}
    for name, (old, new) in replace.items():
        key = name.replace("_", ".")
        assert old in files[key], (key, old)
        files[key] = files[key].replace(old, new)
    return {k: v.encode("utf-8") for k, v in files.items()}


def verdicts(files: dict[str, bytes], form_keys=None) -> dict[str, validation.Verdict]:
    return {v.path: v for v in validate_bundle(files, form_keys)}


def test_good_bundle_is_ok():
    result = verdicts(bundle_files())
    assert {k: v.line() for k, v in result.items()} == {
        "case.bpmn": "ok", "followup.bpmn": "ok", "severity.dmn": "ok"}
    assert result["case.bpmn"].process_ids == ["case_flow"]
    assert json.loads(json.dumps(result["case.bpmn"].to_json()))["status"] == "ok"


def test_validate_paths_bundles_a_directory():
    result = validate_paths([str(BUNDLE)])
    assert sorted(Path(v.path).name for v in result) == ["case.bpmn", "followup.bpmn", "severity.dmn"]
    assert all(v.status == "ok" for v in result)


def test_missing_forms_make_a_task_not_executable():
    result = verdicts(bundle_files(), form_keys={"intake_form", "visit"})
    assert result["case.bpmn"].line() == (
        "not executable: user task legal_review has no form (form key 'legal_review')")
    assert result["followup.bpmn"].line() == "ok"


def test_broken_condition_is_an_error_with_file_line_and_element():
    files = bundle_files(case_bpmn=('severity == "high" and', 'severity == "high" and and'))
    line = verdicts(files)["case.bpmn"].line()
    assert line.startswith("error: case.bpmn:57: f_legal: condition: syntax error")


def test_dunder_in_a_script_is_an_error():
    files = bundle_files(case_bpmn=("waiting = days_between", "waiting = ().__class__ or days_between"))
    line = verdicts(files)["case.bpmn"].line()
    assert line.startswith("error: case.bpmn:") and ": set_deadline: script:" in line
    assert "__class__" in line


def test_lane_without_role_is_not_executable():
    files = bundle_files(case_bpmn=('name="Lawyer"', 'name="Janitor"'))
    assert verdicts(files)["case.bpmn"].line() == (
        "not executable: user task legal_review is in lane 'Janitor', which maps to no role")


def test_user_task_without_lanes_is_not_executable():
    text = (BUNDLE / "case.bpmn").read_text(encoding="utf-8")
    start, end = text.index("<bpmn:laneSet"), text.index("</bpmn:laneSet>") + len("</bpmn:laneSet>")
    files = bundle_files()
    files["case.bpmn"] = (text[:start] + text[end:]).encode()
    assert verdicts(files)["case.bpmn"].line() == (
        "not executable: user task intake has no lane; user task legal_review has no lane")


def test_task_outside_every_lane_is_not_executable():
    files = bundle_files(case_bpmn=("<bpmn:flowNodeRef>legal_review</bpmn:flowNodeRef>", ""))
    assert verdicts(files)["case.bpmn"].line() == "not executable: user task legal_review lies in no lane"


@pytest.mark.parametrize("timer, reason", [
    ("P5D", "timer review_timer: 'P5D' must be a quoted string such as \"P5D\""),
    ('"P5X"', "timer review_timer: 'P5X' is not a valid ISO 8601 duration"),
    ("", "timer review_timer has no timeDuration expression"),
    ("iso_duration_days(", "timer review_timer: the expression is not valid"),
])
def test_bad_timers_are_not_executable(timer, reason):
    files = bundle_files(case_bpmn=('"P5D"', timer))
    line = verdicts(files)["case.bpmn"].line()
    assert line.startswith("not executable: ") and reason in line


def test_dynamic_timer_expression_is_fine():
    files = bundle_files(case_bpmn=('"P5D"', "iso_duration_days(5)"))
    assert verdicts(files)["case.bpmn"].line() == "ok"


def test_non_executable_process():
    files = bundle_files(followup_bpmn=('isExecutable="true"', 'isExecutable="false"'))
    result = verdicts(files)
    assert result["followup.bpmn"].line() == 'not executable: no process is marked isExecutable="true"'
    assert result["case.bpmn"].status == "not_executable"
    assert "followup_flow" in result["case.bpmn"].line()


def test_missing_called_process_is_not_executable():
    files = bundle_files()
    del files["followup.bpmn"]
    line = verdicts(files)["case.bpmn"].line()
    assert line.startswith("not executable: ") and "followup_flow" in line and "not found" in line


def test_unsupported_element_is_not_executable():
    files = bundle_files(case_bpmn=("<bpmn:exclusiveGateway id=\"route\"", "<bpmn:complexGateway id=\"route\""))
    files["case.bpmn"] = files["case.bpmn"].replace(b"</bpmn:exclusiveGateway>", b"</bpmn:complexGateway>")
    line = verdicts(files)["case.bpmn"].line()
    assert line.startswith("not executable: ") and "complexGateway route is not supported" in line


def test_foreign_expression_language_is_not_executable():
    files = bundle_files(case_bpmn=('severity == "high" and claim_amount &gt; 10000', "${severity == 'high'}"))
    line = verdicts(files)["case.bpmn"].line()
    assert line == "not executable: condition of f_legal looks like a JUEL expression (\"${severity == 'high'}\"); only Python is supported"


# ------------------------------------------------------------------ DMN

@pytest.mark.parametrize("entry, python", [
    ('"red"', '(color) == ("red")'),
    ("&gt; 3", "color> 3"),
    ('? in ("a", "b")', 'dmninputexpr in ("a", "b")'),
])
def test_dmn_entries_compile_like_the_engine(entry, python):
    assert dmn_entry_python("color", entry.replace("&gt;", ">")) == python


def test_dmn_entry_the_engine_would_glue_is_refused():
    with pytest.raises(SandboxError, match="not a comparison"):
        dmn_entry_python("color", 'in ("a", "b")')
    assert dmn_entry_python("color ", 'in ("a", "b")') == 'color in ("a", "b")'
    with pytest.raises(SandboxError, match="neither a value nor a comparison"):
        dmn_entry_python("color", "= = 3")


def test_dmn_entries_are_checked_in_a_bundle():
    files = bundle_files(severity_dmn=("<text>&gt; 10000</text>", "<text>in (1, 2)</text>"))
    line = verdicts(files)["severity.dmn"].line()
    assert line.startswith("error: severity.dmn:") and ": r2_amount: dmn input entry:" in line
    files = bundle_files(severity_dmn=('<text>"low"</text>', "<text>'low' +</text>"))
    assert verdicts(files)["severity.dmn"].status == "error"


def test_check_expressions_covers_every_kind():
    bundle = load_bundle({k: v for k, v in bundle_files().items()})
    kinds = {item.kind for item in iter_code(bundle)}
    assert {"condition", "script", "post_script", "timer", "dmn_input", "dmn_input_entry",
            "dmn_output_entry"} <= kinds
    assert check_expressions(bundle) == []


# ------------------------------------------------------------------ robustness

def test_internal_errors_become_a_verdict(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(validation, "deployability_problems", boom)
    result = verdicts(bundle_files())
    assert result["case.bpmn"].line() == "error: case.bpmn: internal validator error: RuntimeError: boom"


NS = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'


def generated(body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="d" targetNamespace="x">'
            f'{body}</bpmn:definitions>').encode()


def test_generated_huge_and_deep_files_get_a_bounded_verdict():
    tasks = "".join(f'<bpmn:task id="t{i}"/>' for i in range(10_000))
    deep = "<bpmn:documentation>" + "<x:a xmlns:x='urn:x'>" * 300 + "</x:a>" * 300 + "</bpmn:documentation>"
    started = time.monotonic()
    result = verdicts({
        "huge.bpmn": generated(f'<bpmn:process id="big" isExecutable="true">{tasks}</bpmn:process>'),
        "deep.bpmn": generated(deep),
    })
    assert time.monotonic() - started < 3
    assert result["huge.bpmn"].line().startswith("error: huge.bpmn:")
    assert "more than 5,000 flow elements" in result["huge.bpmn"].line()
    assert "nested deeper than 256 levels" in result["deep.bpmn"].line()


def test_missing_path_is_an_error():
    (result,) = validate_paths(["no/such/file.bpmn"])
    assert result.line() == "error: no/such/file.bpmn: no such file"


# ------------------------------------------------------------------ hostile files

@pytest.mark.parametrize("name, message", [
    ("billion_laughs.bpmn", "DOCTYPE and ENTITY declarations are not allowed"),
    ("xxe_file.bpmn", "DOCTYPE and ENTITY declarations are not allowed"),
    ("xxe_http.bpmn", "DOCTYPE and ENTITY declarations are not allowed"),
    ("import_os.bpmn", '"__import__" is an invalid variable name'),
    ("import_statement.bpmn", "import statements are not allowed"),
    ("dunder_traversal.bpmn", "invalid attribute name"),
    ("format_trick.bpmn", "'.format' is not allowed"),
    ("open_file.bpmn", "'open' is not available"),
    ("non_utf8.bpmn", "not valid UTF-8"),
    ("empty.bpmn", "the file is empty"),
])
def test_hostile_files_are_refused_by_validation(name, message):
    started = time.monotonic()
    (verdict,) = validate_paths([str(HOSTILE / name)])
    assert verdict.status == "error" and message in verdict.line()
    assert time.monotonic() - started < 2
    assert not PWNED.exists()


@pytest.mark.parametrize("name, message", [
    ("import_os.bpmn", "__import__"),
    ("import_statement.bpmn", "import statements are not allowed"),
    ("dunder_traversal.bpmn", "invalid attribute name"),
    ("format_trick.bpmn", "'.format' is not allowed"),
    ("open_file.bpmn", "'open' is not available"),
    ("infinite_loop.bpmn", "script exceeded the 0.3 s time limit"),
    ("huge_allocation.bpmn", "multiplication would create a sequence of 10000000000 items"),
])
def test_hostile_scripts_are_refused_by_the_engine_too(name, message):
    bundle = load_bundle({name: (HOSTILE / name).read_bytes()})
    spec, subs = bundle.specs(bundle.process_ids[0])
    wf = BpmnWorkflow(spec, subs, script_engine=make_script_engine(time_limit=0.3))
    wf.get_tasks()[0].data["case_id"] = 1
    with pytest.raises(WorkflowTaskException) as info:
        wf.do_engine_steps()
    assert message in str(info.value)
    assert info.value.task.task_spec.bpmn_id == "run_script"
    assert not PWNED.exists()


def test_ids_and_names_too_long_to_store_are_not_executable():
    """A running case stores the process id as its stage (40 characters), a task's name in its row
    (200), a lane name (100): a diagram whose texts do not fit is refused at deploy, naming each."""
    long_process = "p" * 41
    files = bundle_files(case_bpmn=('id="case_flow"', f'id="{long_process}"'))
    assert verdicts(files)["case.bpmn"].line() == (
        f"not executable: the id (a stage of the case while its tasks are open) of {long_process} is 41 "
        "characters long; at most 40 can be stored")
    long_name, long_lane = "审" * 201, "Lawyer " + "x" * 100
    files = bundle_files(case_bpmn=('name="Legal review"', f'name="{long_name}"'))
    files["case.bpmn"] = files["case.bpmn"].replace(b'name="Lawyer"', f'name="{long_lane}"'.encode())
    line = verdicts(files)["case.bpmn"].line()
    assert "the name of legal_review is 201 characters long; at most 200 can be stored" in line
    assert "the lane name of legal_review is 107 characters long; at most 100 can be stored" in line


def test_an_embedded_subprocess_and_an_inherited_lane_are_checked_too():
    """A task inside an embedded subprocess runs in a workflow named by the subprocess's id (stored
    as its process id and the case's stage) and in the lane of the subprocess."""
    from lxml import etree

    from workflows.validation_rules import executable_processes, stored_text_problems

    text = (Path(__file__).resolve().parents[2] / "bpmn" / "closure.bpmn").read_text(encoding="utf-8")
    long_id, long_lane = "return_visits_" + "v" * 46, "调解员" + "员" * 100
    text = text.replace("return_visits", long_id).replace('name="调解员"', f'name="{long_lane}"')
    root = etree.fromstring(text.encode())
    found = [p.message for process in executable_processes(root)
             for p in stored_text_problems("closure.bpmn", root, process)]
    assert (f"the id (a stage of the case while its tasks are open) of {long_id} is 60 characters long; "
            "at most 40 can be stored") in found
    assert "the lane name of return_visit is 103 characters long; at most 100 can be stored" in found
    plain = (Path(__file__).resolve().parents[2] / "bpmn" / "closure.bpmn").read_bytes()
    root = etree.fromstring(plain)
    assert [p for process in executable_processes(root) for p in stored_text_problems("c", root, process)] == []
