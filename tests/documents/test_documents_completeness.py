from __future__ import annotations

import pytest

from documents.completeness import IncompleteDocumentError, check_complete, normalise
from documents.kinds import KINDS, UnknownDocumentKind
from documents.samples import sample_context


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_samples_are_complete(kind: str, lang: str) -> None:
    assert check_complete(kind, sample_context(kind, lang), lang) == []


def test_agreement_missing_elements_in_chinese() -> None:
    ctx = sample_context("agreement")
    del ctx["performance"]["manner"]
    ctx["performance"]["place"] = "  "
    ctx["terms"] = []
    ctx["parties"][1]["id_number"] = ""
    ctx["mediators"] = []
    assert check_complete("agreement", ctx, "zh") == [
        "缺少：当事人2的身份证件号码",
        "缺少：协议内容",
        "缺少：履行方式",
        "缺少：履行地点",
        "缺少：调解员",
    ]


def test_agreement_missing_elements_in_english() -> None:
    ctx = sample_context("agreement", "en")
    ctx["performance"] = {"deadline": "31 December 2026"}
    ctx["parties"] = ctx["parties"][:1]
    assert check_complete("agreement", ctx, "en") == [
        "missing: parties (at least 2)",
        "missing: manner of performance",
        "missing: place of performance",
    ]


def test_everything_missing_lists_every_required_top_level_element() -> None:
    missing = check_complete("agreement", {}, "zh")
    for label in ("案件编号", "调解委员会名称", "当事人（至少2项）", "纠纷主要事实", "争议事项", "各方责任",
                  "协议内容", "履行方式", "履行地点", "履行期限", "调解员"):
        assert f"缺少：{label}" in missing


def test_invalid_values_are_reported() -> None:
    ctx = sample_context("mediation_record")
    ctx["started_at"] = "next Tuesday"
    ctx["outcome"] = "maybe"
    assert check_complete("mediation_record", ctx, "en") == [
        "invalid: time of the session ('next Tuesday')",
        "invalid: outcome ('maybe')",
    ]
    ctx = sample_context("case_file_index")
    ctx["documents"][0]["pages"] = 0
    assert check_complete("case_file_index", ctx, "zh") == ["无效：卷内文书1的页数（0）"]


def test_unknown_kind_and_language() -> None:
    with pytest.raises(UnknownDocumentKind):
        check_complete("nope", {}, "zh")
    with pytest.raises(ValueError):
        check_complete("agreement", {}, "fr")


def test_error_carries_the_list() -> None:
    err = IncompleteDocumentError(["缺少：履行方式"])
    assert err.missing == ["缺少：履行方式"] and "履行方式" in str(err)


def test_normalise_fills_optional_defaults_and_drops_unknown_keys() -> None:
    ctx = sample_context("termination_notice")
    ctx["unexpected"] = "x"
    data = normalise("termination_notice", ctx)
    assert "unexpected" not in data
    assert data["channels"] == ["arbitration", "administrative", "judicial"]
    assert data["parties"][0]["phone"] == "138 0000 1111" and data["parties"][0]["representative"] == ""
