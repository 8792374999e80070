"""Tests for forms.definition: loading, checking and round-tripping definitions."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from forms.definition import (
    FieldDef,
    FormDefinition,
    FormDefinitionError,
    LegalHint,
    load_definition,
    load_directory,
)


def L(zh: str, en: str | None = None) -> dict[str, str]:
    return {"zh": zh, "en": en or zh}


FULL: dict[str, Any] = {
    "key": "intake_register",
    "title": {"zh": "登记调解申请", "en": "Register the application"},
    "instructions": {"zh": "请如实填写。", "en": "Fill in truthfully."},
    "legal_hint": {
        "zh": "当事人可以向人民调解委员会申请调解。",
        "en": "Parties may apply to a people's mediation committee.",
        "article": "《人民调解法》第十七条 / People's Mediation Law Art. 17",
    },
    "confirm": {"zh": "签署后不可撤回，确认？", "en": "Signing cannot be undone. Continue?"},
    "fields": [
        {
            "name": "applicant_name",
            "type": "text",
            "label": {"zh": "申请人姓名", "en": "Applicant's name"},
            "help": L("身份证上的姓名", "As on the ID card"),
            "required": True,
            "max_length": 50,
        },
        {
            "name": "category",
            "type": "choice",
            "label": L("纠纷类型", "Category"),
            "required": True,
            "choices": [
                {"value": "neighbour", "label": L("邻里纠纷", "Neighbour dispute")},
                {"value": "other", "label": L("其他", "Other")},
            ],
            "default": "neighbour",
        },
        {
            "name": "details",
            "type": "textarea",
            "label": L("详情", "Details"),
            "visible_if": {"field": "category", "equals": "other"},
        },
        {
            "name": "signals",
            "type": "multichoice",
            "label": L("风险信号", "Risk signals"),
            "choices": [
                {"value": "violence", "label": L("暴力", "Violence")},
                {"value": "threat", "label": L("威胁", "Threat")},
            ],
            "max_items": 2,
            "default": ["threat"],
        },
        {"name": "incident_on", "type": "date", "label": L("发生日期", "Date"), "max": "today", "min": "2000-01-01"},
        {"name": "urgent", "type": "boolean", "label": L("紧急", "Urgent"), "default": False},
        {
            "name": "urgent_reason",
            "type": "text",
            "label": L("原因", "Reason"),
            "visible_if": {"field": "urgent", "truthy": True},
            "placeholder": L("例如：有冲突", "e.g. conflict"),
        },
        {"name": "amount", "type": "money", "label": L("金额", "Amount"), "min": 0, "max": 100000000},
        {"name": "heads", "type": "integer", "label": L("人数", "People"), "min": 1, "max": 999},
        {"name": "meeting_at", "type": "datetime", "label": L("时间", "Time")},
        {"name": "parties", "type": "parties", "label": L("当事人", "Parties"), "min_items": 2},
        {"name": "evidence", "type": "evidence", "label": L("证据", "Evidence")},
        {"name": "case_no", "type": "text", "label": L("案号", "Case no."), "readonly": True},
        {
            "name": "note",
            "type": "text",
            "label": L("备注", "Note"),
            "visible_if": {"field": "signals", "in": ["violence", "threat"]},
        },
    ],
}


def base(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"key": "t", "title": L("表", "Form"), "fields": list(fields)}


def problems_of(data: Any, source: str = "forms/definitions/t.json") -> str:
    with pytest.raises(FormDefinitionError) as info:
        load_definition(data, source=source)
    return str(info.value)


def test_full_definition_loads() -> None:
    defn = load_definition(FULL)
    assert isinstance(defn, FormDefinition)
    assert defn.key == "intake_register"
    assert defn.title.get("zh") == "登记调解申请"
    assert defn.title.get("en-US") == "Register the application"
    assert isinstance(defn.legal_hint, LegalHint)
    assert defn.legal_hint.article and "第十七条" in defn.legal_hint.article
    assert defn.field_names[0] == "applicant_name"
    name = defn.field("applicant_name")
    assert isinstance(name, FieldDef)
    assert name.required and name.max_length == 50
    assert defn.field("details").effective_max_length == 5000
    assert defn.field("urgent_reason").effective_max_length == 200
    assert defn.field("category").choice_values == ("neighbour", "other")
    assert defn.field("amount").min_value == 0
    with pytest.raises(KeyError):
        defn.field("nope")


def test_round_trip_to_dict_is_identity() -> None:
    defn = load_definition(FULL)
    data = defn.to_dict()
    assert data == FULL
    assert load_definition(data) == defn
    again = load_definition(json.loads(defn.to_json()))
    assert again == defn
    assert "登记调解申请" in defn.to_json()  # not \\u-escaped


def test_definitions_are_frozen_and_hashable() -> None:
    defn = load_definition(FULL)
    with pytest.raises(AttributeError):
        defn.key = "x"  # type: ignore[misc]
    assert hash(defn) == hash(load_definition(copy.deepcopy(FULL)))


def test_accepts_json_text_and_bytes_with_bom() -> None:
    text = json.dumps(FULL, ensure_ascii=False)
    assert load_definition(text) == load_definition(FULL)
    assert load_definition(b"\xef\xbb\xbf" + text.encode()) == load_definition(FULL)


def test_invalid_json_reports_line_and_column() -> None:
    message = problems_of('{\n  "key": "t",\n  "title": oops\n}', source="defs/t.json")
    assert message.startswith("defs/t.json:")
    assert "line 3" in message and "column" in message


def test_unknown_type_names_source_and_field() -> None:
    message = problems_of(base({"name": "when", "type": "time", "label": L("时间")}))
    assert "forms/definitions/t.json: field 'when': unknown type 'time'" in message


def test_choice_without_choices() -> None:
    message = problems_of(base({"name": "kind", "type": "choice", "label": L("类")}))
    assert "field 'kind'" in message and "choices" in message
    message = problems_of(base({"name": "kind", "type": "multichoice", "label": L("类"), "choices": []}))
    assert "field 'kind'" in message and "non-empty 'choices'" in message


def test_visible_if_unknown_or_later_field() -> None:
    message = problems_of(
        base({"name": "a", "type": "text", "label": L("甲"), "visible_if": {"field": "ghost", "truthy": True}})
    )
    assert "field 'a'" in message and "'ghost'" in message and "does not exist" in message
    message = problems_of(
        base(
            {"name": "a", "type": "text", "label": L("甲"), "visible_if": {"field": "b", "equals": "x"}},
            {"name": "b", "type": "text", "label": L("乙")},
        )
    )
    assert "field 'a'" in message and "comes later" in message


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        ({"field": "c", "equals": "zzz"}, "is not a choice"),
        ({"field": "c"}, "exactly one"),
        ({"field": "c", "equals": "x", "truthy": True}, "exactly one"),
        ({"field": "c", "in": []}, "non-empty list"),
        ({"field": "c", "truthy": "yes"}, "true or false"),
        ({"field": "c", "when": 1, "equals": "x"}, "unknown key"),
        ({"field": "b2", "equals": "yes"}, "true or false"),
        ({"field": "a", "truthy": True}, "itself"),
        ("c", "must be an object"),
    ],
)
def test_visible_if_value_problems(condition: Any, fragment: str) -> None:
    message = problems_of(
        base(
            {"name": "c", "type": "choice", "label": L("丙"), "choices": [{"value": "x", "label": L("叉")}]},
            {"name": "b2", "type": "boolean", "label": L("布")},
            {"name": "a", "type": "text", "label": L("甲"), "visible_if": condition},
        )
    )
    assert "field 'a'" in message and fragment in message


def test_visible_if_on_readonly_or_rows_is_refused() -> None:
    message = problems_of(
        base(
            {"name": "r", "type": "text", "label": L("只读"), "readonly": True},
            {"name": "a", "type": "text", "label": L("甲"), "visible_if": {"field": "r", "equals": "x"}},
        )
    )
    assert "readonly field 'r'" in message
    message = problems_of(
        base(
            {"name": "p", "type": "parties", "label": L("人")},
            {"name": "a", "type": "text", "label": L("甲"), "visible_if": {"field": "p", "equals": "x"}},
        )
    )
    assert "supports only 'truthy'" in message


def test_duplicate_field_names() -> None:
    message = problems_of(
        base({"name": "a", "type": "text", "label": L("甲")}, {"name": "a", "type": "integer", "label": L("乙")})
    )
    assert "field 'a': duplicate field name" in message


@pytest.mark.parametrize("name", ["_secret", "1st", "has-dash", "with space", "class", "名字", "csrf_token"])
def test_bad_field_names(name: str) -> None:
    message = problems_of(base({"name": name, "type": "text", "label": L("甲")}))
    assert f"field '{name}'" in message
    assert "reserved" in message or "identifier" in message


@pytest.mark.parametrize(
    ("label", "missing"), [({"zh": "甲"}, "'en'"), ({"en": "A"}, "'zh'"), ({"zh": "", "en": "A"}, "'zh'"), ("甲", "object")]
)
def test_missing_label_language(label: Any, missing: str) -> None:
    message = problems_of(base({"name": "a", "type": "text", "label": label}))
    assert "field 'a'" in message and missing in message


def test_missing_title_language_and_bad_key() -> None:
    message = problems_of({"key": "Bad Key", "title": {"zh": "表"}, "fields": []})
    assert "'key' must be" in message and "'title' is missing the 'en' text" in message


@pytest.mark.parametrize(
    ("field", "fragment"),
    [
        ({"name": "a", "type": "text", "label": L("甲"), "requried": True}, "unknown key 'requried'"),
        ({"name": "a", "type": "text", "label": L("甲"), "min": 1}, "unknown key 'min'"),
        ({"name": "a", "type": "text", "label": L("甲"), "max_length": 0}, "'max_length' must be"),
        ({"name": "a", "type": "text", "label": L("甲"), "required": "yes"}, "'required' must be"),
        ({"name": "a", "type": "text", "label": L("甲"), "required": True, "readonly": True}, "readonly"),
        ({"name": "a", "type": "integer", "label": L("甲"), "min": 5, "max": 1}, "'min' is greater"),
        ({"name": "a", "type": "integer", "label": L("甲"), "min": "1"}, "'min' must be an integer"),
        ({"name": "a", "type": "date", "label": L("甲"), "max": "tomorrow"}, "'max' must be an ISO date"),
        ({"name": "a", "type": "date", "label": L("甲"), "min": "2024-13-01"}, "'min' must be"),
        ({"name": "a", "type": "money", "label": L("甲"), "max": "1.234"}, "more than 2 decimals"),
        ({"name": "a", "type": "money", "label": L("甲"), "max": "lots"}, "'max' must be a number"),
        ({"name": "a", "type": "parties", "label": L("甲"), "min_items": 3, "max_items": 2}, "'min_items' is greater"),
        ({"name": "a", "type": "boolean", "label": L("甲"), "default": "yes"}, "'default'"),
        (
            {"name": "a", "type": "choice", "label": L("甲"), "default": "z", "choices": [{"value": "x", "label": L("叉")}]},
            "'default'",
        ),
        (
            {
                "name": "a",
                "type": "choice",
                "label": L("甲"),
                "choices": [{"value": "x", "label": L("叉")}, {"value": "x", "label": L("叉")}],
            },
            "duplicate choice value",
        ),
        ({"name": "a", "type": "choice", "label": L("甲"), "choices": [{"value": "x", "label": {"zh": "叉"}}]}, "'en'"),
        ({"type": "text", "label": L("甲")}, "field '#1': 'name' is missing"),
    ],
)
def test_field_problems(field: dict[str, Any], fragment: str) -> None:
    message = problems_of(base(field))
    assert fragment in message
    assert message.startswith("forms/definitions/t.json: field ")


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(FormDefinitionError) as info:
        load_definition(
            base({"name": "a", "type": "nope", "label": L("甲")}, {"name": "b", "type": "choice", "label": L("乙")}),
            source="x.json",
        )
    assert [(p[0], p[1]) for p in info.value.problems] == [("x.json", "a"), ("x.json", "b")]
    assert info.value.source == "x.json"


def test_top_level_problems() -> None:
    assert "unknown key 'extra'" in problems_of({**base(), "extra": 1})
    assert "'fields' must be a list" in problems_of({"key": "t", "title": L("表")})
    assert "JSON object" in problems_of("[]")


def test_load_directory(tmp_path: Path) -> None:
    (tmp_path / "intake_register.json").write_text(json.dumps(FULL, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "t.json").write_text(json.dumps(base()), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    loaded = load_directory(tmp_path)
    assert sorted(loaded) == ["intake_register", "t"]
    assert loaded["intake_register"] == load_definition(FULL)


def test_load_directory_key_must_match_stem_and_collects_errors(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text(json.dumps(base()), encoding="utf-8")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(FormDefinitionError) as info:
        load_directory(tmp_path)
    message = str(info.value)
    assert "other.json: key 't' does not match the file name 'other'" in message
    assert "broken.json: invalid JSON at line 1" in message


def test_real_definitions_directory_loads() -> None:
    """The shared definitions (written by another engineer) must load cleanly."""
    directory = Path(__file__).resolve().parents[2] / "forms" / "definitions"
    if not any(directory.glob("*.json")):
        pytest.skip("no form definitions yet")
    assert load_directory(directory)
