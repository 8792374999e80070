from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date, datetime
from typing import Any

import pytest

from documents import render as render_mod
from documents.completeness import IncompleteDocumentError
from documents.fetcher import PackageOnlyURLFetcher, RefusedURLError
from documents.kinds import (
    DATE,
    INT,
    ITEMS,
    KINDS,
    LIST,
    MAP,
    TEXT,
    Field,
    UnknownDocumentKind,
)
from documents.render import DocumentRenderError, html_to_pdf, render_document
from documents.samples import sample_context

pytestmark = pytest.mark.pdf


def pdf_pages_text(pdf: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]


def squash(text: str) -> str:
    """Drop all whitespace: pypdf breaks long lines where the layout wrapped them."""
    return re.sub(r"\s+", "", text)

# Fixed elements each document must show, beyond the user's data (legal wording, captions, furniture).
FIXED: dict[str, dict[str, list[str]]] = {
    "agreement": {
        "zh": ["人民调解协议书", "当事人基本情况", "纠纷主要事实", "争议事项", "各方责任", "协议内容", "履行方式", "履行地点",
               "履行期限", "签名、盖章或按指印", "人民调解员", "人民调解委员会（印章）", "第二十九条", "第三十一条",
               "第三十二条", "第三十三条", "本协议一式三份", "第1份，共3份", "第2份，共3份", "第3份，共3份", "第1页共1页"],
        "en": ["People's Mediation Agreement", "Manner of performance", "Place of performance",
               "Deadline of performance", "signature, seal or fingerprint", "Committee seal", "Art. 29", "Art. 33",
               "made in 3 copies", "Copy 1 of 3", "Copy 3 of 3", "Page 1 of"],
    },
    "oral_agreement_record": {"zh": ["口头调解协议记录", "第二十八条", "第三十条"], "en": ["Art. 28", "Art. 30"]},
    "application_record": {"zh": ["申请及受理登记表", "当事人申请", "书面申请", "受理日期", "登记人", "第二十七条"],
                           "en": ["Acceptance Record", "application by a party", "Registered by", "Art. 27"]},
    "not_accepted_notice": {"zh": ["不予受理告知书", "不予受理理由", "可以请求处理的机关", "人民调解委员会（印章）"],
                            "en": ["Notice of Non-Acceptance", "Body you may turn to"]},
    "rights_notice": {"zh": ["权利义务告知书", "第二十三条", "第二十四条", "选择或者接受人民调解员", "如实陈述纠纷事实",
                             "不收取任何费用"],
                      "en": ["Art. 23", "Art. 24", "charges no fees"]},
    "mediation_record": {"zh": ["人民调解笔录", "调解时间", "调解地点", "当事人陈述", "证据核实", "调解结果", "记录人",
                                "2026年11月10日09:30", "达成书面调解协议"],
                         "en": ["Mediation Session Record", "Statements", "Evidence checked", "Outcome", "Recorder"]},
    "termination_notice": {"zh": ["终止调解告知书", "第二十六条", "仲裁", "行政", "司法", "人民法院提起诉讼"],
                           "en": ["Article 26", "Arbitration", "Administrative", "Judicial"]},
    "police_agreement": {"zh": ["治安调解协议书", "治安管理处罚法》第九条", "不予处罚", "本协议一式三份", "第3份，共3份",
                                "主持调解民警", "公安机关（印章）"],
                         "en": ["Police Mediation Agreement", "Article 9", "Copy 3 of 3", "Police seal"]},
    "judicial_confirmation_pack": {
        "zh": ["司法确认申请书", "第三十三条", "第二百零五条", "三十日内", "2026年12月31日", "申请材料清单",
               "当事人身份证明", "授权委托书", "送达地址"],
        "en": ["Judicial Confirmation", "Article 33", "Article 205", "31 December 2026", "Materials Checklist",
               "Power of attorney"]},
    "referral_letter": {"zh": ["纠纷转介函", "劳动人事争议仲裁机构", "转介理由", "随附材料"],
                        "en": ["Referral Letter", "labour dispute arbitration body", "Enclosures"]},
    "return_visit_record": {"zh": ["人民调解回访记录", "已全部履行", "第三十一条"], "en": ["fully performed", "Art. 31"]},
    "case_file_index": {"zh": ["人民调解卷宗目录", "起止页码", "1–1", "5–7", "合计", "第二十七条"],
                        "en": ["Case File Index", "Page range", "5–7", "Total"]},
}

_RENDERED: dict[tuple[str, str], Any] = {}


def rendered(kind: str, lang: str, generated_at: datetime) -> Any:
    key = (kind, lang)
    if key not in _RENDERED:
        _RENDERED[key] = render_document(kind, sample_context(kind, lang), lang, generated_at=generated_at)
    return _RENDERED[key]


def _required_values(fields: tuple[Field, ...], data: Any, lang: str) -> list[str]:
    """Every required user value that must be printed (dates in their printed form; choice codes skipped)."""
    out: list[str] = []
    for f in fields:
        value = data.get(f.key) if isinstance(data, dict) else None
        if f.kind == MAP:
            out += _required_values(f.fields, value or {}, lang)
        elif not f.required or value in (None, "", []) or f.choices:
            continue
        elif f.kind == ITEMS:
            for item in value:
                out += _required_values(f.fields, item, lang)
        elif f.kind == LIST:
            out += [str(v) for v in value]
        elif f.kind == DATE:
            d = datetime.fromisoformat(value)
            out.append(render_mod._format_date(d.date() if len(value) <= 10 else d, lang,
                                               with_time=len(value) > 10))
        elif f.kind in (TEXT, INT):
            out.append(str(value))
    return out


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_required_element_is_printed(kind: str, lang: str, generated_at: datetime) -> None:
    doc = rendered(kind, lang, generated_at)
    text = squash("\n".join(pdf_pages_text(doc.pdf)))
    assert doc.page_count == len(pdf_pages_text(doc.pdf)) >= 1
    expected = _required_values(KINDS[kind].fields, sample_context(kind, lang), lang) + FIXED[kind][lang]
    missing = [s for s in expected if squash(s) not in text]
    assert not missing, f"{kind}/{lang}: not in the PDF text: {missing}"
    assert doc.title == KINDS[kind].title(lang)
    assert doc.filename == f"2026-015_{kind}_{lang}.pdf"
    assert len(doc.sha256) == 64


def test_page_footer_counts_pages_per_copy(generated_at: datetime) -> None:
    ctx = sample_context("agreement")
    ctx["terms"] = [f"第{i}项：双方确认的协议条款内容，用于测试分页。" * 3 for i in range(1, 40)]
    doc = render_document("agreement", ctx, "zh", generated_at=generated_at)
    pages = [squash(t) for t in pdf_pages_text(doc.pdf)]
    per_copy = doc.page_count // 3
    assert per_copy >= 2 and doc.page_count == 3 * per_copy and doc.copies == 3
    for k in range(3):
        for p in range(per_copy):
            text = pages[k * per_copy + p]
            assert f"第{p + 1}页共{per_copy}页" in text
            assert f"第{k + 1}份，共3份" in text


def test_one_copy(generated_at: datetime) -> None:
    doc = render_document("agreement", sample_context("agreement"), "zh", generated_at=generated_at, copy=2)
    assert doc.copies == 1 and doc.page_count == 1 and doc.filename.endswith("_copy2.pdf")
    text = squash(pdf_pages_text(doc.pdf)[0])
    assert "第2份，共3份" in text and "第1份" not in text
    with pytest.raises(ValueError):
        render_document("agreement", sample_context("agreement"), "zh", copy=4)
    with pytest.raises(ValueError):
        render_document("rights_notice", sample_context("rights_notice"), "zh", copy=1)


def test_rare_surname_characters_have_glyphs(generated_at: datetime) -> None:
    from fontTools.ttLib import TTCollection

    if not shutil.which("fc-match"):
        pytest.skip("fontconfig's fc-match is not available")
    found = subprocess.run(["fc-match", "-f", "%{family}|%{file}", "WenQuanYi Micro Hei"],
                           capture_output=True, text=True, check=True).stdout
    if "WenQuanYi" not in found:
        pytest.skip("fonts-wqy-microhei is not installed")
    cmap = TTCollection(found.split("|", 1)[1]).fonts[0].getBestCmap()
    rare = "亓赟仝喆乜"
    assert all(ord(c) in cmap for c in rare)
    text = "".join(pdf_pages_text(rendered("agreement", "zh", generated_at).pdf))
    for name in ("亓赟", "仝喆", "乜红梅"):
        assert name in text


def test_deterministic_for_the_same_input(generated_at: datetime) -> None:
    a = render_document("rights_notice", sample_context("rights_notice"), "zh", generated_at=generated_at)
    b = render_document("rights_notice", sample_context("rights_notice"), "zh", generated_at=generated_at)
    assert a.sha256 == b.sha256


# --- archival properties -------------------------------------------------------------------------------

def test_pdfa_identification_and_metadata(generated_at: datetime) -> None:
    from pypdf import PdfReader

    doc = rendered("agreement", "zh", generated_at)
    reader = PdfReader(io.BytesIO(doc.pdf))
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert "人民调解协议书" in xmp
    assert root["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    info = reader.metadata
    assert info.title == "人民调解协议书 东调〔2026〕015"
    assert "东调〔2026〕015" in info["/Keywords"] and "2026-12-01T09:30:00Z" in info["/Keywords"]
    assert info["/casenumber"] == "东调〔2026〕015"
    assert info["/generatedat"] == "2026-12-01T09:30:00Z"
    assert info["/documentlanguage"] == "zh"
    assert info["/CreationDate"].startswith("D:20261201093000")
    assert root["/Lang"] == "zh-CN"
    assert reader.pdf_header == "%PDF-1.7"


def _font_descriptors(pdf: bytes) -> list[Any]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    found = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for desc in font.get("/DescendantFonts", [font]):
                desc = desc.get_object()
                if "/FontDescriptor" in desc:
                    found.append((str(font["/BaseFont"]), desc["/FontDescriptor"].get_object()))
    return found


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_fonts_are_embedded_and_subset(lang: str, generated_at: datetime) -> None:
    fonts = _font_descriptors(rendered("agreement", lang, generated_at).pdf)
    assert fonts
    for base, desc in fonts:
        assert "/FontFile2" in desc or "/FontFile3" in desc, base
        assert base[7:8] == "+", f"{base} is not a subset"
    names = " ".join(b for b, _ in fonts)
    assert "WenQuanYi" in names  # CJK (also in the en sample: the names carry characters)
    assert "DejaVu-Sans" in names
    assert "Serif" not in names  # the footer margin boxes use the html font stack


def test_agreement_page_one_as_png_is_not_blank(tmp_path: Any, generated_at: datetime) -> None:
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    from PIL import Image

    for lang in ("zh", "en"):
        pdf = tmp_path / f"agreement_{lang}.pdf"
        pdf.write_bytes(rendered("agreement", lang, generated_at).pdf)
        subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                        str(tmp_path / lang)], check=True)
        with Image.open(tmp_path / f"{lang}.png") as img:
            grey = img.convert("L")
            dark = sum(grey.histogram()[:200])
            assert dark > 0.02 * grey.width * grey.height, f"{lang}: page looks blank ({dark} dark pixels)"
            assert grey.width < grey.height  # portrait A4


# --- refusal before rendering ----------------------------------------------------------------------------

@pytest.mark.parametrize(("lang", "message"), [("zh", "缺少：履行方式"), ("en", "missing: manner of performance")])
def test_incomplete_agreement_is_refused_before_rendering(lang: str, message: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: Any, **k: Any) -> None:
        raise AssertionError("rendering started")

    monkeypatch.setattr(render_mod, "html_to_pdf", boom)
    monkeypatch.setattr(render_mod, "jinja_env", boom)
    ctx = sample_context("agreement", lang)
    ctx["performance"]["manner"] = ""
    with pytest.raises(IncompleteDocumentError) as exc:
        render_document("agreement", ctx, lang)
    assert exc.value.missing == [message]


def test_unknown_kind_and_language() -> None:
    with pytest.raises(UnknownDocumentKind):
        render_document("nope", {}, "zh")
    with pytest.raises(ValueError):
        render_document("agreement", sample_context("agreement"), "de")


# --- no outside resources ----------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://example.com/x.png", "https://example.com/a.css",
                                 "ftp://example.com/x", "data:image/png;base64,AAAA", "fengqiao-static:../render.py",
                                 "fengqiao-static:nope.css"])
def test_fetcher_refuses_everything_outside_the_package(url: str) -> None:
    fetcher = PackageOnlyURLFetcher()
    with pytest.raises(RefusedURLError):
        fetcher.fetch(url)
    assert fetcher.refused == [url]


def test_fetcher_serves_packaged_static_files() -> None:
    response = PackageOnlyURLFetcher().fetch("fengqiao-static:print.css")
    assert b"WenQuanYi Micro Hei" in response.read() and response.content_type == "text/css"


@pytest.mark.parametrize("html", [
    '<p>x</p><img src="file:///etc/passwd">',
    '<p style="background: url(http://127.0.0.1:9/track.png)">x</p>',
    '<link rel="stylesheet" href="https://example.com/evil.css"><p>x</p>',
])
def test_markup_that_reaches_weasyprint_cannot_fetch(html: str) -> None:
    fetcher = PackageOnlyURLFetcher()
    with pytest.raises(DocumentRenderError):
        html_to_pdf(html, fetcher)
    assert fetcher.refused and not fetcher.refused[0].startswith("fengqiao-static:")


def test_user_data_is_escaped_and_fetches_nothing(monkeypatch: pytest.MonkeyPatch, generated_at: datetime) -> None:
    calls: list[str] = []
    original = PackageOnlyURLFetcher.fetch

    def spy(self: PackageOnlyURLFetcher, url: str, headers: Any = None) -> Any:
        calls.append(url)
        return original(self, url, headers)

    monkeypatch.setattr(PackageOnlyURLFetcher, "fetch", spy)
    evil = '<img src="file:///etc/passwd"><img src="http://example.com/t.png">'
    ctx = sample_context("agreement")
    ctx["facts"] = evil
    ctx["parties"][0]["name"] = '<script>x</script>张三'
    doc = render_document("agreement", ctx, "zh", generated_at=generated_at, copy=1)
    assert calls == []
    text = squash(pdf_pages_text(doc.pdf)[0])
    assert squash(evil) in text and "<script>x</script>张三" in text


def test_dates_accept_objects_and_strings(generated_at: datetime) -> None:
    ctx = sample_context("return_visit_record")
    ctx["visited_on"] = date(2027, 1, 5)
    doc = render_document("return_visit_record", ctx, "en", generated_at=generated_at)
    assert "5 January 2027" in pdf_pages_text(doc.pdf)[0]
