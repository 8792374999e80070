"""Render a document kind from plain data to an archival PDF (PDF/A-3b) with Jinja2 and WeasyPrint.

Speed (warm, per process): the Jinja environment, the parsed print stylesheet (one ``weasyprint.CSS``)
and a per-thread ``FontConfiguration`` are built once and reused; the stylesheet has no ``@font-face``
and no ``url()``; tables use ``table-layout: fixed`` and nothing uses flexbox (flex and auto tables
were a third of the layout time); fonts are subset by HarfBuzz (``libharfbuzz-subset0``; without it
WeasyPrint falls back to fontTools and a render takes seconds).
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any

import jinja2
import weasyprint
from weasyprint.css import ColorProfile
from weasyprint.text.fonts import FontConfiguration

from .completeness import IncompleteDocumentError, check_complete, normalise
from .fetcher import SCHEME, PackageOnlyURLFetcher, RefusedURLError
from .kinds import get_kind

__all__ = ["DocumentRenderError", "IncompleteDocumentError", "RenderedDocument", "render_document"]

PDF_VARIANT = "pdf/a-3b"
HTML_LANG = {"zh": "zh-CN", "en": "en"}
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")


@dataclass(frozen=True)
class RenderedDocument:
    kind: str
    lang: str
    filename: str
    pdf: bytes
    sha256: str
    title: str
    page_count: int
    copies: int = 1  # how many copies this PDF holds (agreement: parties + 1 unless one copy was asked for)


class DocumentRenderError(RuntimeError):
    """WeasyPrint could not render the document (for instance a refused resource URL)."""


# ---------------------------------------------------------------------------------------------------
# Cached machinery

def _as_datetime(value: Any) -> datetime | date | None:
    if isinstance(value, (datetime, date)):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip()
        parsed = datetime.fromisoformat(text)
        # A bare date string stays a date (no "00:00" printed).
        return parsed.date() if len(text) <= 10 else parsed
    return None


def _format_date(value: Any, lang: str, with_time: bool = False) -> str:
    d = _as_datetime(value)
    if d is None:
        return str(value or "")
    clock = f"{d.hour:02d}:{d.minute:02d}" if with_time and isinstance(d, datetime) else ""
    if lang == "zh":
        out = f"{d.year}年{d.month}月{d.day}日"
        return f"{out} {clock}" if clock else out
    out = f"{d.day} {_EN_MONTHS[d.month - 1]} {d.year}"
    return f"{out}, {clock}" if clock else out


@jinja2.pass_context
def _date_filter(ctx: jinja2.runtime.Context, value: Any) -> str:
    return _format_date(value, ctx["lang"])


@jinja2.pass_context
def _datetime_filter(ctx: jinja2.runtime.Context, value: Any) -> str:
    return _format_date(value, ctx["lang"], with_time=True)


def _add_days(value: Any, days: int) -> date:
    d = _as_datetime(value)
    if d is None:
        raise ValueError(f"not a date: {value!r}")
    d = d.date() if isinstance(d, datetime) else d
    return d + timedelta(days=days)


def _cn_number(n: int) -> str:
    """Small integers as Chinese numerals (一式三份)."""
    digits = "零一二三四五六七八九"
    if 0 <= n < 10:
        return digits[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")
    return str(n)


_env_lock = threading.Lock()
_env: jinja2.Environment | None = None
_css: weasyprint.CSS | None = None
_local = threading.local()
_icc: bytes | None = None
_INTENT = "fengqiao-srgb"


def jinja_env() -> jinja2.Environment:
    global _env
    if _env is None:
        with _env_lock:
            if _env is None:
                env = jinja2.Environment(
                    loader=jinja2.PackageLoader("documents", "templates"),
                    autoescape=True,
                    undefined=jinja2.StrictUndefined,
                    trim_blocks=True,
                    lstrip_blocks=True,
                    auto_reload=False,
                )
                env.filters["d"] = _date_filter
                env.filters["dt"] = _datetime_filter
                env.filters["cn"] = _cn_number
                env.globals["add_days"] = _add_days
                _env = env
    return _env


def _stylesheet() -> weasyprint.CSS:
    global _css
    if _css is None:
        with _env_lock:
            if _css is None:
                text = (resources.files("documents") / "static" / "print.css").read_text(encoding="utf-8")
                _css = weasyprint.CSS(string=text, base_url=SCHEME, url_fetcher=PackageOnlyURLFetcher())
    return _css


def _font_config() -> FontConfiguration:
    # One per thread: FontConfiguration wraps a Pango font map, which is not shared across threads.
    fc = getattr(_local, "font_config", None)
    if fc is None:
        fc = _local.font_config = FontConfiguration()
    return fc


# ---------------------------------------------------------------------------------------------------
# Page furniture (footer "第 x 页 共 y 页", copy numbers); built from our own strings only

def _footer(lang: str, total: str) -> str:
    if lang == "zh":
        return f'"第 " counter(page) " 页 共 " {total} " 页"'
    return f'"Page " counter(page) " of " {total}'


def _copy_label(lang: str, k: int, n: int) -> str:
    return f"第 {k} 份，共 {n} 份" if lang == "zh" else f"Copy {k} of {n}"


def _page_css(lang: str, copies: list[int], n_copies: int) -> str:
    box = "font-size: 9pt; color: #333;"
    if not copies:
        return f"@page {{ @bottom-center {{ content: {_footer(lang, 'counter(pages)')}; {box} }} }}"
    rules = []
    for k in copies:
        total = f'target-counter("#end-{k}", page)'
        rules.append(
            f".copy-{k} {{ page: copy{k}; }}\n"
            f"@page copy{k} {{ @bottom-center {{ content: {_footer(lang, total)}; {box} }}\n"
            f'  @top-right {{ content: "{_copy_label(lang, k, n_copies)}"; font-size: 8.5pt; color: #444; }} }}\n'
            f"@page :nth(1 of copy{k}) {{ counter-reset: page 1; }}"
        )
    return "\n".join(rules)


def _w3c(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _filename(case_number: str, kind: str, lang: str, copy: int | None) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", case_number).strip("-.") or "case"
    suffix = f"_copy{copy}" if copy is not None else ""
    return f"{safe}_{kind}_{lang}{suffix}.pdf"


# ---------------------------------------------------------------------------------------------------

def render_html(kind: str, context: dict[str, Any], lang: str = "zh", *,
                generated_at: datetime | None = None, copy: int | None = None) -> tuple[str, list[int]]:
    """Check, normalise and render the HTML of a document; returns (html, copy numbers in it)."""
    spec = get_kind(kind)
    missing = check_complete(kind, context, lang)
    if missing:
        raise IncompleteDocumentError(missing)
    data = normalise(kind, context)
    n_copies = spec.copies(data) if spec.copies else 0
    if copy is not None:
        if not n_copies:
            raise ValueError(f"{kind} has no numbered copies")
        if not 1 <= copy <= n_copies:
            raise ValueError(f"copy must be between 1 and {n_copies}, not {copy}")
        copies = [copy]
    else:
        copies = list(range(1, n_copies + 1))
    generated_at = generated_at or datetime.now(UTC)
    title = spec.title(lang)
    template = jinja_env().get_template(f"{lang}/{spec.template}")
    html = template.render(
        **data,
        kind=kind,
        lang=lang,
        html_lang=HTML_LANG[lang],
        doc_title=title,
        copies=copies or [0],
        n_copies=n_copies,
        page_css=_page_css(lang, copies, n_copies),
        generated_at=_w3c(generated_at),
        generated_at_display=_format_date(generated_at, lang, with_time=True),
    )
    return html, copies


def _output_intent() -> dict[str, ColorProfile]:
    # PDF/A needs an output intent. WeasyPrint's default ("srgb") opens its sRGB2014.icc without closing
    # it (a ResourceWarning on every render); we hand it the same profile from bytes read once.
    global _icc
    if _icc is None:
        _icc = (resources.files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()
    profile = ColorProfile(io.BytesIO(_icc), "sRGB2014.icc", "relative-colorimetric", (["r"], ["g"], ["b"]))
    return {_INTENT: profile}


def html_to_pdf(html: str, fetcher: PackageOnlyURLFetcher | None = None) -> tuple[bytes, int]:
    """Lay out and write ``html`` as PDF/A-3b through the package-only fetcher; returns (pdf, pages)."""
    fetcher = fetcher or PackageOnlyURLFetcher()
    options = {"stylesheets": [_stylesheet()], "pdf_variant": PDF_VARIANT, "custom_metadata": True,
               "output_intent": _INTENT}
    font_config = _font_config()
    try:
        doc = weasyprint.HTML(string=html, base_url=SCHEME, url_fetcher=fetcher).render(
            font_config=font_config, color_profiles=_output_intent(), **options)
        pdf = doc.write_pdf(**options)
    except RefusedURLError as exc:
        raise DocumentRenderError(str(exc)) from exc
    return pdf, len(doc.pages)


def render_document(kind: str, context: dict[str, Any], lang: str = "zh", *,
                    generated_at: datetime | None = None, copy: int | None = None) -> RenderedDocument:
    """Render ``kind`` from plain ``context`` data in ``lang`` ("zh" or "en").

    Raises ``IncompleteDocumentError(missing)`` before rendering anything when required elements are
    missing, ``UnknownDocumentKind`` for an unknown kind and ``ValueError`` for a bad ``lang``/``copy``.
    Kinds with numbered copies (agreement, police_agreement) put all copies in one PDF unless ``copy``
    asks for one of them.
    """
    html, copies = render_html(kind, context, lang, generated_at=generated_at, copy=copy)
    pdf, pages = html_to_pdf(html)
    spec = get_kind(kind)
    return RenderedDocument(
        kind=kind,
        lang=lang,
        filename=_filename(str(context["case_number"]), kind, lang, copy),
        pdf=pdf,
        sha256=hashlib.sha256(pdf).hexdigest(),
        title=spec.title(lang),
        page_count=pages,
        copies=max(len(copies), 1),
    )
