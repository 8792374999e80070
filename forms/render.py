"""Everything the web templates need to draw a form, as plain dicts.

:func:`render_fields` returns one dict per field (see its docstring for the
keys); :func:`title`, :func:`instructions`, :func:`legal_hint`,
:func:`confirm_text` and :func:`general_errors` give the texts around them.
No HTML is produced here: templates stay in the web package.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from .definition import (
    EVIDENCE_KINDS,
    PARTY_ROLES,
    ROW_TYPES,
    FieldDef,
    FormDefinition,
    LocalText,
    normalise_lang,
    parse_date_bound,
)
from .schema import (
    EVIDENCE_KEYS,
    PARTY_KEYS,
    SHANGHAI,
    clean_value,
    format_money,
    from_form_mapping,
    parse_money,
    today,
)

__all__ = [
    "INPUT_TYPES",
    "confirm_text",
    "display_value",
    "general_errors",
    "instructions",
    "legal_hint",
    "render_fields",
    "title",
]

#: HTML input type per field type (``rows`` = a table of sub-inputs).
INPUT_TYPES: dict[str, str] = {
    "text": "text",
    "textarea": "textarea",
    "integer": "number",
    "date": "date",
    "datetime": "datetime-local",
    "choice": "select",
    "multichoice": "checkboxes",
    "boolean": "radio",
    "money": "text",
    "parties": "rows",
    "evidence": "rows",
}

_T = LocalText
_YES_NO = (("true", _T("是", "Yes")), ("false", _T("否", "No")))
_ROLE_LABELS = {
    "applicant": _T("申请人", "Applicant"),
    "respondent": _T("被申请人", "Respondent"),
    "third_party": _T("第三人", "Third party"),
}
_KIND_LABELS = {
    "document": _T("书证", "Document"),
    "photo": _T("照片", "Photo"),
    "audio": _T("录音", "Audio recording"),
    "video": _T("录像", "Video"),
    "witness": _T("证人证言", "Witness statement"),
    "physical": _T("物证", "Physical evidence"),
    "other": _T("其他", "Other"),
}
# (key, label, input type, required, choices)
_COLUMNS: dict[str, tuple[tuple[str, LocalText, str, bool, tuple[tuple[str, LocalText], ...]], ...]] = {
    "parties": (
        ("role", _T("身份", "Role"), "select", True, tuple((r, _ROLE_LABELS[r]) for r in PARTY_ROLES)),
        ("name", _T("姓名或名称", "Name"), "text", True, ()),
        ("id_number", _T("身份证号码", "Resident ID number"), "text", False, ()),
        ("phone", _T("联系电话", "Phone"), "tel", False, ()),
        ("address", _T("住址", "Address"), "text", False, ()),
        ("relation", _T("关系", "Relationship"), "text", False, ()),
    ),
    "evidence": (
        ("description", _T("证据说明", "Description"), "textarea", True, ()),
        ("provided_by", _T("提供人", "Provided by"), "text", False, ()),
        ("kind", _T("证据类型", "Kind"), "select", False, tuple((k, _KIND_LABELS[k]) for k in EVIDENCE_KINDS)),
    ),
}
_MAX_SUB_LENGTH = {"name": 100, "id_number": 18, "phone": 20, "address": 200, "relation": 50,
                   "description": 1000, "provided_by": 100}
assert tuple(c[0] for c in _COLUMNS["parties"]) == PARTY_KEYS
assert tuple(c[0] for c in _COLUMNS["evidence"]) == EVIDENCE_KEYS


def title(defn: FormDefinition, lang: str) -> str:
    """The form title in ``lang``."""
    return defn.title.get(lang)


def instructions(defn: FormDefinition, lang: str) -> str | None:
    """The instructions in ``lang``, or ``None``."""
    return defn.instructions.get(lang) if defn.instructions else None


def legal_hint(defn: FormDefinition, lang: str) -> dict[str, str | None] | None:
    """``{"text": ..., "article": ...}`` in ``lang``, or ``None`` without a hint."""
    if defn.legal_hint is None:
        return None
    return {"text": defn.legal_hint.get(lang), "article": defn.legal_hint.article}


def confirm_text(defn: FormDefinition, lang: str) -> str | None:
    """The confirmation question to ask before submitting, or ``None``."""
    return defn.confirm.get(lang) if defn.confirm else None


def general_errors(defn: FormDefinition, errors: Mapping[str, list[str]] | None) -> list[str]:
    """Errors to show above the form: ``_schema`` plus any key naming no field."""
    if not errors:
        return []
    names = set(defn.field_names)
    out: list[str] = []
    for key, messages in errors.items():
        if key == "_schema" or key.split(".")[0] not in names:
            out.extend(messages)
    return out


def display_value(fdef: FieldDef, value: Any, lang: str) -> str:
    """A human-readable text for a (cleaned) value, e.g. for readonly fields.

    Choices show their labels, booleans 是/否 (Yes/No), money ``6,000.00 元``
    (``¥6,000.00``); rows show one line per item.
    """
    lang = normalise_lang(lang)
    if value is None or value == "" or value == []:
        return ""
    sep = "、" if lang == "zh" else ", "
    if fdef.type == "choice":
        return fdef.choice_label(value, lang) or str(value)
    if fdef.type == "multichoice":
        items = value if isinstance(value, list | tuple) else [value]
        return sep.join(fdef.choice_label(v, lang) or str(v) for v in items)
    if fdef.type == "boolean" and isinstance(value, bool):
        return _YES_NO[0 if value else 1][1].get(lang)
    if fdef.type == "money":
        amount = parse_money(value)
        if amount is None:
            return str(value)
        return f"{amount:,.2f} 元" if lang == "zh" else f"¥{amount:,.2f}"
    if fdef.type == "datetime":
        local = _local_datetime(value)
        return local.replace("T", " ") if local else str(value)
    if fdef.type in ROW_TYPES and isinstance(value, list):
        return "\n".join(_row_summary(fdef.type, row, lang) for row in value if isinstance(row, Mapping))
    return str(value)


def _row_summary(ftype: str, row: Mapping[str, Any], lang: str) -> str:
    parts: list[str] = []
    for key, _label, _input, _req, choices in _COLUMNS[ftype]:
        value = row.get(key)
        if value in (None, ""):
            continue
        labels = dict(choices)
        parts.append(labels[value].get(lang) if value in labels else str(value))
    return (" / ").join(parts)


def _local_datetime(value: Any) -> str | None:
    """``YYYY-MM-DDTHH:MM`` in Asia/Shanghai for a datetime-local input."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(SHANGHAI)
    return moment.strftime("%Y-%m-%dT%H:%M")


def _html_value(fdef: FieldDef, value: Any) -> str:
    """The ``value`` attribute for a scalar input ("" when empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if fdef.type == "datetime":
        return _local_datetime(value) or str(value)
    if fdef.type == "money" and not isinstance(value, str):
        amount = parse_money(value)
        return format_money(amount) if amount is not None else str(value)
    return str(value)


def _condition_json(defn: FormDefinition, fdef: FieldDef) -> str | None:
    """``visible_if`` as JSON for the page script: ``{"field", "in": [...]}`` with
    the values as the HTML inputs submit them, or ``{"field", "truthy": bool}``."""
    cond = fdef.visible_if
    if cond is None:
        return None
    controller = defn.field(cond.field)
    data: dict[str, Any] = {"field": cond.field, "controller_type": controller.type}
    if cond.mode == "truthy":
        data["truthy"] = cond.truthy
    else:
        wanted = (cond.equals,) if cond.mode == "equals" else cond.values
        data["in"] = [_html_value(controller, v) for v in wanted]
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def _attrs(fdef: FieldDef) -> dict[str, Any]:
    """HTML attributes (``required`` is left to the template: hidden fields must not block)."""
    attrs: dict[str, Any] = {}
    if fdef.type in ("text", "textarea"):
        attrs["maxlength"] = fdef.effective_max_length
        if fdef.min_length is not None:
            attrs["minlength"] = fdef.min_length
    elif fdef.type == "integer":
        attrs["step"] = 1
        for key, bound in (("min", fdef.min_value), ("max", fdef.max_value)):
            if bound is not None:
                attrs[key] = bound
    elif fdef.type == "date":
        for key, bound in (("min", fdef.min_value), ("max", fdef.max_value)):
            if bound is not None:
                attrs[key] = parse_date_bound(bound, today()).isoformat()
    elif fdef.type == "money":
        attrs["inputmode"] = "decimal"
    if fdef.readonly:
        attrs["readonly"] = True
    return attrs


def _first_filled(cleaned: Any, raw: Any) -> Any:
    return raw if cleaned is None or cleaned == [] else cleaned


def _loose(fdef: FieldDef, value: Any, lang: str) -> Any:
    """Clean a value for visibility decisions, ``None`` if invalid."""
    try:
        return clean_value(fdef, value, lang)
    except ValidationError:
        return None


def _rows(
    fdef: FieldDef, value: Any, errors: Mapping[str, list[str]], lang: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    existing = [r for r in value if isinstance(r, Mapping)] if isinstance(value, list | tuple) else []
    count = max(len(existing) + 1, fdef.min_items or 0)
    if fdef.max_items is not None:
        count = max(min(count, fdef.max_items), len(existing))
    rows = [
        _row(fdef, index, existing[index] if index < len(existing) else None, errors, lang)
        for index in range(count)
    ]
    return rows, _row(fdef, "__index__", None, {}, lang)


def _row(
    fdef: FieldDef, index: int | str, row: Mapping[str, Any] | None, errors: Mapping[str, list[str]], lang: str
) -> dict[str, Any]:
    prefix = f"{fdef.name}.{index}"
    cells = []
    for key, label, input_type, required, choices in _COLUMNS[fdef.type]:
        raw = row.get(key) if row else None
        current = "" if raw is None else str(raw)
        cell: dict[str, Any] = {
            "key": key,
            "name": f"{fdef.name}-{index}-{key}",
            "id": f"field-{fdef.name}-{index}-{key}",
            "label": label.get(lang),
            "input_type": input_type,
            "required": required,
            "value": current,
            "choices": [
                {"value": v, "label": text.get(lang), "selected": v == current} for v, text in choices
            ],
            "errors": list(errors.get(f"{prefix}.{key}", [])),
            "attrs": {"maxlength": _MAX_SUB_LENGTH[key]} if key in _MAX_SUB_LENGTH else {},
        }
        cells.append(cell)
    return {
        "index": index,
        "blank": row is None,
        "errors": list(errors.get(prefix, [])),
        "cells": cells,
    }


def render_fields(
    defn: FormDefinition,
    lang: str,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, list[str]] | None = None,
) -> list[dict[str, Any]]:
    """Describe every field of ``defn`` for a template, in definition order.

    ``values`` may be stored/cleaned data (a dict) or a re-posted HTML form
    (anything with ``getlist``, converted by ``from_form_mapping``).  Field
    ``default``s fill absent keys unless ``values`` is a posted form.
    ``errors`` is the dict from ``validate_submission``.

    Keys of each dict: ``name``, ``id``, ``type``, ``input_type`` (see
    :data:`INPUT_TYPES`), ``label``, ``help``, ``placeholder``, ``required``,
    ``readonly``, ``attrs`` (HTML attributes such as ``maxlength``/``min``),
    ``choices`` (``value``/``label``/``selected``; booleans get ``true``/``false``),
    ``value`` (string for the input), ``values`` (selected list, multichoice),
    ``display`` (human-readable value), ``errors`` (this field's messages),
    ``visible_if`` (JSON string for ``data-visible-if`` or ``None``),
    ``visible`` (initial visibility from the values), and for ``parties``/
    ``evidence``: ``columns``, ``rows`` (existing rows plus a spare blank one,
    at least ``min_items``; each ``{"index", "blank", "errors", "cells"}``,
    cell names ``<field>-<i>-<key>``), ``row_template`` (index ``__index__``),
    ``min_items``, ``max_items``.
    """
    lang = normalise_lang(lang)
    errors = errors or {}
    if values is not None and callable(getattr(values, "getlist", None)):
        current: Mapping[str, Any] = from_form_mapping(defn, values)
        use_defaults = False
    else:
        current = values or {}
        use_defaults = True

    out: list[dict[str, Any]] = []
    visible: dict[str, bool] = {}
    loose: dict[str, Any] = {}
    for fdef in defn.fields:
        if fdef.name in current:
            value = current[fdef.name]
        else:
            value = fdef.default if use_defaults else None
        loose[fdef.name] = _loose(fdef, value, lang)
        shown = True
        if fdef.visible_if is not None:
            controller = defn.field(fdef.visible_if.field)
            shown = visible.get(controller.name, False) and fdef.visible_if.matches(
                loose.get(controller.name), controller.type
            )
        visible[fdef.name] = shown

        item: dict[str, Any] = {
            "name": fdef.name,
            "id": f"field-{fdef.name}",
            "type": fdef.type,
            "input_type": INPUT_TYPES[fdef.type],
            "label": fdef.label.get(lang),
            "help": fdef.help.get(lang) if fdef.help else None,
            "placeholder": fdef.placeholder.get(lang) if fdef.placeholder else None,
            "required": fdef.required,
            "readonly": fdef.readonly,
            "attrs": _attrs(fdef),
            "errors": list(errors.get(fdef.name, [])),
            "visible_if": _condition_json(defn, fdef),
            "visible": shown,
            "display": display_value(fdef, _first_filled(loose[fdef.name], value), lang),
            "choices": [],
            "value": "",
            "values": [],
        }
        if fdef.type == "multichoice":
            selected = [str(v) for v in (value if isinstance(value, list | tuple) else [value]) if v not in (None, "")]
            item["values"] = selected
            item["choices"] = [
                {"value": c.value, "label": c.label.get(lang), "selected": c.value in selected}
                for c in fdef.choices
            ]
        elif fdef.type in ROW_TYPES:
            item["rows"], item["row_template"] = _rows(fdef, value, errors, lang)
            item["columns"] = [
                {"key": key, "label": label.get(lang), "input_type": input_type, "required": req}
                for key, label, input_type, req, _choices in _COLUMNS[fdef.type]
            ]
            item["min_items"] = fdef.min_items
            item["max_items"] = fdef.max_items
        else:
            item["value"] = _html_value(fdef, value)
            if fdef.type == "choice":
                item["choices"] = [
                    {"value": c.value, "label": c.label.get(lang), "selected": c.value == item["value"]}
                    for c in fdef.choices
                ]
            elif fdef.type == "boolean":
                shown_value = _html_value(fdef, loose[fdef.name])
                item["choices"] = [
                    {"value": v, "label": text.get(lang), "selected": v == shown_value} for v, text in _YES_NO
                ]
        out.append(item)
    return out
