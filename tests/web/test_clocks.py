"""Deadlines cite their statute in the reader's language, or say they are a local rule."""

from __future__ import annotations

import pytest

from web.clocks import clock_basis


@pytest.mark.parametrize("doc, zh, en", [
    ("People's Mediation Law Art. 33 and Civil Procedure Law (2023) Art. 205 [C]: the joint application ...",
     "《人民调解法》第33条 · 《民事诉讼法》第205条", "People's Mediation Law Art. 33 · Civil Procedure Law Art. 205"),
    ("PSAPL Art. 99 [C]: a public-security case is handled within 30 days",
     "《治安管理处罚法》第99条", "Public Security Administration Punishment Law Art. 99"),
    ("Local rule (configurable, clocks.json police_mediation_working_days, reported [R] from the MPS 2007 Norms Art. 9)",
     "地方规则（可配置），非法律规定", "Local rule (configurable), not law"),
    ("Warning before the 30-day deadline; day 20 is a design choice (configurable), not law.",
     "地方规则（可配置），非法律规定", "Local rule (configurable), not law"),
    ("", "", ""),
])
def test_clock_basis(doc: str, zh: str, en: str) -> None:
    assert clock_basis(doc, "zh") == zh
    assert clock_basis(doc, "en") == en


def test_every_shipped_timer_has_a_basis() -> None:
    from pathlib import Path

    from lxml import etree

    root = Path(__file__).resolve().parents[2] / "bpmn"
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    for path in root.glob("*.bpmn"):
        tree = etree.parse(str(path))
        for timer in tree.xpath("//bpmn:timerEventDefinition/..", namespaces=ns):
            doc = "".join(timer.xpath("bpmn:documentation/text()", namespaces=ns))
            assert clock_basis(doc, "zh"), f"{path.name}: {timer.get('id')} has no article or local-rule label"
