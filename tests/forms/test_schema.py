"""Tests for forms.schema: validating JSON and HTML-form submissions."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict

import forms.schema as schema_mod
from forms.definition import FormDefinition, load_definition
from forms.schema import MESSAGES, build_schema, from_form_mapping, validate_submission

CJK = re.compile(r"[\u4e00-\u9fff]")


def L(zh: str, en: str | None = None) -> dict[str, str]:
    return {"zh": zh, "en": en or zh}


def C(*values: str) -> list[dict[str, Any]]:
    return [{"value": v, "label": L(v)} for v in values]


def form(*fields: dict[str, Any]) -> FormDefinition:
    return load_definition({"key": "t", "title": L("表", "Form"), "fields": list(fields)}, source="test")


def one(ftype: str, **extra: Any) -> FormDefinition:
    return form({"name": "f", "type": ftype, "label": L("字段", "Field"), **extra})


def make_id(prefix17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(prefix17, weights, strict=True))
    return prefix17 + "10X98765432"[total % 11]


VALID_ID = make_id("11010519491231002")
assert VALID_ID == "11010519491231002X"  # the well-known sample number


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_mod, "today", lambda: date(2024, 6, 15))


def check(defn: FormDefinition, value: Any, lang: str = "zh") -> tuple[Any, list[str] | None]:
    cleaned, errors = validate_submission(defn, {"f": value}, lang)
    for messages in errors.values():
        for text in messages:
            if lang == "zh":
                assert CJK.search(text), f"English leaked into zh: {text!r}"
            else:
                assert not CJK.search(text), f"Chinese leaked into en: {text!r}"
    return cleaned.get("f"), errors.get("f")


# (type, extra definition keys, valid [(input, cleaned)], invalid [(input, zh fragment, en fragment)])
CASES: list[tuple[str, dict[str, Any], list[tuple[Any, Any]], list[tuple[Any, str, str]]]] = [
    (
        "text",
        {"max_length": 5},
        [("  张三 ", "张三"), ("", None), (None, None)],
        [("张三李四王五", "最多 5 个字", "At most 5 characters"), ("a\nb", "不能换行", "single line"),
         (12, "请输入文字", "enter text"), ("a\x00", "控制字符", "control")],
    ),
    (
        "text",
        {},
        [("x" * 200, "x" * 200)],
        [("x" * 201, "最多 200 个字", "At most 200")],
    ),
    (
        "textarea",
        {"min_length": 2},
        [("第一行\r\n第二行", "第一行\n第二行"), ("y" * 5000, "y" * 5000)],
        [("y" * 5001, "最多 5000 个字", "At most 5000"), ("一", "至少 2 个字", "At least 2")],
    ),
    (
        "integer",
        {"min": 1, "max": 10},
        [(3, 3), ("7", 7), (" 10 ", 10), (4.0, 4), ("", None)],
        [("3.5", "整数", "whole number"), (True, "整数", "whole number"), (0, "不能小于 1", "at least 1"),
         ("11", "不能大于 10", "at most 10"), ([1], "整数", "whole number")],
    ),
    (
        "date",
        {"min": "2020-01-01", "max": "today"},
        [("2024-05-01", "2024-05-01"), (date(2024, 6, 15), "2024-06-15"), ("", None)],
        [("2024/05/01", "有效日期", "valid date"), ("20240501", "有效日期", "valid date"),
         ("2024-02-30", "有效日期", "valid date"), ("2019-12-31", "不能早于 2020-01-01", "before 2020-01-01"),
         ("2024-06-16", "不能晚于 2024-06-15", "after 2024-06-15")],
    ),
    (
        "date",
        {"min": "today-7", "max": "today+30"},
        [("2024-06-08", "2024-06-08"), ("2024-07-15", "2024-07-15")],
        [("2024-06-07", "2024-06-08", "2024-06-08"), ("2024-07-16", "2024-07-15", "2024-07-15")],
    ),
    (
        "datetime",
        {},
        [("2024-05-01T14:30", "2024-05-01T14:30:00+08:00"),
         ("2024-05-01 14:30:15", "2024-05-01T14:30:15+08:00"),
         ("2024-05-01T06:30:00Z", "2024-05-01T14:30:00+08:00"),
         ("2024-05-01T14:30:00+09:00", "2024-05-01T13:30:00+08:00")],
        [("2024-05-01", "日期和时间", "date and time"), ("tomorrow", "日期和时间", "date and time"),
         ("2024-05-01T25:00", "日期和时间", "date and time"), (5, "日期和时间", "date and time")],
    ),
    (
        "choice",
        {"choices": C("neighbour", "other")},
        [("neighbour", "neighbour"), (" other ", "other"), ("", None)],
        [("family", "给定选项", "one of the options"), (1, "给定选项", "one of the options")],
    ),
    (
        "multichoice",
        {"choices": C("a", "b", "c"), "max_items": 2},
        [(["b", "a"], ["a", "b"]), ("c", ["c"]), (["a", "a", ""], ["a"]), ([], [])],
        [(["a", "z"], "无效选项：z", "Invalid option(s): z"), ({"a": 1}, "列表", "list"),
         (["a", "b", "c"], "最多只能有 2 项", "At most 2 item")],
    ),
    (
        "boolean",
        {},
        [(True, True), (False, False), ("on", True), ("TRUE", True), ("yes", True), ("1", True), (1, True),
         ("false", False), ("no", False), ("0", False), (0, False), ("", None)],
        [("maybe", "是", "yes or no"), (2, "是", "yes or no")],
    ),
    (
        "money",
        {},
        [("6,000", "6000.00"), ("¥6000", "6000.00"), ("￥6,000.5", "6000.50"), (6000, "6000.00"),
         (12.5, "12.50"), (Decimal("1234.5"), "1234.50"), ("0", "0.00"), ("6000.500", "6000.50"),
         ("3000元", "3000.00")],
        [("12.345", "两位小数", "two decimal"), ("-5", "负数", "negative"), ("abc", "有效金额", "valid amount"),
         ("1e5", "有效金额", "valid amount"), (True, "有效金额", "valid amount"),
         (float("nan"), "有效金额", "valid amount")],
    ),
    (
        "money",
        {"min": -100, "max": 100000000},
        [("-100", "-100.00"), ("100000000", "100000000.00")],
        [("-100.01", "不能少于 -100.00 元", "at least ¥-100.00"),
         ("100000000.01", "不能超过 100,000,000.00 元", "exceed ¥100,000,000.00")],
    ),
]


@pytest.mark.parametrize(("ftype", "extra", "valid", "invalid"), CASES, ids=[c[0] for c in CASES])
def test_field_types(ftype: str, extra: dict[str, Any], valid: Any, invalid: Any) -> None:
    defn = one(ftype, **extra)
    for given, expected in valid:
        value, errors = check(defn, given)
        assert errors is None, (given, errors)
        assert value == expected, given
        json.dumps(value)
    for given, zh, en in invalid:
        value, errors = check(defn, given, "zh")
        assert errors and zh in errors[0], (given, errors)
        value, errors = check(defn, given, "en")
        assert errors and en in errors[0], (given, errors)


@pytest.mark.parametrize("ftype", ["text", "textarea", "integer", "date", "datetime", "choice", "multichoice",
                                   "boolean", "money", "parties", "evidence"])
def test_required_in_both_languages(ftype: str) -> None:
    extra: dict[str, Any] = {"choices": C("x")} if "choice" in ftype else {}
    defn = one(ftype, required=True, **extra)
    for empty in ({}, {"f": ""}, {"f": None}):
        cleaned, errors = validate_submission(defn, empty)
        assert errors == {"f": ["此项为必填项。"]}
        assert "f" not in cleaned
    assert validate_submission(defn, {}, "en")[1] == {"f": ["This field is required."]}


def test_optional_empty_values_are_present_in_cleaned_data() -> None:
    defn = form(
        {"name": "t", "type": "text", "label": L("甲")},
        {"name": "m", "type": "multichoice", "label": L("乙"), "choices": C("x")},
        {"name": "p", "type": "parties", "label": L("丙")},
        {"name": "b", "type": "boolean", "label": L("丁")},
    )
    assert validate_submission(defn, {}) == ({"t": None, "m": [], "p": [], "b": None}, {})


PARTY_FORM = form(
    {"name": "parties", "type": "parties", "label": L("当事人", "Parties"), "min_items": 2, "max_items": 3},
    {"name": "evidence", "type": "evidence", "label": L("证据", "Evidence")},
)


def test_parties_valid_json() -> None:
    cleaned, errors = validate_submission(
        PARTY_FORM,
        {
            "parties": [
                {"role": "applicant", "name": " 张三 ", "id_number": VALID_ID.lower(), "phone": "138 0013 8000"},
                {"role": "respondent", "name": "李四", "phone": "010-12345678", "address": "某村", "relation": "邻居"},
            ]
        },
    )
    assert errors == {}
    assert cleaned["parties"] == [
        {"role": "applicant", "name": "张三", "id_number": VALID_ID, "phone": "13800138000",
         "address": None, "relation": None},
        {"role": "respondent", "name": "李四", "id_number": None, "phone": "010-12345678",
         "address": "某村", "relation": "邻居"},
    ]
    assert cleaned["evidence"] == []


@pytest.mark.parametrize(
    ("party", "key", "zh", "en"),
    [
        ({"role": "applicant"}, "name", "必填", "required"),
        ({"name": "张三"}, "role", "必填", "required"),
        ({"role": "judge", "name": "张三"}, "role", "当事人身份", "party's role"),
        ({"role": "applicant", "name": "张三", "id_number": "110105194912310021"}, "id_number", "身份证", "resident ID"),
        ({"role": "applicant", "name": "张三", "id_number": "11010519491331002X"}, "id_number", "身份证", "resident ID"),
        ({"role": "applicant", "name": "张三", "id_number": "1101051949"}, "id_number", "身份证", "resident ID"),
        ({"role": "applicant", "name": "张三", "phone": "12345"}, "phone", "电话号码", "phone number"),
        ({"role": "applicant", "name": "张三", "phone": "23800138000"}, "phone", "电话号码", "phone number"),
        ({"role": "applicant", "name": "张三", "age": 3}, None, "age", "age"),
    ],
)
def test_party_item_errors_are_keyed_by_index(party: dict[str, Any], key: str | None, zh: str, en: str) -> None:
    ok = {"role": "respondent", "name": "李四"}
    for lang, fragment in (("zh", zh), ("en", en)):
        cleaned, errors = validate_submission(PARTY_FORM, {"parties": [ok, party]}, lang)
        path = "parties.1" if key is None else f"parties.1.{key}"
        assert list(errors) == [path]
        assert fragment in errors[path][0]
        assert "parties" not in cleaned


def test_parties_list_level_errors() -> None:
    ok = {"role": "applicant", "name": "张三"}
    assert validate_submission(PARTY_FORM, {"parties": [ok]})[1] == {"parties": ["至少需要 2 项。"]}
    assert validate_submission(PARTY_FORM, {"parties": [ok] * 4}, "en")[1] == {
        "parties": ["At most 3 item(s) are allowed."]
    }
    assert validate_submission(PARTY_FORM, {"parties": "张三"})[1] == {"parties": ["格式无效，应为列表。"]}
    assert validate_submission(PARTY_FORM, {"parties": [ok, "李四"]}, "en")[1] == {
        "parties.1": ["This entry is not valid."]
    }


def test_evidence_items() -> None:
    cleaned, errors = validate_submission(
        PARTY_FORM,
        {"evidence": [{"description": "借条一张", "provided_by": "张三", "kind": "document"}, {"description": "照片"}]},
    )
    assert errors == {}
    assert cleaned["evidence"] == [
        {"description": "借条一张", "provided_by": "张三", "kind": "document"},
        {"description": "照片", "provided_by": None, "kind": None},
    ]
    _, errors = validate_submission(PARTY_FORM, {"evidence": [{"kind": "rumour"}]}, "en")
    assert errors == {
        "evidence.0.description": ["This field is required."],
        "evidence.0.kind": ["Please choose a valid type of evidence."],
    }


COND = form(
    {"name": "category", "type": "choice", "label": L("类型"), "required": True, "choices": C("neighbour", "other")},
    {"name": "details", "type": "textarea", "label": L("详情"), "required": True,
     "visible_if": {"field": "category", "equals": "other"}},
    {"name": "more", "type": "text", "label": L("补充"), "visible_if": {"field": "details", "truthy": True}},
    {"name": "urgent", "type": "boolean", "label": L("紧急")},
    {"name": "reason", "type": "integer", "label": L("原因"), "required": True,
     "visible_if": {"field": "urgent", "equals": True}},
    {"name": "signals", "type": "multichoice", "label": L("信号"), "choices": C("violence", "threat", "debt")},
    {"name": "safety", "type": "text", "label": L("安全"), "required": True,
     "visible_if": {"field": "signals", "in": ["violence", "threat"]}},
    {"name": "amount", "type": "money", "label": L("金额")},
    {"name": "why_free", "type": "text", "label": L("免费"), "visible_if": {"field": "amount", "truthy": False}},
)


def test_hidden_fields_are_not_required_and_dropped() -> None:
    cleaned, errors = validate_submission(
        COND,
        {"category": "neighbour", "details": "不该保留", "more": "x", "urgent": "false", "reason": "oops",
         "signals": ["debt"], "safety": "x", "amount": "100"},
    )
    assert errors == {}
    assert cleaned == {"category": "neighbour", "urgent": False, "signals": ["debt"], "amount": "100.00"}


def test_visible_conditional_fields_are_required() -> None:
    cleaned, errors = validate_submission(
        COND, {"category": "other", "urgent": "on", "signals": ["threat", "debt"], "amount": "0"}
    )
    assert errors == {"details": ["此项为必填项。"], "reason": ["此项为必填项。"], "safety": ["此项为必填项。"]}
    assert cleaned["why_free"] is None  # amount 0.00 is falsy → shown (optional)
    cleaned, errors = validate_submission(
        COND,
        {"category": "other", "details": "详情", "more": "补充", "urgent": True, "reason": "3",
         "signals": "violence", "safety": "已隔离", "amount": "5", "why_free": "x"},
    )
    assert errors == {}
    assert cleaned == {"category": "other", "details": "详情", "more": "补充", "urgent": True, "reason": 3,
                       "signals": ["violence"], "safety": "已隔离", "amount": "5.00"}


def test_dependent_of_hidden_field_is_hidden() -> None:
    cleaned, errors = validate_submission(COND, {"category": "neighbour", "details": "x", "more": "y"})
    assert errors == {}
    assert "details" not in cleaned and "more" not in cleaned


def test_invalid_value_in_hidden_field_is_ignored() -> None:
    assert validate_submission(COND, {"category": "neighbour", "reason": "abc"})[1] == {}


def test_unknown_keys_are_refused() -> None:
    cleaned, errors = validate_submission(COND, {"category": "neighbour", "hack": 1, "admin": True})
    assert errors == {"_schema": ["不接受以下字段：admin, hack。"]}
    assert cleaned["category"] == "neighbour"
    _, errors = validate_submission(COND, {"category": "neighbour", "hack": 1}, "en-GB")
    assert errors == {"_schema": ["Unknown field(s) not accepted: hack."]}


def test_readonly_fields_are_ignored() -> None:
    defn = form({"name": "case_no", "type": "text", "label": L("案号"), "readonly": True},
                {"name": "a", "type": "text", "label": L("甲")})
    assert validate_submission(defn, {"case_no": "forged", "a": "x"}) == ({"a": "x"}, {})


def test_non_mapping_submission() -> None:
    assert validate_submission(COND, ["x"]) == ({}, {"_schema": ["提交的数据格式无效。"]})  # type: ignore[arg-type]


def test_html_mapping_conversion() -> None:
    md = MultiDict(
        [
            ("signals", "violence"), ("signals", "threat"), ("signals", ""),
            ("parties-1-name", "李四"), ("parties-1-role", "respondent"),
            ("parties-0-name", "张三"), ("parties-0-role", "applicant"), ("parties-0-phone", ""),
            ("parties-2-role", "applicant"), ("parties-2-name", " "),  # spare blank row
            ("evidence-0-description", "借条"), ("evidence-0-kind", "document"),
            ("evidence-1-description", ""), ("evidence-1-kind", "other"),
            ("urgent", "false"), ("urgent", "on"),
            ("_csrf_token", "abc"), ("_action", "submit"), ("csrf_token", "wtf"),
        ]
    )
    defn = form(
        {"name": "signals", "type": "multichoice", "label": L("信号"), "choices": C("violence", "threat")},
        {"name": "parties", "type": "parties", "label": L("当事人"), "min_items": 2},
        {"name": "evidence", "type": "evidence", "label": L("证据")},
        {"name": "urgent", "type": "boolean", "label": L("紧急")},
    )
    data = from_form_mapping(defn, md)
    assert data == {
        "signals": ["violence", "threat"],
        "parties": [
            {"name": "张三", "role": "applicant", "phone": ""},
            {"name": "李四", "role": "respondent"},
        ],
        "evidence": [{"description": "借条", "kind": "document"}],
        "urgent": "on",
    }
    cleaned, errors = validate_submission(defn, md)
    assert errors == {}
    assert cleaned["parties"][1]["name"] == "李四"
    assert cleaned["evidence"][0]["kind"] == "document"
    assert cleaned["urgent"] is True


def test_html_mapping_errors_use_row_indices() -> None:
    defn = form({"name": "parties", "type": "parties", "label": L("当事人")})
    md = MultiDict([("parties-0-role", "applicant"), ("parties-0-name", "张三"), ("parties-0-phone", "1"),
                    ("parties-0-colour", "red"), ("parties-x-name", "bad")])
    _, errors = validate_submission(defn, md, "en")
    assert errors == {
        "_schema": ["Unknown field(s) not accepted: parties-x-name."],
        "parties.0": ["Unknown field(s) not accepted: colour."],
        "parties.0.phone": [
            "Invalid phone number: use an 11-digit mobile number or a landline with area code."
        ],
    }


def test_html_all_blank_rows_count_as_empty() -> None:
    defn = form({"name": "parties", "type": "parties", "label": L("当事人"), "required": True})
    md = MultiDict([("parties-0-role", "applicant"), ("parties-0-name", "")])
    assert from_form_mapping(defn, md) == {"parties": []}
    assert validate_submission(defn, md)[1] == {"parties": ["此项为必填项。"]}


def test_a_rendered_list_whose_rows_were_all_removed_is_empty_not_missing() -> None:
    """The page names the lists it rendered (``_rows``): with every row removed in the browser (no
    ``parties-*`` key at all) the list is empty, as when every row is cleared."""
    defn = form({"name": "parties", "type": "parties", "label": L("当事人")},
                {"name": "note", "type": "text", "label": L("备注")})
    md = MultiDict([("_rows", "parties"), ("note", "x")])
    assert from_form_mapping(defn, md) == {"parties": [], "note": "x"}
    assert from_form_mapping(defn, MultiDict([("note", "x")])) == {"note": "x"}  # not rendered: left out
    assert from_form_mapping(defn, MultiDict([("_rows", "nonsense"), ("note", "x")])) == {"note": "x"}


def test_plain_dict_of_lists_as_form_mapping() -> None:
    defn = form({"name": "signals", "type": "multichoice", "label": L("信号"), "choices": C("a", "b")},
                {"name": "n", "type": "integer", "label": L("数")})
    assert from_form_mapping(defn, {"signals": ["a", "b"], "n": ["1", "2"]}) == {"signals": ["a", "b"], "n": "2"}


def test_build_schema_is_cached_marshmallow_schema() -> None:
    schema = build_schema(COND)
    assert isinstance(schema, Schema)
    assert build_schema(COND) is schema
    assert build_schema(COND, "zh-CN") is schema
    assert build_schema(COND, "en") is not schema
    assert schema.load({"category": "neighbour"})["category"] == "neighbour"
    with pytest.raises(ValidationError) as info:
        build_schema(COND, "en").load({"category": "x"})
    assert info.value.messages == {"category": ["Please choose one of the options."]}
    assert schema.validate({}) == {"category": ["此项为必填项。"]}
    assert schema.dump({"category": "other"}) == {"category": "other"}


def test_every_message_has_both_languages() -> None:
    for key, texts in MESSAGES.items():
        assert set(texts) == {"zh", "en"}, key
        assert CJK.search(texts["zh"]) and not CJK.search(texts["en"]), key


def test_cleaned_data_is_json_serialisable() -> None:
    defn = form(
        {"name": "d", "type": "date", "label": L("日")},
        {"name": "dt", "type": "datetime", "label": L("时")},
        {"name": "m", "type": "money", "label": L("钱")},
        {"name": "b", "type": "boolean", "label": L("布")},
    )
    cleaned, errors = validate_submission(defn, {"d": "2024-01-02", "dt": "2024-01-02T03:04", "m": 5, "b": "yes"})
    assert errors == {}
    assert json.loads(json.dumps(cleaned)) == {"d": "2024-01-02", "dt": "2024-01-02T03:04:00+08:00",
                                               "m": "5.00", "b": True}
