"""Completeness check and context normalisation for document kinds (see ``kinds.py``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from .kinds import BOOL, DATE, INT, ITEMS, LANGS, LIST, MAP, TEXT, Field, get_kind


class IncompleteDocumentError(ValueError):
    """Raised before rendering when required elements are missing; ``missing`` is in the user's language."""

    def __init__(self, missing: list[str]):
        self.missing = list(missing)
        super().__init__("; ".join(self.missing))


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r}; expected one of {LANGS}")


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return False


def _missing(lang: str, label: str) -> str:
    return f"缺少：{label}" if lang == "zh" else f"missing: {label}"


def _invalid(lang: str, label: str, value: Any) -> str:
    return f"无效：{label}（{value}）" if lang == "zh" else f"invalid: {label} ({value!r})"


def _label(f: Field, lang: str, owner: str | None) -> str:
    own = f.zh if lang == "zh" else f.en
    if owner is None:
        return own
    return f"{owner}的{own}" if lang == "zh" else f"{own} of {owner}"


def _item_owner(f: Field, lang: str, index: int, owner: str | None) -> str:
    base = f"{f.zh}{index}" if lang == "zh" else f"{_singular(f.en)} {index}"
    if owner is None:
        return base
    return f"{owner}的{base}" if lang == "zh" else f"{base} of {owner}"


def _singular(word: str) -> str:
    return {"parties": "party", "mediators": "mediator", "statements": "statement",
            "documents": "document"}.get(word, word.removesuffix("s"))


def _valid_date(value: Any) -> bool:
    if isinstance(value, (date, datetime)):
        return True
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value.strip())
        except ValueError:
            return False
        return True
    return False


def _check_fields(fields: tuple[Field, ...], data: Any, lang: str, owner: str | None, out: list[str]) -> None:
    if not isinstance(data, dict):
        data = {}
    for f in fields:
        value = data.get(f.key)
        label = _label(f, lang, owner)
        if f.kind == MAP:
            # A map's required children are reported by their own label ("缺少：履行方式").
            _check_fields(f.fields, value if isinstance(value, dict) else {}, lang, owner, out)
            continue
        if f.kind in (LIST, ITEMS):
            items = value if isinstance(value, (list, tuple)) else []
            if f.kind == LIST:
                items = [v for v in items if not _blank(v)]
            if f.required and len(items) < f.min_items:
                if f.min_items > 1:
                    label += f"（至少{f.min_items}项）" if lang == "zh" else f" (at least {f.min_items})"
                out.append(_missing(lang, label))
            if f.kind == ITEMS:
                for i, item in enumerate(items, start=1):
                    _check_fields(f.fields, item, lang, _item_owner(f, lang, i, owner), out)
            elif f.choices:
                for v in items:
                    if v not in f.choices:
                        out.append(_invalid(lang, label, v))
            continue
        if _blank(value):
            if f.required:
                out.append(_missing(lang, label))
            continue
        bad_date = f.kind == DATE and not _valid_date(value)
        bad_count = f.kind == INT and (isinstance(value, bool) or not isinstance(value, int) or value < 1)
        bad_choice = f.kind == TEXT and f.choices and value not in f.choices
        if bad_date or bad_count or bad_choice:
            out.append(_invalid(lang, label, value))


def check_complete(kind: str, context: dict[str, Any], lang: str = "zh") -> list[str]:
    """Return the missing or invalid required elements of ``kind`` in ``context``, in the user's language.

    An empty list means the document may be rendered.
    """
    _check_lang(lang)
    spec = get_kind(kind)
    out: list[str] = []
    _check_fields(spec.fields, context, lang, None, out)
    return out


def _normalise_value(f: Field, value: Any) -> Any:
    if f.kind == MAP:
        return normalise_fields(f.fields, value if isinstance(value, dict) else {})
    if value is None:
        return _copy_default(f.default)
    if f.kind == ITEMS:
        return [normalise_fields(f.fields, v if isinstance(v, dict) else {}) for v in value]
    if f.kind == LIST:
        return [str(v).strip() for v in value if not _blank(v)]
    if f.kind == TEXT and isinstance(value, str):
        return value.strip()
    if f.kind == BOOL:
        return bool(value)
    return value


def _copy_default(default: Any) -> Any:
    return list(default) if isinstance(default, list) else dict(default) if isinstance(default, dict) else default


def normalise_fields(fields: tuple[Field, ...], data: dict[str, Any]) -> dict[str, Any]:
    """Copy ``data`` keeping declared keys only, with defaults filled in for absent optional keys."""
    return {f.key: _normalise_value(f, data.get(f.key)) for f in fields}


def normalise(kind: str, context: dict[str, Any]) -> dict[str, Any]:
    return normalise_fields(get_kind(kind).fields, context)
