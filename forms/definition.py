"""Form definitions: the JSON format diagram authors write, loaded and checked.

A form definition is one JSON file per form key (``forms/definitions/<key>.json``).
This module turns such a document into immutable dataclasses and refuses
anything malformed with a :class:`FormDefinitionError` that names the source
file, the field and the problem.  The format is documented in ``forms/README.md``.

This module is pure: it imports nothing but the standard library.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import keyword
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

__all__ = [
    "EVIDENCE_KINDS",
    "FIELD_TYPES",
    "LANGUAGES",
    "LIST_TYPES",
    "PARTY_ROLES",
    "ROW_TYPES",
    "Choice",
    "FieldDef",
    "FormDefinition",
    "FormDefinitionError",
    "LegalHint",
    "LocalText",
    "VisibleIf",
    "load_definition",
    "load_directory",
]

#: Every field type a definition may use.
FIELD_TYPES: frozenset[str] = frozenset(
    {
        "text",
        "textarea",
        "integer",
        "date",
        "datetime",
        "choice",
        "multichoice",
        "boolean",
        "money",
        "parties",
        "evidence",
    }
)
#: Field types whose cleaned value is a list.
LIST_TYPES: frozenset[str] = frozenset({"multichoice", "parties", "evidence"})
#: Field types whose value is a list of objects, rendered as table rows.
ROW_TYPES: frozenset[str] = frozenset({"parties", "evidence"})
#: Allowed ``role`` values of a ``parties`` item, in display order.
PARTY_ROLES: tuple[str, ...] = ("applicant", "respondent", "third_party")
#: Allowed ``kind`` values of an ``evidence`` item, in display order.
EVIDENCE_KINDS: tuple[str, ...] = (
    "document",
    "photo",
    "audio",
    "video",
    "witness",
    "physical",
    "other",
)
#: Languages every user-visible text must be given in.
LANGUAGES: tuple[str, ...] = ("zh", "en")

#: Default ``max_length`` per text type.
DEFAULT_MAX_LENGTH: dict[str, int] = {"text": 200, "textarea": 5000}

#: Field names the web layer uses in HTML forms.
RESERVED_NAMES: frozenset[str] = frozenset({"csrf_token"})

_KEY_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_ISO_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
#: ``today``, ``today+30``, ``today-365``: relative date bounds.
RELATIVE_DATE_RE = re.compile(r"today(?:([+-])(\d{1,5}))?\Z")
_MONEY_RE = re.compile(r"-?\d{1,15}(?:\.\d+)?\Z")

_TOP_KEYS = frozenset({"key", "title", "instructions", "legal_hint", "confirm", "fields"})
_COMMON_FIELD_KEYS = frozenset(
    {"name", "type", "label", "help", "placeholder", "required", "readonly", "visible_if", "default"}
)
_TYPE_KEYS: dict[str, frozenset[str]] = {
    "text": frozenset({"max_length", "min_length"}),
    "textarea": frozenset({"max_length", "min_length"}),
    "integer": frozenset({"min", "max"}),
    "date": frozenset({"min", "max"}),
    "datetime": frozenset(),
    "choice": frozenset({"choices"}),
    "multichoice": frozenset({"choices", "min_items", "max_items"}),
    "boolean": frozenset(),
    "money": frozenset({"min", "max"}),
    "parties": frozenset({"min_items", "max_items"}),
    "evidence": frozenset({"min_items", "max_items"}),
}


class FormDefinitionError(ValueError):
    """A form definition is malformed.

    ``problems`` holds ``(source, field_name_or_None, problem)`` triples; the
    message lists them one per line as ``source: field 'name': problem``.
    """

    def __init__(self, problems: list[tuple[str, str | None, str]]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(_format_problem(*p) for p in self.problems))

    @property
    def source(self) -> str:
        """The source of the first problem."""
        return self.problems[0][0]


def _format_problem(source: str, field_name: str | None, problem: str) -> str:
    if field_name is None:
        return f"{source}: {problem}"
    return f"{source}: field '{field_name}': {problem}"


@dataclass(frozen=True)
class LocalText:
    """A user-visible text in Chinese and English."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        """Return the text in ``lang`` (``en``/``en-*`` → English, else Chinese)."""
        return self.en if normalise_lang(lang) == "en" else self.zh

    def to_dict(self) -> dict[str, str]:
        """Return the JSON form ``{"zh": ..., "en": ...}``."""
        return {"zh": self.zh, "en": self.en}


@dataclass(frozen=True)
class LegalHint(LocalText):
    """A legal hint: text in both languages plus an optional article citation."""

    article: str | None = None

    def to_dict(self) -> dict[str, str]:
        """Return the JSON form, with ``article`` when set."""
        data = super().to_dict()
        if self.article is not None:
            data["article"] = self.article
        return data


@dataclass(frozen=True)
class Choice:
    """One option of a ``choice``/``multichoice`` field."""

    value: str
    label: LocalText

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"value": self.value, "label": self.label.to_dict()}


@dataclass(frozen=True)
class VisibleIf:
    """Condition under which a field is shown (and thus validated and kept).

    Exactly one of the three modes is used: ``equals`` (``mode == "equals"``),
    ``in`` (``values``) or ``truthy``.
    """

    field: str
    mode: str  # "equals" | "in" | "truthy"
    equals: Any = dataclasses.field(default=None, hash=False)
    values: tuple[Any, ...] = dataclasses.field(default=(), hash=False)
    truthy: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        if self.mode == "equals":
            return {"field": self.field, "equals": copy.deepcopy(self.equals)}
        if self.mode == "in":
            return {"field": self.field, "in": list(self.values)}
        return {"field": self.field, "truthy": self.truthy}

    def matches(self, value: Any, controller_type: str) -> bool:
        """Tell whether a cleaned ``value`` of the controlling field shows the field.

        For a ``multichoice`` controller ``equals`` means "is among the selected"
        and ``in`` means "any selected is in the list".  For ``money`` values are
        compared numerically.  ``truthy`` compares the truth of the value (empty
        lists, ``None``, ``False``, ``0`` and ``"0.00"`` are false).
        """
        if self.mode == "truthy":
            return _truth(value, controller_type) == self.truthy
        wanted = (self.equals,) if self.mode == "equals" else self.values
        if value is None:
            return False
        if controller_type == "multichoice":
            selected = value if isinstance(value, list | tuple) else [value]
            return any(_same(v, w, controller_type) for v in selected for w in wanted)
        return any(_same(value, w, controller_type) for w in wanted)


def _truth(value: Any, controller_type: str) -> bool:
    if controller_type == "money" and value is not None:
        try:
            return Decimal(str(value)) != 0
        except InvalidOperation:
            return False
    return bool(value)


def _same(value: Any, wanted: Any, controller_type: str) -> bool:
    if controller_type == "money":
        try:
            return Decimal(str(value)) == Decimal(str(wanted))
        except InvalidOperation:
            return False
    if isinstance(value, bool) or isinstance(wanted, bool):
        return isinstance(value, bool) and isinstance(wanted, bool) and value is wanted
    return bool(value == wanted)


@dataclass(frozen=True)
class FieldDef:
    """One field of a form.  Attribute names follow the JSON keys, except
    ``min``/``max`` which are ``min_value``/``max_value`` (kept as written)."""

    name: str
    type: str
    label: LocalText
    help: LocalText | None = None
    placeholder: LocalText | None = None
    required: bool = False
    readonly: bool = False
    visible_if: VisibleIf | None = None
    default: Any = dataclasses.field(default=None, hash=False)
    choices: tuple[Choice, ...] = ()
    max_length: int | None = None
    min_length: int | None = None
    min_value: Any = None
    max_value: Any = None
    min_items: int | None = None
    max_items: int | None = None

    @property
    def effective_max_length(self) -> int | None:
        """``max_length`` or the type's default (200 for text, 5000 for textarea)."""
        if self.max_length is not None:
            return self.max_length
        return DEFAULT_MAX_LENGTH.get(self.type)

    @property
    def is_list(self) -> bool:
        """Whether the cleaned value is a list."""
        return self.type in LIST_TYPES

    @property
    def choice_values(self) -> tuple[str, ...]:
        """The allowed values, in definition order."""
        return tuple(c.value for c in self.choices)

    def choice_label(self, value: Any, lang: str) -> str | None:
        """The label of choice ``value`` in ``lang``, or ``None`` if unknown."""
        for choice in self.choices:
            if choice.value == value:
                return choice.label.get(lang)
        return None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (only keys that differ from their defaults)."""
        data: dict[str, Any] = {"name": self.name, "type": self.type, "label": self.label.to_dict()}
        if self.help is not None:
            data["help"] = self.help.to_dict()
        if self.placeholder is not None:
            data["placeholder"] = self.placeholder.to_dict()
        if self.required:
            data["required"] = True
        if self.readonly:
            data["readonly"] = True
        if self.choices:
            data["choices"] = [c.to_dict() for c in self.choices]
        for key, value in (
            ("max_length", self.max_length),
            ("min_length", self.min_length),
            ("min", self.min_value),
            ("max", self.max_value),
            ("min_items", self.min_items),
            ("max_items", self.max_items),
        ):
            if value is not None:
                data[key] = value
        if self.visible_if is not None:
            data["visible_if"] = self.visible_if.to_dict()
        if self.default is not None:
            data["default"] = copy.deepcopy(self.default)
        return data


@dataclass(frozen=True)
class FormDefinition:
    """A whole form: key, texts and ordered fields."""

    key: str
    title: LocalText
    fields: tuple[FieldDef, ...]
    instructions: LocalText | None = None
    legal_hint: LegalHint | None = None
    confirm: LocalText | None = None

    def field(self, name: str) -> FieldDef:
        """Return the field called ``name`` (``KeyError`` if there is none)."""
        for fdef in self.fields:
            if fdef.name == name:
                return fdef
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Field names in definition order."""
        return tuple(f.name for f in self.fields)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON document; ``load_definition(d.to_dict()) == d``."""
        data: dict[str, Any] = {"key": self.key, "title": self.title.to_dict()}
        if self.instructions is not None:
            data["instructions"] = self.instructions.to_dict()
        if self.legal_hint is not None:
            data["legal_hint"] = self.legal_hint.to_dict()
        if self.confirm is not None:
            data["confirm"] = self.confirm.to_dict()
        data["fields"] = [f.to_dict() for f in self.fields]
        return data

    def to_json(self) -> str:
        """Return :meth:`to_dict` as pretty, non-ASCII-escaped JSON text."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


def normalise_lang(lang: str | None) -> str:
    """Map a language tag (``zh``, ``zh-CN``, ``en_US``...) to ``zh`` or ``en``.

    Anything not English falls back to Chinese, the primary language.
    """
    if lang and lang.lower().replace("_", "-").split("-")[0] == "en":
        return "en"
    return "zh"


# --------------------------------------------------------------------------
# Loading


class _Checker:
    """Collects problems while a definition is parsed."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[tuple[str, str | None, str]] = []

    def add(self, field_name: str | None, problem: str) -> None:
        self.problems.append((self.source, field_name, problem))

    def local_text(
        self, raw: Any, what: str, field_name: str | None, *, legal: bool = False
    ) -> LocalText | None:
        """Parse a ``{"zh", "en"}`` object; record problems and return None if bad."""
        if not isinstance(raw, dict):
            self.add(field_name, f"{what} must be an object with 'zh' and 'en' texts")
            return None
        allowed = {"zh", "en", "article"} if legal else {"zh", "en"}
        ok = True
        for extra in sorted(set(raw) - allowed):
            self.add(field_name, f"{what} has unknown key '{extra}'")
            ok = False
        for lang in LANGUAGES:
            text = raw.get(lang)
            if not isinstance(text, str) or not text.strip():
                self.add(field_name, f"{what} is missing the '{lang}' text")
                ok = False
        article = raw.get("article")
        if legal and article is not None and (not isinstance(article, str) or not article.strip()):
            self.add(field_name, f"{what} 'article' must be a non-empty string")
            ok = False
        if not ok:
            return None
        if legal:
            return LegalHint(zh=raw["zh"], en=raw["en"], article=article)
        return LocalText(zh=raw["zh"], en=raw["en"])


def _parse_json(data: dict[str, Any] | bytes | str, source: str) -> Any:
    if isinstance(data, dict):
        return data
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FormDefinitionError([(source, None, f"not UTF-8: {exc}")]) from None
    if not isinstance(data, str):
        raise FormDefinitionError(
            [(source, None, f"expected a JSON object, bytes or str, got {type(data).__name__}")]
        )
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise FormDefinitionError(
            [(source, None, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")]
        ) from None


def load_definition(data: dict[str, Any] | bytes | str, source: str = "<form>") -> FormDefinition:
    """Parse and check one form definition.

    ``data`` is the decoded JSON object, or the JSON text as ``str``/``bytes``.
    ``source`` (usually the file path) is named in every problem.  All problems
    found are reported together in one :class:`FormDefinitionError`.
    """
    raw = _parse_json(data, source)
    check = _Checker(source)
    if not isinstance(raw, dict):
        check.add(None, "the definition must be a JSON object")
        raise FormDefinitionError(check.problems)

    for extra in sorted(set(raw) - _TOP_KEYS, key=str):
        check.add(None, f"unknown key '{extra}'")
    key = raw.get("key")
    if not isinstance(key, str) or not _KEY_RE.match(key):
        check.add(None, "'key' must be a lower-case identifier such as 'intake_register'")
    title = check.local_text(raw.get("title"), "'title'", None)
    instructions = legal_hint = confirm = None
    if raw.get("instructions") is not None:
        instructions = check.local_text(raw["instructions"], "'instructions'", None)
    if raw.get("legal_hint") is not None:
        hint = check.local_text(raw["legal_hint"], "'legal_hint'", None, legal=True)
        legal_hint = hint if isinstance(hint, LegalHint) else None
    if raw.get("confirm") is not None:
        confirm = check.local_text(raw["confirm"], "'confirm'", None)

    raw_fields = raw.get("fields")
    fields: list[FieldDef] = []
    if not isinstance(raw_fields, list):
        check.add(None, "'fields' must be a list")
        raw_fields = []
    seen: dict[str, FieldDef | None] = {}
    for index, raw_field in enumerate(raw_fields):
        fdef = _load_field(raw_field, index, seen, check)
        if fdef is not None:
            fields.append(fdef)

    if check.problems or title is None:
        if not check.problems:  # pragma: no cover - title problems are always recorded
            check.add(None, "'title' is invalid")
        raise FormDefinitionError(check.problems)
    assert isinstance(key, str)
    return FormDefinition(
        key=key,
        title=title,
        fields=tuple(fields),
        instructions=instructions,
        legal_hint=legal_hint,
        confirm=confirm,
    )


def _load_field(
    raw: Any, index: int, seen: dict[str, FieldDef | None], check: _Checker
) -> FieldDef | None:
    """Parse one field; ``seen`` maps earlier names to their (maybe invalid) defs."""
    if not isinstance(raw, dict):
        check.add(f"#{index + 1}", "a field must be a JSON object")
        return None
    name = raw.get("name")
    if not isinstance(name, str):
        ref = f"#{index + 1}"
        check.add(ref, "'name' is missing or not a string")
    else:
        ref = name
        if name.startswith("_"):
            check.add(name, "names must not start with '_' (reserved)")
        elif not _NAME_RE.match(name) or keyword.iskeyword(name):
            check.add(name, "the name must be an identifier (letters, digits, '_'), not a keyword")
        elif name in RESERVED_NAMES:
            check.add(name, "this name is reserved for the web layer")
        if name in seen:
            check.add(name, "duplicate field name")
    problems_before = len(check.problems)

    ftype = raw.get("type")
    if ftype not in FIELD_TYPES:
        check.add(ref, f"unknown type {ftype!r}; expected one of {', '.join(sorted(FIELD_TYPES))}")
        allowed = _COMMON_FIELD_KEYS | {k for keys in _TYPE_KEYS.values() for k in keys}
    else:
        allowed = _COMMON_FIELD_KEYS | _TYPE_KEYS[ftype]
    for extra in sorted(set(raw) - allowed, key=str):
        check.add(ref, f"unknown key '{extra}' for type {ftype!r}")

    label = check.local_text(raw.get("label"), "'label'", ref)
    help_text = check.local_text(raw["help"], "'help'", ref) if raw.get("help") is not None else None
    placeholder = (
        check.local_text(raw["placeholder"], "'placeholder'", ref)
        if raw.get("placeholder") is not None
        else None
    )
    required = _flag(raw, "required", ref, check)
    readonly = _flag(raw, "readonly", ref, check)
    if required and readonly:
        check.add(ref, "a readonly field cannot be required (it is not submitted)")

    choices = _load_choices(raw, ftype, ref, check)
    max_length = _count(raw, "max_length", ref, check, minimum=1)
    min_length = _count(raw, "min_length", ref, check, minimum=0)
    if max_length is not None and min_length is not None and min_length > max_length:
        check.add(ref, "'min_length' is greater than 'max_length'")
    min_items = _count(raw, "min_items", ref, check, minimum=0)
    max_items = _count(raw, "max_items", ref, check, minimum=1)
    if min_items is not None and max_items is not None and min_items > max_items:
        check.add(ref, "'min_items' is greater than 'max_items'")
    if ftype == "multichoice" and min_items is not None and choices and min_items > len(choices):
        check.add(ref, "'min_items' is greater than the number of choices")
    min_value, max_value = _load_bounds(raw, ftype, ref, check)

    visible_if = None
    if raw.get("visible_if") is not None:
        visible_if = _load_visible_if(raw["visible_if"], ref, seen, check)
    default = raw.get("default")
    if default is not None and isinstance(ftype, str):
        _check_default(default, ftype, choices, ref, check)

    if isinstance(name, str):
        seen.setdefault(name, None)
    if (
        len(check.problems) > problems_before
        or label is None
        or not isinstance(name, str)
        or not isinstance(ftype, str)
    ):
        return None
    fdef = FieldDef(
        name=name,
        type=ftype,
        label=label,
        help=help_text,
        placeholder=placeholder,
        required=required,
        readonly=readonly,
        visible_if=visible_if,
        default=copy.deepcopy(default),
        choices=choices,
        max_length=max_length,
        min_length=min_length,
        min_value=min_value,
        max_value=max_value,
        min_items=min_items,
        max_items=max_items,
    )
    seen[name] = fdef
    return fdef


def _flag(raw: dict[str, Any], key: str, ref: str, check: _Checker) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        check.add(ref, f"'{key}' must be true or false")
        return False
    return value


def _count(raw: dict[str, Any], key: str, ref: str, check: _Checker, *, minimum: int) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        check.add(ref, f"'{key}' must be an integer >= {minimum}")
        return None
    return value


def _load_choices(raw: dict[str, Any], ftype: Any, ref: str, check: _Checker) -> tuple[Choice, ...]:
    if ftype not in ("choice", "multichoice"):
        return ()
    raw_choices = raw.get("choices")
    if not isinstance(raw_choices, list) or not raw_choices:
        check.add(ref, f"a {ftype} field needs a non-empty 'choices' list")
        return ()
    choices: list[Choice] = []
    values: set[str] = set()
    for position, item in enumerate(raw_choices, start=1):
        if not isinstance(item, dict) or set(item) - {"value", "label"}:
            check.add(ref, f"choice #{position} must be an object with 'value' and 'label' only")
            continue
        value = item.get("value")
        if not isinstance(value, str) or not value:
            check.add(ref, f"choice #{position}: 'value' must be a non-empty string")
            continue
        if value in values:
            check.add(ref, f"duplicate choice value {value!r}")
            continue
        values.add(value)
        label = check.local_text(item.get("label"), f"label of choice {value!r}", ref)
        if label is not None:
            choices.append(Choice(value=value, label=label))
    return tuple(choices)


def parse_date_bound(bound: str, today: date) -> date:
    """Resolve a date bound (ISO ``YYYY-MM-DD`` or ``today``/``today±N``)."""
    match = RELATIVE_DATE_RE.match(bound)
    if match:
        sign, days = match.groups()
        delta = timedelta(days=int(days or 0))
        return today - delta if sign == "-" else today + delta
    if not _ISO_DATE_RE.match(bound):
        raise ValueError(bound)
    return date.fromisoformat(bound)


def parse_money_bound(bound: Any) -> Decimal:
    """Resolve a money bound written as a JSON number or numeric string."""
    text = ""
    if isinstance(bound, float):
        text = repr(bound)
    elif isinstance(bound, int | str) and not isinstance(bound, bool):
        text = str(bound).strip()
    if not _MONEY_RE.match(text):
        raise ValueError(bound)
    return Decimal(text)


def _load_bounds(raw: dict[str, Any], ftype: Any, ref: str, check: _Checker) -> tuple[Any, Any]:
    bounds: list[Any] = []
    resolved: list[Any] = []
    for key in ("min", "max"):
        value = raw.get(key)
        bounds.append(value)
        if value is None or ftype not in ("integer", "date", "money"):
            resolved.append(None)
            continue
        try:
            if ftype == "integer":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(value)
                resolved.append(value)
            elif ftype == "date":
                if not isinstance(value, str):
                    raise ValueError(value)
                fixed = not RELATIVE_DATE_RE.match(value)
                resolved.append(parse_date_bound(value, date.today()) if fixed else None)
            else:
                resolved.append(parse_money_bound(value))
        except ValueError:
            expected = {
                "integer": "an integer",
                "date": "an ISO date YYYY-MM-DD, 'today' or 'today+N'/'today-N'",
                "money": "a number or numeric string with at most 2 decimals",
            }[ftype]
            check.add(ref, f"'{key}' must be {expected}")
            resolved.append(None)
    low, high = resolved
    if low is not None and high is not None and low > high:
        check.add(ref, "'min' is greater than 'max'")
    if ftype == "money":
        for key, value in zip(("min", "max"), resolved, strict=True):
            if value is not None and value != value.quantize(Decimal("0.01")):
                check.add(ref, f"'{key}' has more than 2 decimals")
    return bounds[0], bounds[1]


def _load_visible_if(
    raw: Any, ref: str, seen: dict[str, FieldDef | None], check: _Checker
) -> VisibleIf | None:
    if not isinstance(raw, dict):
        check.add(ref, "'visible_if' must be an object")
        return None
    target = raw.get("field")
    modes = [m for m in ("equals", "in", "truthy") if m in raw]
    extra = set(raw) - {"field", "equals", "in", "truthy"}
    if extra:
        check.add(ref, f"'visible_if' has unknown key(s) {', '.join(sorted(extra))}")
        return None
    if len(modes) != 1:
        check.add(ref, "'visible_if' needs exactly one of 'equals', 'in', 'truthy'")
        return None
    if not isinstance(target, str):
        check.add(ref, "'visible_if' needs a 'field' name")
        return None
    if target == ref:
        check.add(ref, "'visible_if' refers to the field itself")
        return None
    if target not in seen:
        check.add(
            ref,
            f"'visible_if' refers to field '{target}', which does not exist "
            "or comes later (it must name an earlier field)",
        )
        return None
    controller = seen[target]
    mode = modes[0]
    if mode == "truthy":
        if not isinstance(raw["truthy"], bool):
            check.add(ref, "'visible_if.truthy' must be true or false")
            return None
        return VisibleIf(field=target, mode="truthy", truthy=raw["truthy"])
    values = [raw["equals"]] if mode == "equals" else raw["in"]
    if mode == "in" and (not isinstance(values, list) or not values):
        check.add(ref, "'visible_if.in' must be a non-empty list")
        return None
    if controller is not None:
        if controller.readonly:
            check.add(ref, f"'visible_if' cannot depend on readonly field '{target}'")
            return None
        if controller.type in ROW_TYPES:
            check.add(ref, f"'visible_if' on a {controller.type} field supports only 'truthy'")
            return None
        for value in values:
            problem = _condition_value_problem(value, controller)
            if problem:
                check.add(ref, f"'visible_if' value {value!r}: {problem}")
                return None
    if mode == "equals":
        return VisibleIf(field=target, mode="equals", equals=copy.deepcopy(raw["equals"]))
    return VisibleIf(field=target, mode="in", values=tuple(values))


def _condition_value_problem(value: Any, controller: FieldDef) -> str | None:
    ctype = controller.type
    if ctype in ("choice", "multichoice"):
        if value not in controller.choice_values:
            return f"is not a choice of '{controller.name}'"
    elif ctype == "boolean":
        if not isinstance(value, bool):
            return "must be true or false"
    elif ctype == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
    elif ctype == "money":
        try:
            parse_money_bound(value)
        except ValueError:
            return "must be a number"
    elif not isinstance(value, str):
        return "must be a string"
    return None


def _check_default(default: Any, ftype: str, choices: tuple[Choice, ...], ref: str, check: _Checker) -> None:
    values = {c.value for c in choices}
    ok = True
    if ftype in ("text", "textarea", "date", "datetime"):
        ok = isinstance(default, str)
    elif ftype == "choice":
        ok = not choices or default in values
    elif ftype == "multichoice":
        ok = isinstance(default, list) and (not choices or all(v in values for v in default))
    elif ftype == "boolean":
        ok = isinstance(default, bool)
    elif ftype == "integer":
        ok = isinstance(default, int) and not isinstance(default, bool)
    elif ftype == "money":
        try:
            parse_money_bound(default)
        except ValueError:
            ok = False
    elif ftype in ROW_TYPES:
        ok = isinstance(default, list) and all(isinstance(row, dict) for row in default)
    if not ok:
        check.add(ref, f"'default' {default!r} does not suit a {ftype} field")


def load_directory(path: str | Path) -> dict[str, FormDefinition]:
    """Load every ``*.json`` in ``path``, keyed by form key.

    Each file's ``key`` must equal its file stem.  Problems in all files are
    collected and raised together as one :class:`FormDefinitionError`.
    """
    directory = Path(path)
    definitions: dict[str, FormDefinition] = {}
    problems: list[tuple[str, str | None, str]] = []
    for file in sorted(directory.glob("*.json")):
        source = str(file)
        try:
            defn = load_definition(file.read_bytes(), source=source)
        except FormDefinitionError as exc:
            problems.extend(exc.problems)
            continue
        if defn.key != file.stem:
            problems.append((source, None, f"key '{defn.key}' does not match the file name '{file.stem}'"))
            continue
        definitions[defn.key] = defn
    if problems:
        raise FormDefinitionError(problems)
    return definitions
