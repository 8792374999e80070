"""Validation of form submissions against a :class:`~forms.definition.FormDefinition`.

``validate_submission(defn, data, lang)`` is the main entry point: it accepts
JSON API input (typed values, lists, objects) as well as HTML form input (a
werkzeug ``MultiDict``-like mapping, converted by :func:`from_form_mapping`)
and returns ``(cleaned, errors)``:

* ``cleaned`` – JSON-serialisable data of every *visible*, non-readonly field
  (``None`` for an empty scalar, ``[]`` for an empty list); fields hidden by
  ``visible_if`` are left out;
* ``errors`` – ``{"field": [messages]}`` with keys such as ``"parties.1.name"``
  for list items and ``"_schema"`` for errors not tied to a field, in Chinese
  (``zh``) or English (``en``).

Under the hood each definition gets a marshmallow schema (:func:`build_schema`)
with one custom field per form field; the schema's ``load`` applies the
visibility and required rules too and raises ``ValidationError`` with the same
flat error dict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, ClassVar

from marshmallow import EXCLUDE, Schema, ValidationError, fields

from .definition import (
    EVIDENCE_KINDS,
    PARTY_ROLES,
    ROW_TYPES,
    FieldDef,
    FormDefinition,
    normalise_lang,
    parse_date_bound,
    parse_money_bound,
)

__all__ = [
    "EVIDENCE_KEYS",
    "MESSAGES",
    "PARTY_KEYS",
    "SHANGHAI",
    "FormSchema",
    "build_schema",
    "from_form_mapping",
    "message",
    "today",
    "validate_submission",
]


def _shanghai() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Shanghai")
    except (ImportError, KeyError):  # pragma: no cover - no tz database: China has no DST since 1991
        return timezone(timedelta(hours=8), "Asia/Shanghai")


#: Time zone of naive datetimes and of ``today``.
SHANGHAI: tzinfo = _shanghai()

#: Keys of one ``parties`` item, in display order.
PARTY_KEYS: tuple[str, ...] = ("role", "name", "id_number", "phone", "address", "relation")
#: Keys of one ``evidence`` item, in display order.
EVIDENCE_KEYS: tuple[str, ...] = ("description", "provided_by", "kind")
#: Sub-keys that are selects in HTML rows; they do not make a row "filled in".
ROW_SELECT_KEYS: frozenset[str] = frozenset({"role", "kind"})

#: Bilingual validation messages; ``{placeholders}`` are filled by :func:`message`.
MESSAGES: dict[str, dict[str, str]] = {
    "required": {"zh": "此项为必填项。", "en": "This field is required."},
    "invalid_text": {"zh": "请输入文字。", "en": "Please enter text."},
    "single_line": {"zh": "此项只能填写一行，不能换行。", "en": "Please keep this to a single line."},
    "invalid_characters": {"zh": "包含无效的控制字符。", "en": "Contains invalid control characters."},
    "too_long": {"zh": "最多 {max} 个字。", "en": "At most {max} characters."},
    "too_short": {"zh": "至少 {min} 个字。", "en": "At least {min} characters."},
    "invalid_integer": {"zh": "请输入整数。", "en": "Please enter a whole number."},
    "too_small": {"zh": "不能小于 {min}。", "en": "Must be at least {min}."},
    "too_large": {"zh": "不能大于 {max}。", "en": "Must be at most {max}."},
    "invalid_date": {
        "zh": "请输入有效日期，格式为“年-月-日”，如 2024-05-01。",
        "en": "Please enter a valid date as YYYY-MM-DD, e.g. 2024-05-01.",
    },
    "date_too_early": {"zh": "日期不能早于 {min}。", "en": "The date must not be before {min}."},
    "date_too_late": {"zh": "日期不能晚于 {max}。", "en": "The date must not be after {max}."},
    "invalid_datetime": {
        "zh": "请输入有效的日期和时间，如 2024-05-01 14:30。",
        "en": "Please enter a valid date and time, e.g. 2024-05-01 14:30.",
    },
    "invalid_choice": {"zh": "请从给定选项中选择。", "en": "Please choose one of the options."},
    "invalid_choices": {"zh": "无效选项：{values}。", "en": "Invalid option(s): {values}."},
    "invalid_list": {"zh": "格式无效，应为列表。", "en": "Invalid format: a list is expected."},
    "too_few_items": {"zh": "至少需要 {min} 项。", "en": "At least {min} item(s) are required."},
    "too_many_items": {"zh": "最多只能有 {max} 项。", "en": "At most {max} item(s) are allowed."},
    "invalid_boolean": {"zh": "请选择“是”或“否”。", "en": "Please answer yes or no."},
    "invalid_money": {
        "zh": "请输入有效金额（元），如 6000 或 6000.50。",
        "en": "Please enter a valid amount in yuan, e.g. 6000 or 6000.50.",
    },
    "money_decimals": {"zh": "金额最多保留两位小数（分）。", "en": "At most two decimal places (fen)."},
    "money_negative": {"zh": "金额不能为负数。", "en": "The amount cannot be negative."},
    "money_too_small": {"zh": "金额不能少于 {min} 元。", "en": "The amount must be at least ¥{min}."},
    "money_too_large": {"zh": "金额不能超过 {max} 元。", "en": "The amount must not exceed ¥{max}."},
    "invalid_row": {"zh": "此项格式无效。", "en": "This entry is not valid."},
    "invalid_role": {
        "zh": "请选择当事人身份：申请人、被申请人或第三人。",
        "en": "Please choose the party's role: applicant, respondent or third party.",
    },
    "invalid_id_number": {
        "zh": "身份证号码无效：应为 18 位且校验码正确。",
        "en": "Invalid resident ID number: 18 characters with a correct check digit expected.",
    },
    "invalid_phone": {
        "zh": "电话号码无效：请填写 11 位手机号码或带区号的固定电话。",
        "en": "Invalid phone number: use an 11-digit mobile number or a landline with area code.",
    },
    "invalid_kind": {"zh": "请选择有效的证据类型。", "en": "Please choose a valid type of evidence."},
    "unknown_fields": {"zh": "不接受以下字段：{names}。", "en": "Unknown field(s) not accepted: {names}."},
    "invalid_data": {"zh": "提交的数据格式无效。", "en": "The submitted data is not valid."},
}


def message(key: str, lang: str = "zh", **params: Any) -> str:
    """Return validation message ``key`` in ``lang`` with ``params`` filled in."""
    return MESSAGES[key][normalise_lang(lang)].format(**params)


def today() -> date:
    """Today's date in Asia/Shanghai (monkeypatch this in tests)."""
    return datetime.now(SHANGHAI).date()


class _Fail:
    """Raises bilingual ``ValidationError``s for one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, key: str, **params: Any) -> ValidationError:
        return ValidationError(message(key, self.lang, **params))


# --------------------------------------------------------------------------
# Value cleaners: return the cleaned value (None when empty) or raise.

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INT_RE = re.compile(r"[+-]?\d{1,18}\Z")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?\Z"
)
_MONEY_STRIP_RE = re.compile(r"[\s,，¥￥]|元\Z|^RMB|^CNY", re.IGNORECASE)
_MONEY_RE = re.compile(r"-?\d{1,15}(?:\.\d{1,10})?\Z")
_MOBILE_RE = re.compile(r"(?:\+?86)?1[3-9]\d{9}\Z")
_LANDLINE_RE = re.compile(r"0\d{2,3}-?\d{7,8}(?:-\d{1,6})?\Z")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_TRUE = frozenset({"true", "on", "yes", "1", "y", "是"})
_FALSE = frozenset({"false", "off", "no", "0", "n", "否"})
_CENT = Decimal("0.01")


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def clean_text(
    value: Any,
    fail: _Fail,
    *,
    max_length: int | None,
    min_length: int | None = None,
    multiline: bool = False,
) -> str | None:
    """Strip and check a text; ``\\r\\n`` becomes ``\\n``; empty gives ``None``."""
    if _is_empty(value):
        return None
    if not isinstance(value, str):
        raise fail("invalid_text")
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not multiline and "\n" in text:
        raise fail("single_line")
    if _CONTROL_RE.search(text):
        raise fail("invalid_characters")
    if max_length is not None and len(text) > max_length:
        raise fail("too_long", max=max_length)
    if min_length is not None and len(text) < min_length:
        raise fail("too_short", min=min_length)
    return text


def clean_integer(value: Any, fail: _Fail, *, low: int | None, high: int | None) -> int | None:
    """Accept an int, an integral float or a string of digits."""
    if _is_empty(value):
        return None
    if isinstance(value, bool):
        raise fail("invalid_integer")
    if isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INT_RE.match(value.strip()):
        number = int(value.strip())
    else:
        raise fail("invalid_integer")
    if low is not None and number < low:
        raise fail("too_small", min=low)
    if high is not None and number > high:
        raise fail("too_large", max=high)
    return number


def clean_date(value: Any, fail: _Fail, *, low: str | None, high: str | None) -> str | None:
    """Accept ``YYYY-MM-DD`` (or a ``date``); bounds may be ISO or ``today±N``."""
    if _is_empty(value):
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and _DATE_RE.match(value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise fail("invalid_date") from None
    else:
        raise fail("invalid_date")
    now = today()
    if low is not None and day < (bound := parse_date_bound(low, now)):
        raise fail("date_too_early", min=bound.isoformat())
    if high is not None and day > (bound := parse_date_bound(high, now)):
        raise fail("date_too_late", max=bound.isoformat())
    return day.isoformat()


def clean_datetime(value: Any, fail: _Fail) -> str | None:
    """Accept ISO 8601 date-times; naive ones are Asia/Shanghai.

    The result is the same instant as an ISO string in +08:00, to the second.
    """
    if _is_empty(value):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and _DATETIME_RE.match(value.strip()):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise fail("invalid_datetime") from None
    else:
        raise fail("invalid_datetime")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def clean_choice(value: Any, fail: _Fail, *, allowed: tuple[str, ...]) -> str | None:
    """Accept one of ``allowed`` (surrounding spaces ignored)."""
    if _is_empty(value):
        return None
    if not isinstance(value, str) or value.strip() not in allowed:
        raise fail("invalid_choice")
    return value.strip()


def clean_multichoice(value: Any, fail: _Fail, *, allowed: tuple[str, ...]) -> list[str]:
    """Accept a list (or one string) of choices; result in definition order, no duplicates."""
    if _is_empty(value):
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise fail("invalid_list")
    chosen: set[str] = set()
    bad: list[str] = []
    for item in items:
        if _is_empty(item):
            continue
        if isinstance(item, str) and item.strip() in allowed:
            chosen.add(item.strip())
        else:
            bad.append(str(item))
    if bad:
        raise fail("invalid_choices", values=", ".join(bad))
    return [v for v in allowed if v in chosen]


def clean_boolean(value: Any, fail: _Fail) -> bool | None:
    """Accept a bool, 0/1 or true/false/on/yes/no/1/0 (any case)."""
    if _is_empty(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise fail("invalid_boolean")


def parse_money(value: Any) -> Decimal | None:
    """Parse an amount in yuan (``6000``, ``"6,000"``, ``"¥6000.5"``); ``None`` if not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        text = str(value) if value.is_finite() else ""
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, str):
        text = _MONEY_STRIP_RE.sub("", value.strip())
    else:
        return None
    if not _MONEY_RE.match(text):
        return None
    return Decimal(text)


def format_money(amount: Decimal) -> str:
    """Format an amount as ``"1234.50"`` (never ``-0.00`` or exponent notation)."""
    amount = amount.quantize(_CENT)
    if amount == 0:
        amount = Decimal("0.00")
    return format(amount, "f")


def clean_money(value: Any, fail: _Fail, *, low: Any, high: Any) -> str | None:
    """Accept an amount in yuan with at most 2 decimals; result like ``"6000.00"``."""
    if _is_empty(value):
        return None
    amount = parse_money(value)
    if amount is None:
        raise fail("invalid_money")
    try:
        if amount != amount.quantize(_CENT):
            raise fail("money_decimals")
    except InvalidOperation:  # pragma: no cover - excluded by the regex
        raise fail("invalid_money") from None
    if low is None:
        if amount < 0:
            raise fail("money_negative")
    elif amount < (bound := parse_money_bound(low)):
        raise fail("money_too_small", min=f"{bound:,.2f}")
    if high is not None and amount > (bound := parse_money_bound(high)):
        raise fail("money_too_large", max=f"{bound:,.2f}")
    return format_money(amount)


def valid_id_number(text: str) -> bool:
    """Check an 18-character mainland resident ID (birth date and check digit)."""
    if len(text) != 18 or not text[:17].isdigit() or not (text[17].isdigit() or text[17] == "X"):
        return False
    try:
        date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    total = sum(int(d) * w for d, w in zip(text[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == text[17]


def clean_id_number(value: Any, fail: _Fail) -> str | None:
    """Optional resident ID: spaces removed, ``x`` upper-cased, checksum checked."""
    if _is_empty(value):
        return None
    if not isinstance(value, str):
        raise fail("invalid_id_number")
    text = re.sub(r"\s", "", value).upper()
    if not valid_id_number(text):
        raise fail("invalid_id_number")
    return text


def clean_phone(value: Any, fail: _Fail) -> str | None:
    """Optional phone: 11-digit mobile (optionally +86) or landline ``0xx(x)-xxxxxxx(x)``."""
    if _is_empty(value):
        return None
    if not isinstance(value, str):
        raise fail("invalid_phone")
    text = re.sub(r"[\s()（）]", "", value)
    if not (_MOBILE_RE.match(text) or _LANDLINE_RE.match(text)):
        raise fail("invalid_phone")
    return text


RowCleaner = Callable[[Mapping[str, Any], _Fail], tuple[dict[str, Any], dict[str, list[str]]]]


def _clean_subfields(
    row: Mapping[str, Any],
    fail: _Fail,
    cleaners: dict[str, Callable[[Any], Any]],
    required: tuple[str, ...],
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    unknown = sorted(str(k) for k in row if k not in cleaners)
    if unknown:
        errors["_schema"] = [message("unknown_fields", fail.lang, names=", ".join(unknown))]
    for key, cleaner in cleaners.items():
        try:
            cleaned[key] = cleaner(row.get(key))
        except ValidationError as exc:
            errors[key] = list(exc.messages) if isinstance(exc.messages, list) else [str(exc)]
            cleaned[key] = None
            continue
        if key in required and cleaned[key] is None:
            errors[key] = [message("required", fail.lang)]
    return cleaned, errors


def clean_party(row: Mapping[str, Any], fail: _Fail) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Clean one ``parties`` item: role and name required, the rest optional."""

    def role(value: Any) -> str | None:
        if _is_empty(value):
            return None
        if not isinstance(value, str) or value.strip() not in PARTY_ROLES:
            raise fail("invalid_role")
        return value.strip()

    cleaners: dict[str, Callable[[Any], Any]] = {
        "role": role,
        "name": lambda v: clean_text(v, fail, max_length=100),
        "id_number": lambda v: clean_id_number(v, fail),
        "phone": lambda v: clean_phone(v, fail),
        "address": lambda v: clean_text(v, fail, max_length=200),
        "relation": lambda v: clean_text(v, fail, max_length=50),
    }
    return _clean_subfields(row, fail, cleaners, ("role", "name"))


def clean_evidence(row: Mapping[str, Any], fail: _Fail) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Clean one ``evidence`` item: description required, provided_by and kind optional."""

    def kind(value: Any) -> str | None:
        if _is_empty(value):
            return None
        if not isinstance(value, str) or value.strip() not in EVIDENCE_KINDS:
            raise fail("invalid_kind")
        return value.strip()

    cleaners: dict[str, Callable[[Any], Any]] = {
        "description": lambda v: clean_text(v, fail, max_length=1000, multiline=True),
        "provided_by": lambda v: clean_text(v, fail, max_length=100),
        "kind": kind,
    }
    return _clean_subfields(row, fail, cleaners, ("description",))


def clean_rows(value: Any, fail: _Fail, row_cleaner: RowCleaner) -> list[dict[str, Any]]:
    """Clean a list of objects; errors are raised as ``{index: {key: [msg]}}``."""
    if _is_empty(value):
        return []
    if not isinstance(value, list | tuple):
        raise fail("invalid_list")
    rows: list[dict[str, Any]] = []
    errors: dict[Any, Any] = {}
    for index, row in enumerate(value):
        if not isinstance(row, Mapping):
            errors[index] = [message("invalid_row", fail.lang)]
            continue
        cleaned, row_errors = row_cleaner(row, fail)
        if row_errors:
            errors[index] = row_errors
        rows.append(cleaned)
    if errors:
        raise ValidationError(errors)
    return rows


# --------------------------------------------------------------------------
# marshmallow fields and schema


class FormField(fields.Field):
    """A marshmallow field that cleans one form field in one language."""

    def __init__(self, fdef: FieldDef, lang: str) -> None:
        lang = normalise_lang(lang)
        super().__init__(
            required=False,
            allow_none=True,
            error_messages={
                "required": message("required", lang),
                "null": message("required", lang),
                "validator_failed": message("invalid_data", lang),
            },
            metadata={"form_type": fdef.type, "label": fdef.label.get(lang)},
        )
        self.fdef = fdef
        self.lang = lang

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return clean_value(self.fdef, value, self.lang)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


def clean_value(fdef: FieldDef, value: Any, lang: str = "zh") -> Any:
    """Clean one submitted value of ``fdef``; raise ``ValidationError`` if invalid.

    Visibility, ``required`` and item counts are not checked here.
    """
    fail = _Fail(normalise_lang(lang))
    ftype = fdef.type
    if ftype in ("text", "textarea"):
        return clean_text(
            value,
            fail,
            max_length=fdef.effective_max_length,
            min_length=fdef.min_length,
            multiline=ftype == "textarea",
        )
    if ftype == "integer":
        return clean_integer(value, fail, low=fdef.min_value, high=fdef.max_value)
    if ftype == "date":
        return clean_date(value, fail, low=fdef.min_value, high=fdef.max_value)
    if ftype == "datetime":
        return clean_datetime(value, fail)
    if ftype == "choice":
        return clean_choice(value, fail, allowed=fdef.choice_values)
    if ftype == "multichoice":
        return clean_multichoice(value, fail, allowed=fdef.choice_values)
    if ftype == "boolean":
        return clean_boolean(value, fail)
    if ftype == "money":
        return clean_money(value, fail, low=fdef.min_value, high=fdef.max_value)
    if ftype == "parties":
        return clean_rows(value, fail, clean_party)
    if ftype == "evidence":
        return clean_rows(value, fail, clean_evidence)
    raise ValueError(f"unknown field type {ftype!r}")  # pragma: no cover - checked on load


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten nested marshmallow messages to ``{"a.1.b": [...]}``.

    A ``_schema`` key belongs to its parent path (``"_schema"`` at the top).
    """
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == "_schema":
                path = prefix or "_schema"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for sub, msgs in flatten_errors(value, path).items():
                out.setdefault(sub, []).extend(msgs)
    elif isinstance(messages, list | tuple):
        for item in messages:
            if isinstance(item, Mapping | list | tuple):
                for sub, msgs in flatten_errors(item, prefix).items():
                    out.setdefault(sub, []).extend(msgs)
            else:
                out.setdefault(prefix or "_schema", []).append(str(item))
    else:
        out.setdefault(prefix or "_schema", []).append(str(messages))
    return out


class FormSchema(Schema):
    """Base of the generated per-form schemas (see :func:`build_schema`).

    ``load`` returns the cleaned data or raises ``ValidationError`` whose
    ``messages`` is the flat error dict; ``validate`` returns that dict.
    """

    definition: ClassVar[FormDefinition]
    lang: ClassVar[str] = "zh"

    class Meta:
        unknown = EXCLUDE

    def clean(self, data: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """Validate ``data``; return ``(cleaned, errors)`` (see :func:`validate_submission`)."""
        defn, lang = self.definition, self.lang
        if not isinstance(data, Mapping):
            return {}, {"_schema": [message("invalid_data", lang)]}
        if hasattr(data, "getlist"):
            data = from_form_mapping(defn, data)
        by_name = {f.name: f for f in defn.fields}
        errors: dict[str, list[str]] = {}
        unknown = sorted(str(k) for k in data if k not in by_name)
        if unknown:
            errors["_schema"] = [message("unknown_fields", lang, names=", ".join(unknown))]
        submitted = {k: v for k, v in data.items() if k in by_name and not by_name[k].readonly}
        try:
            loaded = Schema.load(self, submitted, partial=True)
            field_errors: dict[str, Any] = {}
        except ValidationError as exc:
            loaded = exc.valid_data if isinstance(exc.valid_data, dict) else {}
            field_errors = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}

        cleaned: dict[str, Any] = {}
        visible: dict[str, bool] = {}
        for fdef in defn.fields:
            shown = True
            if fdef.visible_if is not None:
                controller = by_name[fdef.visible_if.field]
                shown = visible.get(controller.name, False) and fdef.visible_if.matches(
                    cleaned.get(controller.name), controller.type
                )
            visible[fdef.name] = shown
            if not shown or fdef.readonly:
                continue
            if fdef.name in field_errors:
                errors.update(flatten_errors(field_errors[fdef.name], fdef.name))
                continue
            value = loaded.get(fdef.name)
            if value is None and fdef.is_list:
                value = []
            problem = _presence_problem(fdef, value, lang)
            if problem:
                errors[fdef.name] = [problem]
                continue
            cleaned[fdef.name] = value
        return cleaned, errors

    def load(
        self,
        data: Any,
        *,
        many: bool | None = None,
        partial: Any = None,
        unknown: str | None = None,
    ) -> dict[str, Any]:
        """Return cleaned data or raise ``ValidationError`` with flat messages."""
        cleaned, errors = self.clean(data)
        if errors:
            raise ValidationError(errors, data=data, valid_data=cleaned)
        return cleaned

    def validate(
        self, data: Any, *, many: bool | None = None, partial: Any = None
    ) -> dict[str, list[str]]:
        """Return the flat error dict for ``data`` (empty when valid)."""
        return self.clean(data)[1]


def _presence_problem(fdef: FieldDef, value: Any, lang: str) -> str | None:
    """``required`` and ``min_items``/``max_items`` checks on a cleaned value.

    ``min_items`` applies to a non-empty list, or to any list if required.
    """
    if value is None or value == []:
        return message("required", lang) if fdef.required else None
    if isinstance(value, list):
        if fdef.min_items is not None and len(value) < fdef.min_items:
            return message("too_few_items", lang, min=fdef.min_items)
        if fdef.max_items is not None and len(value) > fdef.max_items:
            return message("too_many_items", lang, max=fdef.max_items)
    return None


@lru_cache(maxsize=512)
def _schema_for(defn: FormDefinition, lang: str) -> FormSchema:
    declared: dict[str, fields.Field] = {
        f.name: FormField(f, lang) for f in defn.fields if not f.readonly
    }
    cls = FormSchema.from_dict(declared, name=f"{defn.key}_{lang}_FormSchema")
    cls.definition = defn  # type: ignore[attr-defined]
    cls.lang = lang  # type: ignore[attr-defined]
    cls.error_messages = {
        "type": message("invalid_data", lang),
        "unknown": message("unknown_fields", lang, names="?"),
    }
    schema = cls()
    assert isinstance(schema, FormSchema)
    return schema


def build_schema(defn: FormDefinition, lang: str = "zh") -> FormSchema:
    """Return the (cached) marshmallow schema instance for ``defn`` in ``lang``."""
    return _schema_for(defn, normalise_lang(lang))


def validate_submission(
    defn: FormDefinition, data: Mapping[str, Any], lang: str = "zh"
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Validate a JSON or HTML-form submission against ``defn``.

    Returns ``(cleaned, errors)``; ``errors`` is empty when the data is valid.
    See the module docstring for the shapes.
    """
    return build_schema(defn, lang).clean(data)


# --------------------------------------------------------------------------
# HTML form input

#: Form keys the web layer adds (Flask-WTF's CSRF token); ignored like ``_*`` keys.
RESERVED_FORM_KEYS: frozenset[str] = frozenset({"csrf_token"})

_ROW_KEY_RE = re.compile(r"([A-Za-z][A-Za-z0-9_]*)-(\d{1,4})-([A-Za-z_][A-Za-z0-9_]*)\Z")


def _values(mapping: Mapping[str, Any], key: str) -> list[Any]:
    getlist = getattr(mapping, "getlist", None)
    if callable(getlist):
        return list(getlist(key))
    value = mapping[key]
    return list(value) if isinstance(value, list | tuple) else [value]


ROWS_MARKER = "_rows"
"""Form key: each value names a list field (``parties``/``evidence``) the page rendered."""


def from_form_mapping(defn: FormDefinition, mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Turn HTML form input (``MultiDict``-like) into structured submission data.

    * ``multichoice`` fields: every value of the repeated key (``getlist``);
    * ``parties``/``evidence``: keys ``<field>-<index>-<subkey>`` become a list
      of objects ordered by index; rows whose text inputs are all blank (the
      spare empty row) are dropped; a list named by a ``_rows`` value with no
      row left is an empty list;
    * other keys: the last value (so a hidden ``false`` before a checkbox works);
    * keys starting with ``_`` (``_action``...) and ``csrf_token`` are reserved
      for the web layer and ignored; any other unknown key is passed through so that
      validation refuses it.
    """
    by_name = {f.name: f for f in defn.fields}
    result: dict[str, Any] = {}
    rows: dict[str, dict[int, dict[str, Any]]] = {
        f.name: {} for f in defn.fields if f.type in ROW_TYPES
    }
    seen_rows: set[str] = set()
    for key in mapping:
        if not isinstance(key, str) or key.startswith("_") or key in RESERVED_FORM_KEYS:
            continue
        values = _values(mapping, key)
        match = _ROW_KEY_RE.match(key)
        if match and match.group(1) in rows:
            name, index, sub = match.group(1), int(match.group(2)), match.group(3)
            rows[name].setdefault(index, {})[sub] = values[-1] if values else None
            seen_rows.add(name)
            continue
        fdef = by_name.get(key)
        if fdef is not None and fdef.type == "multichoice":
            result[key] = [v for v in values if not _is_empty(v)]
        else:
            result[key] = values[-1] if values else None
    for name in seen_rows:
        result[name] = [
            row for _, row in sorted(rows[name].items()) if not _blank_row(row)
        ]
    # A list the page rendered but whose every row was removed (``_rows`` names the rendered lists):
    # an empty list, as when every row is cleared, not a field left out.
    rendered = _values(mapping, ROWS_MARKER) if ROWS_MARKER in mapping else []
    for name in rendered:
        if name in rows and name not in seen_rows:
            result[name] = []
    return result


def _blank_row(row: Mapping[str, Any]) -> bool:
    return all(_is_empty(v) for k, v in row.items() if k not in ROW_SELECT_KEYS)
