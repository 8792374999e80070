"""Each document kind's plain-dict context, built from the case and the data its workflow collected.

Sources, in short (``bpmn/README.md`` says which task collects which form; the form fields are in
``forms/definitions/*.json``):

* the case row: number (never the workflow's ``case_number`` key: the court-decision form reuses that
  name for the court's own case number), title, parties, org unit, dates;
* the committee: the ``committee`` org unit that serves the case's unit (a child of the unit or of an
  ancestor on the same ladder level);
* the workflow's merged task data (``workflows.services.read_instance(session, wi).data``), plus the
  saved draft of the open task when a document is generated from that task's page (the data of a step is
  in the workflow only once the step is completed; the draft lets the mediator print what they typed);
* completed human tasks: who did a step and on which day (registrar, recorder, visitors, dates).

Missing data stays missing: ``documents.completeness.check_complete`` then refuses with the list of what is
missing in the user's language. Nothing is made up. The only defaults are the dates of notices issued at
their own step (``issued_on``/``notified_on``/``terminated_on``): the day the step is completed, or while it is
open, the day the notice is generated, which is the day it is issued.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.documents import CaseDocument
from cases.models import CATEGORIES, Case, OrgKind, OrgUnit, User
from cases.roles import ROLE_LABELS
from documents.kinds import KINDS, get_kind

SHANGHAI = ZoneInfo("Asia/Shanghai")
FORMS_DIR = Path(__file__).resolve().parents[2] / "forms" / "definitions"

PARTY_ROLES = {"applicant": {"zh": "申请人", "en": "Applicant"},
               "respondent": {"zh": "被申请人", "en": "Respondent"},
               "third_party": {"zh": "第三人", "en": "Third party"}}
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")
# A leading "1." / "1、" / "（1）" / "一、" on a line of agreed terms: the PDF numbers the terms itself.
_ENUMERATOR = re.compile(
    r"^\s*(?:[（(]?\d{1,2}[)）.、．]|[一二三四五六七八九十]{1,3}[、.．]|[（(][一二三四五六七八九十]{1,3}[)）])\s*")


# ---------------------------------------------------------------------------------------------------
# Small value helpers

def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (list, tuple)):
        value = "、".join(str(v) for v in value if str(v).strip())
    text = str(value).strip()
    return text or None


def _lines(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = str(value or "").splitlines()
    return [_ENUMERATOR.sub("", line).strip() for line in items if _ENUMERATOR.sub("", line).strip()]


def _local_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.date()
        return value.astimezone(SHANGHAI).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return _local_date(datetime.fromisoformat(value.strip()))
        except ValueError:
            return None
    return None


def iso_date(value: Any) -> str | None:
    d = _local_date(value)
    return d.isoformat() if d else None


def _iso_moment(value: Any) -> str | None:
    """An ISO date or local date-time (``2026-11-10T09:30``) for DATE fields that print a time."""
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        if len(text) <= 10:
            return parsed.date().isoformat()
        value = parsed
    if isinstance(value, datetime):
        local = value.astimezone(SHANGHAI) if value.tzinfo else value
        return local.strftime("%Y-%m-%dT%H:%M")
    return iso_date(value)


def date_text(value: Any, lang: str) -> str | None:
    """A date for a free-text field (the agreement's deadline): ``2026年12月31日`` / ``31 December 2026``."""
    d = _local_date(value)
    if d is None:
        return _text(value)
    return f"{d.year}年{d.month}月{d.day}日" if lang == "zh" else f"{d.day} {_EN_MONTHS[d.month - 1]} {d.year}"


def person_name(user: User | None) -> str | None:
    """A user's name as printed on a document: the display name without a leading role title."""
    if user is None:
        return None
    name = (user.display_name or user.username).strip()
    titles = sorted({label for labels in ROLE_LABELS.values() for label in labels.values()}
                    | {"人民调解员", "司法所所长"}, key=len, reverse=True)
    for title in titles:
        if name.startswith(title + " ") and len(name) > len(title) + 1:
            return name[len(title):].strip()
    return name


def _put(ctx: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` only when there is a value: a blank stays missing for the completeness check."""
    if value is None or value == "" or value == [] or value == {}:
        return
    ctx[key] = value


def _sub(**values: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        _put(out, key, value)
    return out


# ---------------------------------------------------------------------------------------------------
# Choice labels, from the deployed forms of the case (or the shipped definitions)

@lru_cache(maxsize=64)
def _shipped_form(form_key: str) -> dict[str, Any]:
    path = FORMS_DIR / f"{form_key}.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


# ---------------------------------------------------------------------------------------------------

@dataclass
class CaseFacts:
    """Everything the builders read, gathered once."""

    case: Case
    lang: str
    data: dict[str, Any]
    committee: OrgUnit | None = None
    forms: dict[str, Any] = field(default_factory=dict)
    completed: dict[str, list[Any]] = field(default_factory=dict)  # spec_id -> completed HumanTasks, oldest first
    role_tasks: dict[str, list[Any]] = field(default_factory=dict)  # role -> every HumanTask of the role
    latest_documents: list[CaseDocument] = field(default_factory=list)
    today: date | None = None

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def text(self, *keys: str) -> str | None:
        for key in keys:
            found = _text(self.data.get(key))
            if found:
                return found
        return None

    def label(self, form_key: str, name: str, value: Any = None) -> str | None:
        """The label of a choice value in the document's language (the value itself when unknown)."""
        value = self.data.get(name) if value is None else value
        if value is None or value == "":
            return None
        definition = self.forms.get(form_key) or _shipped_form(form_key)
        for fdef in definition.get("fields", []):
            if fdef.get("name") == name:
                for choice in fdef.get("choices", []):
                    if choice.get("value") == value:
                        label = choice.get("label") or {}
                        return str(label.get(self.lang) or label.get("zh") or value)
        return str(value)

    def done(self, spec_id: str) -> Any | None:
        found = self.completed.get(spec_id)
        return found[-1] if found else None

    def done_on(self, spec_id: str) -> str | None:
        task = self.done(spec_id)
        return iso_date(task.completed_at) if task is not None else None

    def done_by(self, spec_id: str) -> str | None:
        task = self.done(spec_id)
        return person_name(task.completed_by) if task is not None else None

    def issued_on(self, spec_id: str) -> str | None:
        """The day a notice is issued at its own step: completed, else today (generated now)."""
        return self.done_on(spec_id) or (self.today.isoformat() if self.today else None)

    def committee_ctx(self) -> dict[str, Any]:
        return _sub(name=self.committee.name(self.lang) if self.committee else None)

    def parties(self) -> list[dict[str, Any]]:
        return [_sub(name=p.name, role=PARTY_ROLES.get(p.role, {}).get(self.lang, p.role),
                     id_number=p.id_number, address=p.address, phone=p.phone)
                for p in self.case.parties]

    def mediators(self) -> list[dict[str, str]]:
        """Named in the assignment form; else the users who completed the case's mediator steps."""
        names: list[str] = []
        for raw in (self.data.get("presiding_mediator"), self.data.get("new_presiding_mediator"),
                    self.data.get("other_mediators")):
            for part in re.split(r"[,，、;；\n]+", str(raw or "")):
                if part.strip() and part.strip() not in names:
                    names.append(part.strip())
        if self.data.get("replaced_mediator"):
            names = [n for n in names if n != str(self.data["replaced_mediator"]).strip()]
        if not names:
            for task in self.role_tasks.get("mediator", []):
                name = person_name(task.completed_by) if task.state == "completed" else None
                if name and name not in names:
                    names.append(name)
        return [{"name": n} for n in names]

    def officers(self) -> list[dict[str, str]]:
        names: list[str] = []
        for task in self.role_tasks.get("police", []):
            name = person_name(task.completed_by) if task.state == "completed" else None
            if name and name not in names:
                names.append(name)
        return [{"name": n} for n in names]

    def police_station(self) -> str | None:
        for task in self.role_tasks.get("police", []):
            if task.org_unit is not None and task.org_unit.kind == OrgKind.POLICE_STATION:
                return task.org_unit.name(self.lang)
        return None


def _base(f: CaseFacts) -> dict[str, Any]:
    ctx: dict[str, Any] = {"case_number": f.case.number}
    _put(ctx, "committee", f.committee_ctx())
    _put(ctx, "parties", f.parties())
    return ctx


def _performance(f: CaseFacts) -> dict[str, Any]:
    return _sub(manner=f.text("performance_manner"), place=f.text("performance_place"),
                deadline=date_text(f.get("performance_deadline"), f.lang))


# ---------------------------------------------------------------------------------------------------
# One builder per kind

def _agreement(f: CaseFacts) -> dict[str, Any]:
    ctx = _base(f)
    # finalize_agreement collects "主要事实和争议事项" in one field; the issues in dispute are the claims of
    # the application (register_application) unless a form supplies ``issues`` itself.
    _put(ctx, "facts", f.text("facts_and_issues"))
    _put(ctx, "issues", f.text("issues", "claims"))
    _put(ctx, "responsibilities", f.text("responsibilities"))
    _put(ctx, "terms", _lines(f.get("agreement_content")))
    _put(ctx, "performance", _performance(f))
    _put(ctx, "mediators", f.mediators())
    _put(ctx, "signed_on", iso_date(f.get("agreement_effective_date")))
    return ctx


def _oral_agreement_record(f: CaseFacts) -> dict[str, Any]:
    ctx = _base(f)
    _put(ctx, "facts", f.text("facts", "description") or _text(f.case.description))
    _put(ctx, "terms", _lines(f.get("agreement_content")))
    _put(ctx, "agreed_on", iso_date(f.get("agreed_on")))
    _put(ctx, "performance", _performance(f))
    _put(ctx, "mediators", f.mediators())
    return ctx


_INITIATION = {"applied": "application", "own_initiative": "own_initiative",
               "court_referral": "referral", "police_referral": "referral"}


def _accepted(f: CaseFacts) -> bool:
    return f.done("acceptability_check") is not None and not any(
        f.get(k) for k in ("specialised_organ_only", "already_before_authority", "party_refuses"))


def _application_record(f: CaseFacts) -> dict[str, Any]:
    ctx = _base(f)
    initiation = f.get("initiation")
    _put(ctx, "initiation", _INITIATION.get(initiation, initiation) if initiation else None)
    if initiation in ("court_referral", "police_referral"):
        _put(ctx, "referred_by", f.label("register_application", "initiation"))
    _put(ctx, "application_form", f.text("application_form"))
    _put(ctx, "applied_on", iso_date(f.get("application_date")))
    _put(ctx, "claim", f.text("claims"))
    _put(ctx, "facts", f.text("facts", "description"))
    if _accepted(f):
        _put(ctx, "accepted_on", f.done_on("acceptability_check"))
    _put(ctx, "registrar", f.done_by("register_application"))
    category = CATEGORIES.get(f.case.category)
    _put(ctx, "category", category[f.lang] if category else None)
    _put(ctx, "mediators", f.mediators())
    return ctx


def _not_accepted_notice(f: CaseFacts) -> dict[str, Any]:
    ctx = _base(f)
    _put(ctx, "applied_on", iso_date(f.get("application_date")))
    _put(ctx, "reason", f.label("not_accepted_notice", "reason"))
    _put(ctx, "channel", f.text("channel_detail") or f.label("not_accepted_notice", "proper_channel"))
    _put(ctx, "issued_on", f.issued_on("not_accepted_notice"))
    return ctx


def _rights_notice(f: CaseFacts) -> dict[str, Any]:
    ctx = _base(f)
    _put(ctx, "mediators", f.mediators())
    _put(ctx, "notified_on", f.issued_on("rights_notice"))
    return ctx


_OUTCOME = {"written_agreement": "agreement", "oral_agreement": "oral_agreement", "no_agreement": "failed",
            "withdrawn": "failed", "continue": "adjourned", "transfer_upward": "adjourned"}


def _mediation_record(f: CaseFacts) -> dict[str, Any]:
    ctx = _base(f)
    _put(ctx, "started_at", _iso_moment(f.get("session_date")))
    _put(ctx, "place", f.text("session_place"))  # not register_lead's "place" (where the dispute arose)
    _put(ctx, "subject", _text(f.case.title))
    session = f.done("mediation_session") or f.done("mediation_session_labour")
    _put(ctx, "recorder", person_name(session.completed_by) if session is not None else None)
    _put(ctx, "mediators", f.mediators())
    if f.text("statements"):
        # One field holds every party's statement and the course of the session.
        speaker = "各方当事人" if f.lang == "zh" else "The parties"
        ctx["statements"] = [{"speaker": speaker, "text": f.text("statements")}]
    evidence = f.get("evidence")
    if isinstance(evidence, list):
        _put(ctx, "evidence", [_sub(description=_text(e.get("description")))
                               for e in evidence if isinstance(e, dict) and _text(e.get("description"))])
    result = f.get("session_result")
    _put(ctx, "outcome", _OUTCOME.get(result) if result else None)
    if result:
        detail = f.label("mediation_session", "session_result")
        reason = f.text("failure_reason")
        _put(ctx, "outcome_detail", f"{detail}：{reason}" if reason and f.lang == "zh"
             else f"{detail}: {reason}" if reason else detail)
    if f.get("risk_notice_given") is not None or f.done("rights_notice") is not None:
        ctx["rights_notified"] = bool(f.get("rights_explained") or f.done("rights_notice"))
    return ctx


_CHANNELS = {"litigation": "judicial", "arbitration": "arbitration", "labour_arbitration": "arbitration",
             "administrative": "administrative"}


def _termination_notice(f: CaseFacts) -> dict[str, Any]:
    ctx = _base(f)
    _put(ctx, "reason", f.label("termination_notice", "termination_reason"))
    _put(ctx, "terminated_on", f.issued_on("termination_notice"))
    chosen = f.get("channels")
    if isinstance(chosen, list) and chosen:
        ordered = [c for c in ("arbitration", "administrative", "judicial")
                   if c in {_CHANNELS.get(x) for x in chosen}]
        _put(ctx, "channels", ordered)
    _put(ctx, "mediators", f.mediators())
    return ctx


def _police_agreement(f: CaseFacts) -> dict[str, Any]:
    ctx: dict[str, Any] = {"case_number": f.case.number}
    _put(ctx, "police", _sub(name=f.police_station()))
    _put(ctx, "parties", f.parties())
    _put(ctx, "facts", f.text("situation", "facts", "description"))
    _put(ctx, "terms", _lines(f.get("agreement_content")))
    _put(ctx, "performance", _sub(manner=f.text("performance_manner"),
                                  deadline=date_text(f.get("performance_deadline"), f.lang)))
    _put(ctx, "mediated_at", _iso_moment(f.get("session_at")))
    _put(ctx, "place", f.text("session_place"))
    _put(ctx, "officers", f.officers())
    return ctx


def _judicial_confirmation_pack(f: CaseFacts) -> dict[str, Any]:
    ctx = _base(f)
    _put(ctx, "court", f.text("court"))
    _put(ctx, "agreement", _sub(effective_on=iso_date(f.get("agreement_effective_date")),
                                summary=f.text("agreement_content")))
    materials = f.get("materials")
    if isinstance(materials, list):
        _put(ctx, "materials", [{"item": f.label("judicial_confirmation_pack", "materials", m), "provided": True}
                                for m in materials])
    _put(ctx, "applied_on", iso_date(f.get("filing_date")))
    return ctx


_RECIPIENT = {"court": "court", "labour_arbitration": "labour_arbitration",
              "administrative_organ": "administrative"}


def _referral_letter(f: CaseFacts) -> dict[str, Any]:
    ctx = _base(f)
    target = f.get("referral_target")
    _put(ctx, "recipient", _sub(name=f.text("receiving_body"), type=_RECIPIENT.get(target, target)))
    _put(ctx, "summary", f.text("referral_summary"))
    _put(ctx, "reason", f.label("termination_notice", "termination_reason"))
    _put(ctx, "issued_on", iso_date(f.get("letter_date")))
    return ctx


def _return_visit_record(f: CaseFacts) -> dict[str, Any]:
    ctx: dict[str, Any] = {"case_number": f.case.number}
    _put(ctx, "committee", f.committee_ctx())
    _put(ctx, "agreement_date", iso_date(f.get("agreement_effective_date") or f.get("agreed_on")))
    _put(ctx, "visited_on", iso_date(f.get("visit_date")))
    _put(ctx, "method", f.label("return_visit", "visit_method"))
    visitor = f.done_by("return_visit") or f.done_by("onsite_return_visit")
    _put(ctx, "visitors", [visitor] if visitor else [])
    _put(ctx, "performance_status", f.text("performance_status"))
    _put(ctx, "opinion", f.text("party_feedback"))
    if f.get("judicial_confirmation_wanted") is not None:
        ctx["judicially_confirmed"] = f.get("court_result") == "confirmed"
    return ctx


def _case_file_index(f: CaseFacts) -> dict[str, Any]:
    ctx = _base(f)
    _put(ctx, "title", _text(f.case.title))
    docs = sorted((d for d in f.latest_documents if d.kind != "case_file_index"),
                  key=lambda d: (d.generated_at, d.id))
    _put(ctx, "documents", [{"title": get_kind(d.kind).title(f.lang), "pages": d.page_count,
                             "date": iso_date(d.generated_at)} for d in docs])
    _put(ctx, "opened_on", iso_date(f.case.created_at))
    _put(ctx, "closed_on", iso_date(f.case.closed_at))
    _put(ctx, "archived_by", f.done_by("archive_case_file"))
    return ctx


BUILDERS = {
    "agreement": _agreement,
    "oral_agreement_record": _oral_agreement_record,
    "application_record": _application_record,
    "not_accepted_notice": _not_accepted_notice,
    "rights_notice": _rights_notice,
    "mediation_record": _mediation_record,
    "termination_notice": _termination_notice,
    "police_agreement": _police_agreement,
    "judicial_confirmation_pack": _judicial_confirmation_pack,
    "referral_letter": _referral_letter,
    "return_visit_record": _return_visit_record,
    "case_file_index": _case_file_index,
}
assert set(BUILDERS) == set(KINDS), "every document kind needs a context builder"


# ---------------------------------------------------------------------------------------------------
# Gathering from the database

def committee_for(session: Session, unit: OrgUnit) -> OrgUnit | None:
    """The mediation committee serving ``unit``: the unit itself, or a committee child of it or of an
    ancestor on the same ladder level (a grid's case goes to its village's committee)."""
    if unit.kind == OrgKind.COMMITTEE:
        return unit
    node: OrgUnit | None = unit
    while node is not None and node.level == unit.level:
        found = session.scalars(select(OrgUnit).where(OrgUnit.parent_id == node.id,
                                                      OrgUnit.kind == str(OrgKind.COMMITTEE))
                                .order_by(OrgUnit.id)).first()
        if found is not None:
            return found
        node = node.parent
    return None


def workflow_data(session: Session, case: Case) -> tuple[dict[str, Any], dict[str, Any]]:
    """(merged task data, deployed form definitions) of the case's workflow; empty without one."""
    from workflows.models import WorkflowInstance
    from workflows.services import read_instance

    wi = session.get(WorkflowInstance, case.id)
    if wi is None:
        return {}, {}
    return dict(read_instance(session, wi).data), dict(wi.process_version.forms or {})


def latest_documents(session: Session, case_id: int) -> list[CaseDocument]:
    rows = session.scalars(select(CaseDocument).where(CaseDocument.case_id == case_id)
                           .order_by(CaseDocument.kind, CaseDocument.version)).all()
    latest: dict[str, CaseDocument] = {}
    for row in rows:
        latest[row.kind] = row
    return list(latest.values())


def gather(session: Session, case: Case, lang: str, *, data: dict[str, Any] | None = None,
           draft: dict[str, Any] | None = None, today: date | None = None) -> CaseFacts:
    """Collect the facts of ``case``. ``data`` replaces the workflow data (cases without a workflow,
    tests); ``draft`` (the open task's saved form input) is laid over it."""
    from workflows.models import HumanTask

    forms: dict[str, Any] = {}
    if data is None:
        data, forms = workflow_data(session, case)
    merged = {**data, **{k: v for k, v in (draft or {}).items() if v not in (None, "", [])}}
    tasks = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id)
                            .order_by(HumanTask.completed_at, HumanTask.id)).all()
    completed: dict[str, list[Any]] = {}
    by_role: dict[str, list[Any]] = {}
    for task in tasks:
        by_role.setdefault(task.role, []).append(task)
        if task.state == "completed" and task.completed_at is not None:
            completed.setdefault(task.spec_id, []).append(task)
    return CaseFacts(case=case, lang=lang, data=merged, committee=committee_for(session, case.org_unit),
                     forms=forms, completed=completed, role_tasks=by_role,
                     latest_documents=latest_documents(session, case.id),
                     today=today or datetime.now(SHANGHAI).date())


def build_context(session: Session, case: Case, kind: str, lang: str, *, data: dict[str, Any] | None = None,
                  draft: dict[str, Any] | None = None, today: date | None = None) -> dict[str, Any]:
    """The plain-dict context of ``kind`` for ``case`` in ``lang`` (see the module docstring)."""
    get_kind(kind)  # UnknownDocumentKind for a bad name
    return context_from_facts(gather(session, case, lang, data=data, draft=draft, today=today), kind)


def context_from_facts(facts: CaseFacts, kind: str) -> dict[str, Any]:
    return BUILDERS[kind](facts)
