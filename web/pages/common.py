"""Shared pieces of the page views: the blueprint, labels in the request's language, redirects."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from cases.models import CATEGORIES, Case, OrgUnit, User
from cases.permissions import Action, can
from cases.roles import ROLE_LABELS, Role
from cases.write_behind import send_pending
from web.db import db
from web.i18n import current_lang

bp = Blueprint("pages", __name__)

RISK_LABELS = {
    "red": {"zh": "红色", "en": "Red"}, "orange": {"zh": "橙色", "en": "Orange"},
    "yellow": {"zh": "黄色", "en": "Yellow"}, "blue": {"zh": "蓝色", "en": "Blue"},
}
LEVEL_LABELS = {
    "village": {"zh": "村（社区）级", "en": "Village"}, "town": {"zh": "乡镇（街道）级", "en": "Town"},
    "county": {"zh": "县级", "en": "County"},
}
STATUS_LABELS = {
    "open": {"zh": "办理中", "en": "Open"}, "error": {"zh": "出错待处理", "en": "Error"},
    "closed": {"zh": "已结案", "en": "Closed"},
}
# Stages are the ids of the (sub)processes a case is in; known ones get a label, others show their id.
STAGE_LABELS = {
    "dispute": {"zh": "纠纷调解", "en": "Dispute mediation"},
    "prevention": {"zh": "矛盾排查预防", "en": "Prevention"},
    "intake": {"zh": "受理", "en": "Intake"},
    "mediation": {"zh": "人民调解", "en": "People's mediation"},
    "police_mediation": {"zh": "治安调解", "en": "Police mediation"},
    "judicial_confirmation": {"zh": "司法确认", "en": "Judicial confirmation"},
    "referral": {"zh": "转介", "en": "Referral"},
    "closure": {"zh": "结案与履行", "en": "Closure and performance"},
    "village_mediation": {"zh": "村级调解", "en": "Village mediation"},
    "town_mediation": {"zh": "镇级调解", "en": "Town mediation"},
    "county_mediation": {"zh": "县级调解", "en": "County mediation"},
    "follow_up": {"zh": "回访", "en": "Follow-up"},
}
OUTCOME_LABELS = {
    "resolved_on_spot": {"zh": "就地化解", "en": "Resolved on the spot"},
    "written_agreement": {"zh": "达成书面调解协议", "en": "Written agreement"},
    "oral_agreement": {"zh": "达成口头协议", "en": "Oral agreement"},
    "terminated": {"zh": "终止调解", "en": "Mediation terminated"},
    "referred": {"zh": "已转介", "en": "Referred"},
    "withdrawn": {"zh": "当事人撤回", "en": "Withdrawn by a party"},
    "police_agreement": {"zh": "治安调解协议", "en": "Police mediation agreement"},
    "police_punishment": {"zh": "依法处罚", "en": "Punished under the law"},
    "not_accepted": {"zh": "不予受理", "en": "Not accepted"},
}
PARTY_ROLE_LABELS = {
    "applicant": {"zh": "申请人", "en": "Applicant"}, "respondent": {"zh": "被申请人", "en": "Respondent"},
    "third_party": {"zh": "第三人", "en": "Third party"},
}


def pick(labels: dict[str, dict[str, str]], key: str | None) -> str:
    """The label of ``key`` in the request's language (the key itself when unknown)."""
    if not key:
        return ""
    found = labels.get(key)
    return found[current_lang()] if found else key


def role_label(role: str | None) -> str:
    try:
        return ROLE_LABELS[Role(role)][current_lang()]
    except ValueError:
        return pick({"system": {"zh": "系统", "en": "System"},
                     "anonymous": {"zh": "未登录", "en": "Anonymous"}}, role)


def category_label(key: str | None) -> str:
    return pick(CATEGORIES, key)


def unit_name(unit: OrgUnit | None) -> str:
    return unit.name(current_lang()) if unit is not None else ""


def document_label(kind: str) -> str:
    try:
        from documents.kinds import get_kind

        found = get_kind(kind)
        return str(getattr(found, "title_zh" if current_lang() == "zh" else "title_en", kind))
    except Exception:  # noqa: BLE001 -- an unknown kind is shown by its name
        return kind


def me() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined,no-any-return]


def load_case(case_id: int, action: Action = Action.CASE_VIEW) -> Case:
    case = db().get(Case, case_id)
    if case is None:
        abort(404)
    if not can(me(), action, case):
        abort(403)
    return case


def safe_next(target: str | None, fallback: str | None = None) -> str:
    """A same-site relative URL to go back to (never another host)."""
    fallback = fallback or url_for("pages.inbox")
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return fallback
    return target


def form_data_without_reserved() -> Any:
    """The posted form minus the CSRF token and the page's own ``_`` keys."""
    data = request.form.copy()
    for key in list(data.keys()):
        if key == "csrf_token" or key.startswith("_"):
            data.poplist(key)
    return data


def chrome() -> dict[str, Any]:
    """Values every page template uses (header counts, labels)."""
    values: dict[str, Any] = {
        "pick": pick, "role_label": role_label, "category_label": category_label,
        "unit_name": unit_name, "RISK_LABELS": RISK_LABELS, "LEVEL_LABELS": LEVEL_LABELS,
        "STATUS_LABELS": STATUS_LABELS, "STAGE_LABELS": STAGE_LABELS, "PARTY_ROLE_LABELS": PARTY_ROLE_LABELS,
        "OUTCOME_LABELS": OUTCOME_LABELS,
        "document_label": document_label, "unread_count": 0, "task_count": 0,
    }
    if current_user and current_user.is_authenticated and request.blueprint == "pages":
        from web.pages.notifications import unread_count
        from web.pages.queries import inbox_tasks

        if not g.get("error_page"):  # a failed write of this request fails it, not taken for the header's error
            send_pending(db())
        try:
            values["unread_count"] = unread_count(me())
            mine, unit = inbox_tasks(me())
            values["task_count"] = len(mine) + len(unit)
        except Exception:  # noqa: BLE001 -- the header must never break an error page
            db().rollback()
    return values


def title_join(*parts: str) -> str:
    return " · ".join(p for p in parts if p) + " · " + _("Fengqiao mediation")
