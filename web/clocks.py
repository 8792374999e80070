"""How a deadline's legal basis is shown: the statute and article in the reader's language, or
"local rule" for clocks that are configurable practice rather than law.

The diagrams document each timer in English with the article and a confidence marker
([C] confirmed law; [R]/[U] or "local rule": configurable). This turns that text into a short,
bilingual citation for the inbox, the task page and the case page.
"""

from __future__ import annotations

import re

# English statute names used in the diagrams' documentation → Chinese titles.
STATUTES: dict[str, tuple[str, str]] = {
    "People's Mediation Law": ("《人民调解法》", "People's Mediation Law"),
    "Civil Procedure Law": ("《民事诉讼法》", "Civil Procedure Law"),
    "Labour Dispute Mediation and Arbitration Law": ("《劳动争议调解仲裁法》",
                                                     "Labour Dispute Mediation and Arbitration Law"),
    "PSAPL": ("《治安管理处罚法》", "Public Security Administration Punishment Law"),
    "Public Security Administration Punishment Law": ("《治安管理处罚法》",
                                                      "Public Security Administration Punishment Law"),
}
_CITATION = re.compile(
    r"(?P<law>" + "|".join(re.escape(k) for k in sorted(STATUTES, key=len, reverse=True)) + r")"
    r"(?:\s*\(\d{4}\))?\s+Art\.\s*(?P<art>\d+)")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LOCAL = re.compile(r"local rule|\[R\]|\[U\]|not law|design", re.IGNORECASE)


def clock_basis(documentation: str | None, lang: str) -> str:
    """``《人民调解法》第33条 · 《民事诉讼法》第205条`` / ``People's Mediation Law Art. 33``, or the
    local-rule label; empty when the documentation names neither."""
    text = documentation or ""
    confirmed = "[C]" in text
    cites = []
    for m in _CITATION.finditer(text):
        zh, en = STATUTES[m.group("law")]
        cite = f"{zh}第{m.group('art')}条" if lang == "zh" else f"{en} Art. {m.group('art')}"
        if cite not in cites:
            cites.append(cite)
    if cites and confirmed:
        return " · ".join(cites)
    if not cites and _CJK.search(text):
        return text.strip()  # documented in Chinese by the diagram's author: show it as written
    if _LOCAL.search(text) or cites:
        label = "地方规则（可配置），非法律规定" if lang == "zh" else "Local rule (configurable), not law"
        return label
    return ""
