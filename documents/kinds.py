"""Registry of document kinds: template, bilingual title, and the context each one needs.

Every document renders from a plain ``dict`` of primitives (str, int, bool, lists and dicts of them;
dates may be ISO strings ``"2026-12-31"`` or ``date``/``datetime`` objects). The :class:`Field` trees
below are the single source of truth for:

* which keys a template may use (optional keys are filled with their default before rendering, so the
  templates run under ``StrictUndefined`` and a typo fails loudly);
* which keys are *required* (``completeness.check_complete`` lists the missing ones in the user's
  language, and ``render.render_document`` refuses to render until the list is empty).

Legal basis (see the project's domain notes): People's Mediation Law 2010 ("PML") articles are confirmed
law. Items the notes mark [R]/[U] (the MoJ 2002 rules, the MPS 2007 police-mediation norms, the SPC 2011
judicial-confirmation rules) are treated as *local practice* here: they may shape which fields we ask
for, but the templates never cite them as law.

Common keys (every kind):
    case_number   str, required: the case number printed in each page header and in the PDF metadata.

Copies: kinds with ``copies`` set (the agreement, the police agreement) print "第 k 份，共 n 份" with
n = number of parties + 1 (one per party, one kept on file). ``render_document(copy=None)`` puts all n
copies in one PDF, each copy starting on a new page with its own "第 x 页 共 y 页" numbering (what the
mediator prints for signing); ``copy=k`` renders only copy k.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Field kinds
TEXT = "text"  # non-empty string when required
DATE = "date"  # ISO date / datetime string, or a date / datetime object
BOOL = "bool"
INT = "int"
LIST = "list"  # list of non-empty strings
ITEMS = "items"  # list of dicts, each described by ``fields``
MAP = "map"  # one dict described by ``fields``; its required children are reported by their own label


@dataclass(frozen=True)
class Field:
    key: str
    zh: str
    en: str
    kind: str = TEXT
    required: bool = True
    fields: tuple[Field, ...] = ()
    min_items: int = 1
    default: Any = None
    choices: tuple[str, ...] = ()
    note: str = ""  # legal basis or provenance, for readers of this registry


@dataclass(frozen=True)
class DocumentKind:
    name: str
    template: str  # file name under templates/<lang>/
    title_zh: str
    title_en: str
    fields: tuple[Field, ...]
    copies: Callable[[dict[str, Any]], int] | None = None
    basis: str = ""

    def title(self, lang: str) -> str:
        return self.title_zh if lang == "zh" else self.title_en


def _opt(key: str, zh: str, en: str, kind: str = TEXT, default: Any = None, **kw: Any) -> Field:
    if default is None:
        default = {TEXT: "", DATE: "", BOOL: False, INT: 0, LIST: [], ITEMS: [], MAP: {}}[kind]
    return Field(key, zh, en, kind, required=False, default=default, **kw)


# ---------------------------------------------------------------------------------------------------
# Reusable building blocks

CASE_NUMBER = Field("case_number", "案件编号", "case number")
COMMITTEE = Field(
    "committee", "调解委员会", "mediation committee", MAP,
    fields=(Field("name", "调解委员会名称", "name of the mediation committee"),
            _opt("address", "调解委员会地址", "committee address"),
            _opt("phone", "调解委员会电话", "committee telephone")),
)


def _parties(min_items: int = 2, *, id_required: bool = True, address_required: bool = True,
             extra: tuple[Field, ...] = ()) -> Field:
    """Parties' basic information (PML Art. 29(1)). ``role`` is free text (申请人, 被申请人, 甲方 ...)."""
    return Field(
        "parties", "当事人", "parties", ITEMS, min_items=min_items,
        fields=(
            Field("name", "姓名或名称", "name"),
            _opt("role", "称谓", "role"),
            _opt("gender", "性别", "sex"),
            _opt("birth_date", "出生日期", "date of birth", DATE),
            _opt("ethnicity", "民族", "ethnicity"),
            _opt("occupation", "职业或单位", "occupation or employer"),
            Field("id_number", "身份证件号码", "identity document number", required=id_required),
            Field("address", "住所", "address", required=address_required),
            _opt("phone", "联系电话", "telephone"),
            _opt("representative", "法定代表人或代理人", "legal representative or agent"),
            *extra,
        ),
        note="PML Art. 29(1): parties' basic information",
    )


MEDIATORS = Field("mediators", "调解员", "mediators", ITEMS,
                  fields=(Field("name", "调解员姓名", "mediator's name"),))
PERFORMANCE = Field(
    "performance", "履行", "performance", MAP,
    fields=(
        Field("manner", "履行方式", "manner of performance"),
        Field("place", "履行地点", "place of performance",
              note="place: MoJ 2002 rules [R]; required by design (union of both lists)"),
        Field("deadline", "履行期限", "deadline of performance"),
    ),
    note="PML Art. 29(3): manner and time limit of performance",
)

CHANNELS = ("arbitration", "administrative", "judicial")

# ---------------------------------------------------------------------------------------------------
# The kinds

KINDS: dict[str, DocumentKind] = {}


def _register(kind: DocumentKind) -> DocumentKind:
    KINDS[kind.name] = kind
    return kind


def _copies_per_party(context: dict[str, Any]) -> int:
    return len(context.get("parties") or []) + 1


_register(DocumentKind(
    "agreement", "agreement.html", "人民调解协议书", "People's Mediation Agreement",
    basis="PML Arts 28-29, 31-33",
    copies=_copies_per_party,
    fields=(
        CASE_NUMBER, COMMITTEE, _parties(),
        Field("facts", "纠纷主要事实", "main facts of the dispute", note="Art. 29(2)"),
        Field("issues", "争议事项", "issues in dispute", note="Art. 29(2)"),
        Field("responsibilities", "各方责任", "each party's responsibility", note="Art. 29(2)"),
        Field("terms", "协议内容", "agreed terms", LIST, note="Art. 29(3)"),
        PERFORMANCE,
        MEDIATORS,
        _opt("signed_on", "签订日期", "date of signing", DATE),
    ),
))

_register(DocumentKind(
    "oral_agreement_record", "oral_agreement_record.html", "口头调解协议记录", "Record of Oral Mediation Agreement",
    basis="PML Arts 28, 30",
    fields=(
        CASE_NUMBER, COMMITTEE, _parties(id_required=False, address_required=False),
        Field("facts", "纠纷简要情况", "summary of the dispute"),
        Field("terms", "口头协议内容", "content of the oral agreement", LIST, note="Art. 28: mediator records it"),
        Field("agreed_on", "达成协议日期", "date the agreement was reached", DATE,
              note="Art. 30: effective from the day the parties reach it"),
        _opt("performance", "履行", "performance", MAP, fields=(
            _opt("manner", "履行方式", "manner of performance"),
            _opt("place", "履行地点", "place of performance"),
            _opt("deadline", "履行期限", "deadline of performance"))),
        MEDIATORS,
    ),
))

_register(DocumentKind(
    "application_record", "application_record.html", "人民调解申请及受理登记表",
    "Mediation Application and Acceptance Record",
    basis="PML Arts 17, 18, 27; registration form: MoJ 2002 rules [R]",
    fields=(
        CASE_NUMBER, COMMITTEE,
        Field("initiation", "启动方式", "how the case started", choices=("application", "own_initiative", "referral"),
              note="Art. 17 application / own initiative; Art. 18 court or police referral"),
        _opt("referred_by", "移送单位", "referring body"),
        _opt("application_form", "申请形式", "form of application", default="written", choices=("written", "oral")),
        Field("applied_on", "申请日期", "date of application", DATE),
        _parties(id_required=False),
        Field("claim", "申请事项", "matters applied for"),
        Field("facts", "纠纷简要情况", "summary of the dispute"),
        Field("accepted_on", "受理日期", "date of acceptance", DATE),
        Field("registrar", "登记人", "registered by"),
        _opt("category", "纠纷类型", "dispute category"),
        MEDIATORS,
    ),
))

_register(DocumentKind(
    "not_accepted_notice", "not_accepted_notice.html", "不予受理告知书", "Notice of Non-Acceptance",
    basis="PML Art. 17 (explicit refusal); grounds and redirect duty: MoJ 2002 rules Art. 22 [R] - local practice",
    fields=(
        CASE_NUMBER, COMMITTEE, _parties(min_items=1, id_required=False, address_required=False),
        Field("applied_on", "申请日期", "date of application", DATE),
        Field("reason", "不予受理理由", "reason for non-acceptance"),
        Field("channel", "可以请求处理的机关", "body the parties may turn to"),
        Field("issued_on", "告知日期", "date of notice", DATE),
    ),
))

_register(DocumentKind(
    "rights_notice", "rights_notice.html", "人民调解权利义务告知书",
    "Notice of Rights and Duties in People's Mediation",
    basis="PML Arts 3, 4, 23, 24, 31, 33; written notice: MoJ 2002 rules Art. 30 [R]",
    fields=(
        CASE_NUMBER, COMMITTEE, _parties(id_required=False, address_required=False), MEDIATORS,
        Field("notified_on", "告知日期", "date of notice", DATE),
    ),
))

_register(DocumentKind(
    "mediation_record", "mediation_record.html", "人民调解笔录", "Mediation Session Record",
    basis="PML Art. 27 (shall record); elements: practice texts [R]",
    fields=(
        CASE_NUMBER, COMMITTEE,
        Field("started_at", "调解时间", "time of the session", DATE),
        Field("place", "调解地点", "place of the session"),
        Field("subject", "调解事由", "subject of the mediation"),
        _parties(id_required=False, address_required=False),
        MEDIATORS,
        Field("recorder", "记录人", "recorder"),
        _opt("others", "其他参加人", "other participants", ITEMS, fields=(
            Field("name", "姓名", "name"), _opt("relation", "身份", "capacity")), note="PML Art. 20"),
        _opt("rights_notified", "已告知权利义务", "rights and duties notified", BOOL, default=True),
        Field("statements", "当事人陈述", "statements", ITEMS, fields=(
            Field("speaker", "陈述人", "speaker"), Field("text", "陈述内容", "statement"))),
        _opt("evidence", "证据核实", "evidence checked", ITEMS, fields=(
            Field("description", "证据名称", "evidence"), _opt("opinion", "核实意见", "finding"))),
        Field("outcome", "调解结果", "outcome", choices=("agreement", "oral_agreement", "failed", "adjourned")),
        _opt("outcome_detail", "结果说明", "details of the outcome"),
    ),
))

_register(DocumentKind(
    "termination_notice", "termination_notice.html", "终止调解告知书", "Notice of Termination of Mediation",
    basis="PML Art. 26 (channels), Art. 23(2) (party may ask to end); document name [U]",
    fields=(
        CASE_NUMBER, COMMITTEE, _parties(id_required=False, address_required=False),
        Field("reason", "终止理由", "reason for termination"),
        Field("terminated_on", "终止日期", "date of termination", DATE),
        _opt("channels", "救济途径", "channels", LIST, default=list(CHANNELS), choices=CHANNELS),
        MEDIATORS,
    ),
))

_register(DocumentKind(
    "police_agreement", "police_agreement.html", "治安调解协议书", "Police Mediation Agreement",
    basis="PSAPL (2005/2012) Art. 9 [C]; triplicate and one-session practice: MPS 2007 norms [R]. "
          "The 2025 PSAPL revision (in force 2026-01-01) renumbers articles [U]: re-check before relying on Art. 9.",
    copies=_copies_per_party,
    fields=(
        CASE_NUMBER,
        Field("police", "公安机关", "police organ", MAP,
              fields=(Field("name", "公安机关名称", "name of the police organ"),)),
        _parties(),
        Field("facts", "案件事实", "facts of the case"),
        Field("terms", "协议内容", "agreed terms", LIST),
        Field("performance", "履行", "performance", MAP, fields=(
            Field("manner", "履行方式", "manner of performance"),
            _opt("place", "履行地点", "place of performance"),
            Field("deadline", "履行期限", "deadline of performance"))),
        Field("mediated_at", "调解时间", "time of mediation", DATE),
        Field("place", "调解地点", "place of mediation"),
        Field("officers", "主持调解民警", "police officers chairing", ITEMS,
              fields=(Field("name", "民警姓名", "officer's name"),)),
    ),
))

_register(DocumentKind(
    "judicial_confirmation_pack", "judicial_confirmation_pack.html", "司法确认申请书及材料清单",
    "Joint Application for Judicial Confirmation with Materials Checklist",
    basis="PML Art. 33; CPL (2023) Arts 205-206 [C]; materials: SPC Fa Shi [2011] 5 Art. 3 [R]",
    fields=(
        CASE_NUMBER, COMMITTEE,
        Field("court", "受理法院", "court"),
        _parties(extra=(Field("service_address", "送达地址", "address for service"),)),
        Field("agreement", "调解协议", "mediation agreement", MAP, fields=(
            Field("effective_on", "调解协议生效日期", "date the agreement took effect", DATE),
            Field("summary", "调解协议主要内容", "main content of the agreement"),
            _opt("reference", "协议编号", "agreement reference"))),
        _opt("materials", "已提交材料", "materials supplied", ITEMS, fields=(
            Field("item", "材料", "item"), _opt("provided", "已提交", "supplied", BOOL),
            _opt("copies", "份数", "copies", INT)),
            note="if empty the standard checklist (SPC 2011 rules Art. 3 [R]) is printed unticked"),
        _opt("applied_on", "申请日期", "date of application", DATE),
    ),
))

_register(DocumentKind(
    "referral_letter", "referral_letter.html", "纠纷转介函", "Referral Letter",
    basis="PML Art. 25 (report to police), Art. 26 (other channels); Art. 18 referrals in the other direction",
    fields=(
        CASE_NUMBER, COMMITTEE,
        Field("recipient", "接收单位", "receiving body", MAP, fields=(
            Field("name", "接收单位名称", "name of the receiving body"),
            Field("type", "接收单位类别", "type of the receiving body",
                  choices=("court", "labour_arbitration", "administrative", "police")))),
        _parties(min_items=1, id_required=False, address_required=False),
        Field("summary", "纠纷简要情况", "summary of the dispute"),
        Field("reason", "转介理由", "reason for referral"),
        _opt("attachments", "随附材料", "enclosures", LIST),
        Field("issued_on", "发函日期", "date of the letter", DATE),
        _opt("contact", "联系人及电话", "contact person and telephone"),
    ),
))

_register(DocumentKind(
    "return_visit_record", "return_visit_record.html", "人民调解回访记录", "Return Visit Record",
    basis="PML Art. 31 (supervise performance), Art. 32 (sue over performance), Art. 33 (enforcement if confirmed)",
    fields=(
        CASE_NUMBER, COMMITTEE,
        Field("agreement_date", "调解协议日期", "date of the agreement", DATE),
        Field("visited_on", "回访日期", "date of the visit", DATE),
        Field("method", "回访方式", "manner of the visit"),
        Field("visitors", "回访人", "visited by", LIST),
        Field("visited", "被回访人", "persons visited", LIST),
        Field("performance_status", "履行情况", "state of performance",
              choices=("performed", "partial", "not_performed")),
        Field("details", "回访情况", "findings"),
        _opt("urged", "已督促履行", "performance urged", BOOL),
        _opt("opinion", "当事人意见", "parties' views"),
        _opt("judicially_confirmed", "已司法确认", "judicially confirmed", BOOL),
    ),
))

_register(DocumentKind(
    "case_file_index", "case_file_index.html", "人民调解卷宗目录", "Case File Index",
    basis="PML Art. 27 (keep case files); file list: county practice [R]",
    fields=(
        CASE_NUMBER, COMMITTEE,
        Field("title", "案由", "matter"),
        _parties(min_items=1, id_required=False, address_required=False),
        Field("documents", "卷内文书", "documents in the file", ITEMS, fields=(
            Field("title", "文书名称", "document title"),
            Field("pages", "页数", "pages", INT),
            _opt("date", "日期", "date", DATE))),
        _opt("opened_on", "立案日期", "date opened", DATE),
        _opt("closed_on", "结案日期", "date closed", DATE),
        _opt("archived_by", "立卷人", "filed by"),
        _opt("retention", "保管期限", "retention period", note="set locally by dispute type [R]"),
    ),
))


class UnknownDocumentKind(KeyError):
    pass


def get_kind(name: str) -> DocumentKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownDocumentKind(name) from None


LANGS = ("zh", "en")
