"""Route table for the Fengqiao diagrams: one row per route of issue 3's "Done when" list (plus a few extra).

Plain data, importable without SpiffWorkflow, so the same rows can be re-driven through the real runtime
and database. A step is ``(task_bpmn_id, form_data)``:

- ``task_bpmn_id`` is the BPMN id of the READY user task to complete (for a loop task, the id of the loop
  task; SpiffWorkflow names the instance spec ``"<id> [child]"`` but keeps ``bpmn_id``);
- ``form_data`` is the cleaned form data as the forms layer would put it into task data (dates
  ``YYYY-MM-DD``, money ``"1234.50"``, booleans, lists). Strings ``"@today"``, ``"@today+N"`` and
  ``"@today-N"`` are dates relative to the (moved) clock, and ``"@today HH:MM"`` (also with ``±N``) a
  China-time date-time for date-time fields; call :func:`resolve` before submitting. The data is valid
  form data: the runtime test submits it through the forms layer.

Two pseudo-steps: ``(ADVANCE_CLOCK, {"days": n})`` moves the clock forward and fires due timers;
``(SIGNAL, {"name": "party_withdrawal"})`` sends a BPMN signal from outside (the runtime's "party
withdraws at any time" action).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

ADVANCE_CLOCK = "@advance_clock"
SIGNAL = "@signal"

_REL = re.compile(r"^@today([+-]\d+)?(?: (\d{2}:\d{2}))?$")


def resolve(data: Any, today: date) -> Any:
    """Replace "@today±N" placeholders by ISO dates (and "@today±N HH:MM" by ISO date-times, +08:00)
    relative to ``today``."""
    if isinstance(data, dict):
        return {k: resolve(v, today) for k, v in data.items()}
    if isinstance(data, list):
        return [resolve(v, today) for v in data]
    if isinstance(data, str):
        m = _REL.match(data)
        if m:
            day = (today + timedelta(days=int(m.group(1) or 0))).isoformat()
            return f"{day}T{m.group(2)}:00+08:00" if m.group(2) else day
    return data


@dataclass(frozen=True)
class Route:
    name: str
    steps: list[tuple[str, dict[str, Any]]]
    outcome: str
    level: str  # closing level: village / town / county
    expect: dict[str, Any] = field(default_factory=dict)  # further task-data values at the end
    lanes: dict[str, str] = field(default_factory=dict)  # task id -> lane it must be completed in


# ------------------------------------------------------------------ form data building blocks
PARTIES = [
    {"role": "applicant", "name": "张伟", "id_number": "330681199001011237", "phone": "13800000001",
     "address": "枫桥镇枫源村1号", "relation": "neighbour"},
    {"role": "respondent", "name": "李娜", "id_number": "330681199202022346", "phone": "13800000002",
     "address": "枫桥镇枫源村2号", "relation": "neighbour"},
]


def lead(category: str = "neighbour", signals: list[str] | None = None, group_size: int = 2,
         on_spot: bool = False) -> tuple[str, dict[str, Any]]:
    return ("register_lead", {
        "source": "grid_screening", "place": "枫源村3组", "occurred_on": "@today", "parties": PARTIES,
        "category": category, "description": "相邻通道堆放杂物引发争吵。", "signals": signals or ["none"],
        "group_size": group_size, "on_spot_attempt": on_spot})


def application(category: str = "neighbour") -> tuple[str, dict[str, Any]]:
    return ("register_application", {
        "application_date": "@today", "application_form": "written", "initiation": "applied", "parties": PARTIES,
        "category": category, "claims": "清除通道杂物，赔偿损失。", "facts": "双方因通道使用多次争吵。",
        "evidence": [{"description": "现场照片", "provided_by": "张伟", "kind": "photo"}], "amount": "3000.00"})


def acceptability(minor_public_security: bool = False) -> tuple[str, dict[str, Any]]:
    return ("acceptability_check", {
        "specialised_organ_only": False, "already_before_authority": False, "party_refuses": False,
        "minor_public_security": minor_public_security, "jurisdiction_basis": "place_of_dispute"})


RIGHTS = ("rights_notice", {"notice_form": "written", "rights_explained": True, "consent_given": True,
                            "public_mediation": "non_public", "invitees_consent": False,
                            "mediator_preference": "designate"})
ASSIGN = ("assign_mediator", {"presiding_mediator": "王调解", "assignment_basis": "designated",
                              "conflict_checked": True, "recusal_requested": False})
INVESTIGATE = ("investigation", {"investigation_record": "走访双方及邻居，查看现场。", "site_visit": True,
                                 "appraisal_requested": False})


def session(result: str, task: str = "mediation_session") -> tuple[str, dict[str, Any]]:
    data = {"session_date": "@today", "mode": "face_to_face", "attendees": "张伟、李娜、王调解",
            "statements": "双方陈述意见。", "risk_notice_given": True, "session_result": result}
    if result == "no_agreement":
        data["failure_reason"] = "双方对赔偿数额分歧过大。"
    return (task, data)


def transfer(reason: str = "difficult", task: str = "transfer_upward") -> tuple[str, dict[str, Any]]:
    return (task, {"transfer_reason": reason, "transfer_note": "本级难以化解。"})


FINALIZE = ("finalize_agreement", {
    "parties_info_checked": True, "facts_and_issues": "通道堆放杂物。", "responsibilities": "李娜负主要责任。",
    "agreement_content": "李娜于履行期限前清除杂物并赔偿张伟人民币叁仟元。", "performance_manner": "现金当面支付",
    "performance_place": "枫源村调委会", "performance_deadline": "@today+30", "amount": "3000.00"})


def sign(judicial_confirmation: bool) -> tuple[str, dict[str, Any]]:
    return ("sign_agreement", {"signing_method": "signature", "all_parties_signed": True, "mediator_signed": True,
                               "committee_seal_affixed": True, "agreement_effective_date": "@today", "copies": 3,
                               "judicial_confirmation_wanted": judicial_confirmation})


JC_PACK = ("judicial_confirmation_pack", {
    "court": "诸暨市人民法院", "joint_application": True, "involves_status_relations": False,
    "materials": ["application", "agreement", "identity", "service_addresses"], "filing_date": "@today+2"})
COURT_CONFIRMED = ("court_decision", {"case_number": "(2026)浙0681民特1号", "court_result": "confirmed",
                                      "decision_date": "@today+15"})


def visit(status: str, task: str = "return_visit") -> tuple[str, dict[str, Any]]:
    return (task, {"visit_date": "@today", "visit_method": "phone", "performance_status": status})


ARCHIVE = ("archive_case_file", {"case_file_items": ["application", "mediation_record"], "file_number": "枫调2026-001",
                                 "archived_on": "@today"})
REVIEW = ("file_review", {"file_complete": True, "quality": "qualified"})
CLOSE = [ARCHIVE, REVIEW]


def advance(days: int) -> tuple[str, dict[str, Any]]:
    return (ADVANCE_CLOCK, {"days": days})


def police_eligibility(lawyer: bool = False) -> tuple[str, dict[str, Any]]:
    return ("police_eligibility", {
        "police_acceptance_date": "@today", "violation_type": "beating", "caused_by_civil_dispute": True,
        "minor_violation": True, "mediable_circumstance": "acquaintances", "exclusions": ["none"],
        "minors_involved": False, "needs_appraisal": False, "lawyer_joint": lawyer})


def police_session(result: str) -> tuple[str, dict[str, Any]]:
    return ("police_session", {"session_at": "@today 10:00", "attendees": "张伟、李娜、赵民警",
                               "police_record": "双方陈述，民警释法。", "police_session_result": result})


POLICE_AGREEMENT = ("police_agreement", {
    "agreement_content": "李娜向张伟赔礼道歉并赔偿医药费伍佰元。", "compensation_amount": "500.00",
    "performance_manner": "当场支付", "performance_deadline": "@today", "on_site_agreement": False,
    "signed_by_both": True})


def performance(performed: bool) -> tuple[str, dict[str, Any]]:
    return ("police_performance_check", {"agreement_performed": performed, "checked_on": "@today"})


# the common way into people's mediation at village level
INTO_MEDIATION = [lead(), application(), acceptability(), RIGHTS, ASSIGN, INVESTIGATE]
INTO_POLICE = [lead(), application(), acceptability(minor_public_security=True)]

ROUTES: list[Route] = [
    Route("on-the-spot resolution by a grid worker",
          [lead(on_spot=True),
           ("on_spot_persuasion", {"persuasion_result": "resolved", "agreement_content": "李娜当场清理杂物。",
                                   "performance_manner": "当场清理", "performance_deadline": "@today+1"}),
           advance(8),  # local-rule return-visit clock (7 days by default)
           visit("performed", task="onsite_return_visit"), *CLOSE],
          outcome="resolved_on_spot", level="village", expect={"risk_colour": "blue", "recommended_level": "village"},
          lanes={"register_lead": "网格员", "on_spot_persuasion": "网格员", "onsite_return_visit": "网格员",
                 "file_review": "主管"}),
    Route("village mediation -> written agreement -> judicial confirmation",
          [*INTO_MEDIATION, session("continue"), session("written_agreement"), FINALIZE, sign(True), JC_PACK,
           COURT_CONFIRMED, advance(31), visit("performed"), *CLOSE],
          outcome="written_agreement", level="village", expect={"jc_result": "confirmed", "enforceable": True},
          lanes={"mediation_session": "调解员", "assign_mediator": "调解员", "judicial_confirmation_pack": "调解员"}),
    Route("oral agreement",
          [*INTO_MEDIATION, session("oral_agreement"),
           ("oral_agreement_record", {"agreed_on": "@today", "agreement_content": "李娜三日内清理杂物。",
                                      "performance_manner": "自行清理", "performance_deadline": "@today+3",
                                      "parties_confirmed": True}),
           advance(4), visit("performed"), *CLOSE],
          outcome="oral_agreement", level="village"),
    Route("termination -> referral",
          [*INTO_MEDIATION, session("continue"), session("no_agreement"),
           ("termination_notice", {"termination_reason": "no_agreement", "channels": ["litigation"],
                                   "needs_referral_letter": True, "referral_target": "court", "notice_form": "written"}),
           ("referral_letter", {"referral_target": "court", "receiving_body": "诸暨市人民法院", "letter_date": "@today",
                                "referral_summary": "调解不成，转介诉讼。"}),
           *CLOSE],
          outcome="referred", level="village", expect={"referral_target": "court"}),
    Route("transfer to town, then county",
          [*INTO_MEDIATION, session("transfer_upward"), transfer(), INVESTIGATE, session("transfer_upward"),
           transfer(), INVESTIGATE, session("written_agreement"), FINALIZE, sign(False), advance(31),
           visit("performed"), *CLOSE],
          outcome="written_agreement", level="county", expect={"current_level": "county"}),
    Route("police mediation success",
          [*INTO_POLICE, police_eligibility(), police_session("agreement"), POLICE_AGREEMENT, performance(True),
           *CLOSE],
          outcome="police_agreement", level="village", lanes={"police_session": "民警"}),
    Route("police mediation failure -> punishment and civil-suit notice",
          [*INTO_POLICE, police_eligibility(), police_session("another_session"), police_session("failed"),
           ("punishment_decision", {"punishment": "fine", "decision_date": "@today", "decision_number": "诸公(枫)决字1号",
                                    "civil_suit_notice_given": True}),
           *CLOSE],
          outcome="police_punishment", level="village", expect={"civil_suit_notice_given": True}),
    Route("police + lawyer with lawyer review",
          [*INTO_POLICE, police_eligibility(lawyer=True),
           ("lawyer_legal_explanation", {"liability_explained": "殴打他人应承担行政和民事责任。",
                                         "litigation_cost_explained": "诉讼费、律师费和时间成本。",
                                         "litigation_risk": "举证不足可能败诉。", "legal_aid_needed": False}),
           police_session("agreement"),
           ("lawyer_agreement_review", {"lawful": True, "review_opinion": "内容合法，可以履行。"}),
           POLICE_AGREEMENT, performance(True), *CLOSE],
          outcome="police_agreement", level="village",
          lanes={"lawyer_legal_explanation": "律师", "lawyer_agreement_review": "律师", "police_agreement": "民警"}),
    Route("labour clock expiry -> arbitration option",
          [lead(category="labour"), application(category="labour"), acceptability(), RIGHTS, ASSIGN, INVESTIGATE,
           session("continue", task="mediation_session_labour"),
           advance(16),  # LDMAL Art. 14: 15 days from receipt of the application
           ("labour_arbitration_notice", {"notified_on": "@today", "labour_choice": "apply_arbitration",
                                          "arbitration_committee": "诸暨市劳动人事争议仲裁委员会"}),
           ("referral_letter", {"referral_target": "labour_arbitration", "receiving_body": "诸暨市劳动人事争议仲裁委员会",
                                "letter_date": "@today", "referral_summary": "调解十五日未达成协议。"}),
           *CLOSE],
          outcome="referred", level="village", expect={"referral_target": "labour_arbitration", "sector": "labour"}),
    Route("return visit finds non-performance -> urge -> sue",
          [*INTO_MEDIATION, session("written_agreement"), FINALIZE, sign(False), advance(31), visit("not_performed"),
           ("urge_performance", {"urge_date": "@today", "urge_method": "phone", "urge_result": "not_performed"}),
           ("advise_legal_action", {"legal_advice": "sue", "advised_on": "@today"}),
           *CLOSE],
          outcome="written_agreement", level="village", expect={"follow_up_result": "advised_to_sue"}),
    Route("high-risk lead -> police alert",
          [lead(signals=["weapons", "threats"]),
           ("police_alert_response", {"arrived_at": "@today 09:30", "situation": "一方持刀威胁。", "measures": "收缴刀具，带离现场。",
                                      "police_disposition": "criminal_case"}),
           ("risk_report_review", {"acknowledged": True, "responsible_leader": "镇综治办主任",
                                   "control_measures": "落实包案稳控。"}),
           *CLOSE],
          outcome="referred", level="village",
          expect={"risk_colour": "red", "police_alert": True, "recommended_level": "town"},
          lanes={"police_alert_response": "民警", "risk_report_review": "主管"}),
    Route("party withdraws mid-mediation",
          [*INTO_MEDIATION, session("continue"), session("withdrawn"),
           ("record_withdrawal", {"withdrawing_party": "李娜", "withdrawal_form": "oral",
                                  "withdrawal_reason": "不愿继续调解。", "channels_explained": True}),
           *CLOSE],
          outcome="withdrawn", level="village"),
    # ---- extra rows (not in the list)
    Route("withdrawal signalled by the runtime at any time",
          [*INTO_MEDIATION, session("continue"), (SIGNAL, {"name": "party_withdrawal"}),
           ("record_withdrawal", {"withdrawing_party": "张伟", "withdrawal_form": "written",
                                  "channels_explained": True}),
           *CLOSE],
          outcome="withdrawn", level="village"),
    Route("group dispute accepted at county level, then no consent -> not accepted",
          [lead(group_size=12), application(), acceptability(), transfer("recommended_level", task="transfer_to_town"),
           transfer("recommended_level", task="transfer_to_county"),
           ("rights_notice", {"notice_form": "written", "rights_explained": True, "consent_given": False}),
           ("not_accepted_notice", {"reason": "no_consent", "proper_channel": "court", "calming_measures": True,
                                    "notice_form": "written"}),
           *CLOSE],
          outcome="not_accepted", level="county", expect={"risk_colour": "orange", "recommended_level": "county"}),
    Route("recusal on request -> supervisor reassigns the mediator",
          [lead(), application(), acceptability(), RIGHTS,
           ("assign_mediator", {"presiding_mediator": "王调解", "assignment_basis": "designated",
                                "conflict_checked": True, "recusal_requested": True,
                                "recusal_reason": "被申请人称王调解与申请人系亲属。"}),
           ("recusal_reassign", {"replaced_mediator": "王调解", "new_presiding_mediator": "陈调解"}),
           INVESTIGATE, session("no_agreement"),
           ("termination_notice", {"termination_reason": "no_agreement", "channels": ["litigation"],
                                   "needs_referral_letter": False, "notice_form": "written"}),
           *CLOSE],
          outcome="terminated", level="village",
          lanes={"assign_mediator": "调解员", "recusal_reassign": "主管"}),
    Route("termination without referral letter",
          [*INTO_MEDIATION, session("no_agreement"),
           ("termination_notice", {"termination_reason": "no_agreement", "channels": ["litigation", "administrative"],
                                   "needs_referral_letter": False, "notice_form": "oral"}),
           *CLOSE],
          outcome="terminated", level="village"),
    Route("confirmed agreement not performed -> enforcement application",
          [*INTO_MEDIATION, session("written_agreement"), FINALIZE, sign(True), JC_PACK, COURT_CONFIRMED,
           advance(31), visit("not_performed"),
           ("urge_performance", {"urge_date": "@today", "urge_method": "written", "urge_result": "not_performed"}),
           ("advise_legal_action", {"legal_advice": "apply_enforcement", "advised_on": "@today"}),
           ("enforcement_application", {"enforcement_applied": True, "applied_on": "@today"}),
           *CLOSE],
          outcome="written_agreement", level="village", expect={"follow_up_result": "advised_enforcement"}),
]
