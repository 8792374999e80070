"""Tests for forms.render: the per-field dicts handed to templates."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

import forms.schema as schema_mod
from forms import render as r
from forms.definition import FormDefinition, load_definition
from forms.schema import validate_submission


def L(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


DEFN: FormDefinition = load_definition(
    {
        "key": "intake_register",
        "title": L("登记调解申请", "Register the application"),
        "instructions": L("请如实填写。", "Fill in truthfully."),
        "legal_hint": {**L("可以申请调解。", "You may apply."), "article": "《人民调解法》第十七条"},
        "confirm": L("签署后不可撤回，确认？", "Signing cannot be undone. Continue?"),
        "fields": [
            {"name": "case_no", "type": "text", "label": L("案号", "Case no."), "readonly": True},
            {"name": "applicant_name", "type": "text", "label": L("申请人姓名", "Applicant's name"),
             "help": L("与身份证一致", "As on the ID card"), "required": True, "max_length": 50,
             "placeholder": L("张三", "Zhang San")},
            {"name": "category", "type": "choice", "label": L("纠纷类型", "Category"), "required": True,
             "default": "neighbour",
             "choices": [{"value": "neighbour", "label": L("邻里纠纷", "Neighbour dispute")},
                         {"value": "other", "label": L("其他", "Other")}]},
            {"name": "details", "type": "textarea", "label": L("详情", "Details"),
             "visible_if": {"field": "category", "equals": "other"}},
            {"name": "signals", "type": "multichoice", "label": L("风险信号", "Signals"),
             "choices": [{"value": "violence", "label": L("暴力", "Violence")},
                         {"value": "threat", "label": L("威胁", "Threat")}]},
            {"name": "urgent", "type": "boolean", "label": L("紧急", "Urgent")},
            {"name": "urgent_note", "type": "text", "label": L("说明", "Note"),
             "visible_if": {"field": "urgent", "equals": True}},
            {"name": "count", "type": "integer", "label": L("人数", "People"), "min": 1, "max": 99},
            {"name": "incident_on", "type": "date", "label": L("日期", "Date"), "max": "today"},
            {"name": "meeting_at", "type": "datetime", "label": L("时间", "Time")},
            {"name": "amount", "type": "money", "label": L("金额", "Amount")},
            {"name": "parties", "type": "parties", "label": L("当事人", "Parties"), "min_items": 2},
            {"name": "evidence", "type": "evidence", "label": L("证据", "Evidence")},
        ],
    }
)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_mod, "today", lambda: date(2024, 6, 15))
    monkeypatch.setattr(r, "today", lambda: date(2024, 6, 15))


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def test_texts_in_both_languages() -> None:
    assert r.title(DEFN, "zh") == "登记调解申请"
    assert r.title(DEFN, "en") == "Register the application"
    assert r.instructions(DEFN, "en") == "Fill in truthfully."
    assert r.legal_hint(DEFN, "zh") == {"text": "可以申请调解。", "article": "《人民调解法》第十七条"}
    assert r.confirm_text(DEFN, "en") == "Signing cannot be undone. Continue?"
    bare = load_definition({"key": "b", "title": L("表", "Form"), "fields": []})
    assert r.instructions(bare, "zh") is None
    assert r.legal_hint(bare, "zh") is None
    assert r.confirm_text(bare, "zh") is None


def test_empty_form_uses_defaults_and_has_all_keys() -> None:
    items = r.render_fields(DEFN, "zh")
    assert [i["name"] for i in items] == list(DEFN.field_names)
    f = by_name(items)
    name = f["applicant_name"]
    assert name["label"] == "申请人姓名" and name["help"] == "与身份证一致" and name["placeholder"] == "张三"
    assert name["required"] is True and name["input_type"] == "text"
    assert name["attrs"] == {"maxlength": 50}
    assert name["value"] == "" and name["errors"] == [] and name["visible_if"] is None
    assert f["category"]["value"] == "neighbour"
    assert f["category"]["choices"] == [
        {"value": "neighbour", "label": "邻里纠纷", "selected": True},
        {"value": "other", "label": "其他", "selected": False},
    ]
    assert f["details"]["visible"] is False
    assert f["case_no"]["readonly"] is True and f["case_no"]["attrs"]["readonly"] is True
    assert f["count"]["input_type"] == "number"
    assert f["count"]["attrs"] == {"step": 1, "min": 1, "max": 99}
    assert f["incident_on"]["attrs"] == {"max": "2024-06-15"}
    assert f["meeting_at"]["input_type"] == "datetime-local"
    assert f["amount"]["attrs"] == {"inputmode": "decimal"}
    assert f["urgent"]["input_type"] == "radio"
    assert [c["value"] for c in f["urgent"]["choices"]] == ["true", "false"]
    assert not any(c["selected"] for c in f["urgent"]["choices"])


def test_english_labels() -> None:
    f = by_name(r.render_fields(DEFN, "en"))
    assert f["category"]["label"] == "Category"
    assert f["category"]["choices"][0]["label"] == "Neighbour dispute"
    assert f["urgent"]["choices"][0]["label"] == "Yes"
    assert f["parties"]["columns"][0] == {"key": "role", "label": "Role", "input_type": "select", "required": True}


def test_visible_if_json_for_script() -> None:
    f = by_name(r.render_fields(DEFN, "zh"))
    assert json.loads(f["details"]["visible_if"]) == {
        "field": "category", "controller_type": "choice", "in": ["other"]
    }
    assert json.loads(f["urgent_note"]["visible_if"]) == {
        "field": "urgent", "controller_type": "boolean", "in": ["true"]
    }


def test_values_from_cleaned_data() -> None:
    values = {
        "case_no": "（2024）调字第1号",
        "applicant_name": "张三",
        "category": "other",
        "details": "详情",
        "signals": ["threat"],
        "urgent": True,
        "count": 3,
        "meeting_at": "2024-05-01T06:30:00+00:00",
        "amount": "6000.00",
        "parties": [{"role": "applicant", "name": "张三", "phone": None}],
    }
    f = by_name(r.render_fields(DEFN, "zh", values))
    assert f["case_no"]["value"] == "（2024）调字第1号" and f["case_no"]["display"] == "（2024）调字第1号"
    assert f["category"]["display"] == "其他"
    assert f["details"]["visible"] is True
    assert f["signals"]["values"] == ["threat"]
    assert [c["selected"] for c in f["signals"]["choices"]] == [False, True]
    assert f["signals"]["display"] == "威胁"
    assert f["urgent"]["value"] == "true" and f["urgent"]["display"] == "是"
    assert [c["selected"] for c in f["urgent"]["choices"]] == [True, False]
    assert f["urgent_note"]["visible"] is True
    assert f["count"]["value"] == "3"
    assert f["meeting_at"]["value"] == "2024-05-01T14:30"
    assert f["meeting_at"]["display"] == "2024-05-01 14:30"
    assert f["amount"]["value"] == "6000.00" and f["amount"]["display"] == "6,000.00 元"
    assert by_name(r.render_fields(DEFN, "en", values))["amount"]["display"] == "¥6,000.00"
    parties = f["parties"]
    assert parties["input_type"] == "rows"
    # one existing row, then blanks up to min_items=2 (which also leaves a spare row)
    assert [row["blank"] for row in parties["rows"]] == [False, True]
    first = {c["key"]: c for c in parties["rows"][0]["cells"]}
    assert first["name"]["name"] == "parties-0-name" and first["name"]["value"] == "张三"
    assert first["phone"]["value"] == "" and first["phone"]["input_type"] == "tel"
    assert [c["selected"] for c in first["role"]["choices"]] == [True, False, False]
    assert first["role"]["choices"][1]["label"] == "被申请人"
    assert f["parties"]["display"] == "申请人 / 张三"
    # no defaults for present keys; defaults still fill absent keys of stored data
    assert f["category"]["value"] == "other"


def test_list_fields_always_offer_an_empty_row() -> None:
    f = by_name(r.render_fields(DEFN, "zh"))
    assert len(f["parties"]["rows"]) == 2  # min_items
    assert len(f["evidence"]["rows"]) == 1
    evidence_row = f["evidence"]["rows"][0]
    assert evidence_row["index"] == 0 and evidence_row["blank"] is True
    assert [c["name"] for c in evidence_row["cells"]] == [
        "evidence-0-description", "evidence-0-provided_by", "evidence-0-kind"
    ]
    assert f["evidence"]["row_template"]["cells"][0]["name"] == "evidence-__index__-description"
    three = [{"description": f"证据{i}"} for i in range(3)]
    rows = by_name(r.render_fields(DEFN, "zh", {"evidence": three}))["evidence"]["rows"]
    assert [row["blank"] for row in rows] == [False, False, False, True]


def test_max_items_caps_spare_rows() -> None:
    defn = load_definition({"key": "m", "title": L("表", "Form"), "fields": [
        {"name": "evidence", "type": "evidence", "label": L("证据", "Evidence"), "max_items": 1}]})
    rows = r.render_fields(defn, "zh", {"evidence": [{"description": "x"}]})[0]["rows"]
    assert len(rows) == 1 and rows[0]["blank"] is False


def test_redisplay_of_posted_form_with_errors() -> None:
    posted = MultiDict(
        [
            ("applicant_name", ""), ("category", "other"), ("details", ""),
            ("signals", "violence"), ("signals", "threat"), ("urgent", "true"),
            ("count", "abc"), ("amount", "6,000"),
            ("parties-0-role", "applicant"), ("parties-0-name", "张三"), ("parties-0-phone", "123"),
            ("parties-1-role", "respondent"), ("parties-1-name", ""),
            ("_csrf_token", "t"), ("bogus", "1"),
        ]
    )
    _cleaned, errors = validate_submission(DEFN, posted, "zh")
    assert errors["applicant_name"] == ["此项为必填项。"]
    assert "parties.0.phone" in errors and "_schema" in errors
    assert "parties" not in errors  # item counts are checked once the items are valid
    f = by_name(r.render_fields(DEFN, "zh", posted, errors))
    assert f["applicant_name"]["errors"] == ["此项为必填项。"]
    assert f["count"]["value"] == "abc" and f["count"]["errors"]
    assert f["amount"]["value"] == "6,000"  # what the user typed
    assert f["category"]["value"] == "other" and f["details"]["visible"] is True
    assert f["signals"]["values"] == ["violence", "threat"]
    assert f["urgent_note"]["visible"] is True
    assert f["parties"]["errors"] == []
    assert len(f["parties"]["rows"]) == 2  # the blank second row was dropped; one spare
    row0 = {c["key"]: c for c in f["parties"]["rows"][0]["cells"]}
    assert row0["phone"]["value"] == "123" and row0["phone"]["errors"]
    assert row0["name"]["errors"] == []
    assert r.general_errors(DEFN, errors) == ["不接受以下字段：bogus。"]
    # a posted form gets no defaults: absent checkboxes stay unticked
    md = MultiDict([("applicant_name", "李四")])
    assert by_name(r.render_fields(DEFN, "zh", md))["category"]["value"] == ""


def test_row_level_errors() -> None:
    errors = {"parties.1": ["此项格式无效。"], "parties.1.name": ["此项为必填项。"]}
    rows = by_name(r.render_fields(DEFN, "zh", {"parties": [{"name": "甲"}, {}]}, errors))["parties"]["rows"]
    assert rows[1]["errors"] == ["此项格式无效。"]
    assert {c["key"]: c["errors"] for c in rows[1]["cells"]}["name"] == ["此项为必填项。"]


def test_general_errors() -> None:
    assert r.general_errors(DEFN, None) == []
    assert r.general_errors(DEFN, {"_schema": ["a"], "ghost.1": ["b"], "applicant_name": ["c"]}) == ["a", "b"]


def test_display_value_for_evidence_and_empty() -> None:
    field = DEFN.field("evidence")
    rows = [{"description": "借条", "provided_by": "张三", "kind": "document"}]
    assert r.display_value(field, rows, "zh") == "借条 / 张三 / 书证"
    assert r.display_value(field, rows, "en") == "借条 / 张三 / Document"
    assert r.display_value(DEFN.field("signals"), [], "zh") == ""
    assert r.display_value(DEFN.field("signals"), ["violence", "threat"], "en") == "Violence, Threat"
    assert r.display_value(DEFN.field("urgent"), False, "en") == "No"
