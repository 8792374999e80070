"""Complete sample contexts for every document kind (demo data, tests and the render benchmark).

``sample_context(kind, lang)`` returns a fresh dict; the names include rare surname characters
(亓, 仝, 乜, 赟, 喆) that WenQuanYi Micro Hei covers.
"""

from __future__ import annotations

import copy
from typing import Any

_COMMITTEE_ZH = {"name": "东城区和平里街道人民调解委员会", "address": "北京市东城区和平里北街 6 号", "phone": "010-8888 0000"}
_COMMITTEE_EN = {"name": "Hepingli Subdistrict People's Mediation Committee", "address": "6 Hepingli North St, Dongcheng",
                 "phone": "010-8888 0000"}

_PARTIES_ZH = [
    {"role": "申请人", "name": "亓赟", "gender": "男", "birth_date": "1990-01-01", "ethnicity": "汉族",
     "occupation": "个体工商户", "id_number": "110101199001011234", "address": "北京市东城区和平里街道 12 号",
     "phone": "138 0000 1111", "service_address": "北京市东城区和平里街道 12 号"},
    {"role": "被申请人", "name": "仝喆", "gender": "女", "birth_date": "1988-05-05", "ethnicity": "回族",
     "occupation": "教师", "id_number": "110105198805052345", "address": "北京市朝阳区建国路 88 号",
     "phone": "139 0000 2222", "service_address": "北京市朝阳区建国路 88 号"},
]
_PARTIES_EN = [
    {"role": "Applicant", "name": "Qi Yun (亓赟)", "gender": "male", "birth_date": "1990-01-01",
     "occupation": "sole trader", "id_number": "110101199001011234", "address": "12 Hepingli St, Dongcheng, Beijing",
     "phone": "138 0000 1111", "service_address": "12 Hepingli St, Dongcheng, Beijing"},
    {"role": "Respondent", "name": "Tong Zhe (仝喆)", "gender": "female", "birth_date": "1988-05-05",
     "occupation": "teacher", "id_number": "110105198805052345", "address": "88 Jianguo Rd, Chaoyang, Beijing",
     "phone": "139 0000 2222", "service_address": "88 Jianguo Rd, Chaoyang, Beijing"},
]

_ZH: dict[str, dict[str, Any]] = {
    "agreement": {
        "facts": "申请人于 2025 年 3 月将其所有的和平里北街 12 号房屋出租给被申请人，收取押金人民币捌仟元整（¥8,000）。"
                 "租期届满后，被申请人已腾退房屋，申请人以墙面损坏为由拒绝返还押金。",
        "issues": "押金是否应当返还及返还数额。",
        "responsibilities": "被申请人对墙面轻微损坏负有责任；申请人扣留全部押金缺乏依据。",
        "terms": ["申请人于 2026 年 12 月 31 日前向被申请人返还押金人民币陆仟元整（¥6,000）。",
                  "被申请人放弃其余押金人民币贰仟元（¥2,000）的请求，用于抵偿墙面修复费用。",
                  "双方就本纠纷再无其他争议。"],
        "performance": {"manner": "银行转账至被申请人指定账户", "place": "北京市东城区",
                        "deadline": "2026 年 12 月 31 日前一次性履行完毕"},
        "mediators": [{"name": "乜红梅"}],
        "signed_on": "2026-12-01",
    },
    "oral_agreement_record": {
        "facts": "双方因楼上漏水损坏楼下吊顶发生纠纷。",
        "terms": ["楼上住户于当日请人修复漏水管道。", "楼上住户赔偿楼下住户吊顶修复费用人民币伍佰元（¥500），当场支付。"],
        "agreed_on": "2026-11-20",
        "performance": {"manner": "现金当场支付", "place": "调解室", "deadline": "当日"},
        "mediators": [{"name": "乜红梅"}],
    },
    "application_record": {
        "initiation": "application", "application_form": "written", "applied_on": "2026-11-02",
        "claim": "请求被申请人返还房屋租赁押金人民币捌仟元。",
        "facts": "房屋租赁期满，申请人拒绝返还押金，双方协商未果。",
        "accepted_on": "2026-11-03", "registrar": "乜红梅", "category": "房屋租赁纠纷",
        "mediators": [{"name": "乜红梅"}],
    },
    "not_accepted_notice": {
        "applied_on": "2026-11-02",
        "reason": "该纠纷已由人民法院受理。",
        "channel": "东城区人民法院（继续参加诉讼）",
        "issued_on": "2026-11-04",
    },
    "rights_notice": {"mediators": [{"name": "乜红梅"}], "notified_on": "2026-11-05"},
    "mediation_record": {
        "started_at": "2026-11-10T09:30", "place": "和平里街道人民调解室", "subject": "房屋租赁押金返还纠纷",
        "mediators": [{"name": "乜红梅"}], "recorder": "欧阳晓",
        "others": [{"name": "王建国", "relation": "社区网格员"}],
        "statements": [{"speaker": "亓赟", "text": "墙面损坏，修复需要两千元，押金不应全部返还。"},
                       {"speaker": "仝喆", "text": "墙面只是轻微磨损，属于正常使用，押金应当全部返还。"}],
        "evidence": [{"description": "房屋租赁合同", "opinion": "双方无异议"},
                     {"description": "墙面照片 6 张", "opinion": "显示墙面有轻微损坏"}],
        "outcome": "agreement", "outcome_detail": "双方达成书面调解协议，另行制作人民调解协议书。",
    },
    "termination_notice": {
        "reason": "经三次调解，双方分歧较大，无法达成调解协议。", "terminated_on": "2026-11-25",
        "mediators": [{"name": "乜红梅"}],
    },
    "police_agreement": {
        "police": {"name": "北京市公安局东城分局和平里派出所"},
        "facts": "2026 年 11 月 8 日晚，双方因停车位问题发生争执，亓赟推搡仝喆致其手臂轻微擦伤，经鉴定未构成轻微伤。",
        "terms": ["亓赟向仝喆赔礼道歉。", "亓赟赔偿仝喆医疗费人民币叁佰元（¥300）。"],
        "performance": {"manner": "现金支付", "place": "和平里派出所", "deadline": "协议签订当日"},
        "mediated_at": "2026-11-09T15:00", "place": "和平里派出所调解室",
        "officers": [{"name": "张警官"}, {"name": "李警官"}],
    },
    "judicial_confirmation_pack": {
        "court": "北京市东城区人民法院",
        "agreement": {"effective_on": "2026-12-01", "summary": "申请人于 2026 年 12 月 31 日前返还押金人民币陆仟元。",
                      "reference": "和调字〔2026〕第 15 号"},
        "materials": [],
        "applied_on": "2026-12-05",
    },
    "referral_letter": {
        "recipient": {"name": "北京市东城区劳动人事争议仲裁委员会", "type": "labour_arbitration"},
        "summary": "申请人主张被申请人拖欠工资人民币壹万贰仟元。",
        "reason": "该纠纷属于劳动争议，当事人申请调解后十五日内未达成调解协议。",
        "attachments": ["调解申请书", "调解笔录"], "issued_on": "2026-11-20", "contact": "乜红梅 010-8888 0000",
    },
    "return_visit_record": {
        "agreement_date": "2026-12-01", "visited_on": "2027-01-05", "method": "电话回访",
        "visitors": ["乜红梅"], "visited": ["仝喆"], "performance_status": "performed",
        "details": "被申请人确认已于 2026 年 12 月 28 日收到押金人民币陆仟元。", "urged": False,
        "opinion": "对调解结果满意。",
    },
    "case_file_index": {
        "title": "房屋租赁押金返还纠纷",
        "documents": [{"title": "人民调解申请及受理登记表", "pages": 1, "date": "2026-11-03"},
                      {"title": "人民调解权利义务告知书", "pages": 1, "date": "2026-11-05"},
                      {"title": "人民调解笔录", "pages": 2, "date": "2026-11-10"},
                      {"title": "人民调解协议书", "pages": 3, "date": "2026-12-01"},
                      {"title": "人民调解回访记录", "pages": 1, "date": "2027-01-05"}],
        "opened_on": "2026-11-03", "closed_on": "2027-01-05", "archived_by": "乜红梅", "retention": "长期",
    },
}

_EN: dict[str, dict[str, Any]] = {
    "agreement": {
        "facts": "In March 2025 the applicant let his flat at 12 Hepingli North St to the respondent against a deposit "
                 "of CNY 8,000. At the end of the lease the respondent moved out; the applicant refused to return "
                 "the deposit, citing damage to the walls.",
        "issues": "Whether, and how much of, the deposit must be returned.",
        "responsibilities": "The respondent is responsible for minor damage to the walls; the applicant had no "
                            "ground to keep the whole deposit.",
        "terms": ["The applicant returns CNY 6,000 of the deposit to the respondent by 31 December 2026.",
                  "The respondent waives the remaining CNY 2,000, which covers repair of the walls.",
                  "Neither party has any further claim relating to this dispute."],
        "performance": {"manner": "bank transfer to the respondent's account", "place": "Dongcheng District, Beijing",
                        "deadline": "in one payment by 31 December 2026"},
        "mediators": [{"name": "Nie Hongmei (乜红梅)"}],
        "signed_on": "2026-12-01",
    },
}


def _committee(lang: str) -> dict[str, Any]:
    return _COMMITTEE_ZH if lang == "zh" else _COMMITTEE_EN


def sample_context(kind: str, lang: str = "zh", case_number: str = "东调〔2026〕015") -> dict[str, Any]:
    """A complete context for ``kind``; English data exists for the agreement, other kinds reuse Chinese data."""
    body = (_EN if lang == "en" else _ZH).get(kind) or _ZH[kind]
    parties = _PARTIES_EN if lang == "en" and kind in _EN else _PARTIES_ZH
    ctx: dict[str, Any] = {"case_number": case_number, "committee": _committee(lang), "parties": parties, **body}
    return copy.deepcopy(ctx)
