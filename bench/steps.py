"""Form data for each user task of ``bench/mediation.bpmn``, shared by the engine and API drivers."""

from __future__ import annotations

from typing import Any

DIAGRAM = "mediation.bpmn"
PROCESS_ID = "bench_mediation"

STEP_DATA: dict[str, dict[str, Any]] = {
    "m_intake": {"summary": "邻里之间因排水沟堵塞发生纠纷", "amount": "3,000", "threats": False,
                 "parties": [{"role": "applicant", "name": "王芳"}, {"role": "respondent", "name": "赵明"}]},
    "m_assign": {"mediator_name": "张秀英"},
    "m_notice": {"consent": True},
    "m_schedule": {"session_date": "2026-12-01", "place": "村委会调解室"},
    "m_session": {"agreement_reached": True, "record": "双方同意共同清理排水沟，费用各半。"},
    "m_draft": {"terms": "双方于2026年12月10日前共同清理排水沟，费用各半承担。", "deadline": "2026-12-10"},
    "m_review": {"approved": True},
    "m_sign": {"signed": True},
    "m_visit": {"more_followup": False, "note": "已履行"},
}


def data_for(spec_id: str, more_visits: bool = False) -> dict[str, Any]:
    data = dict(STEP_DATA[spec_id.split(" ")[0]])
    if spec_id.startswith("m_visit"):
        data["more_followup"] = more_visits
    return data
