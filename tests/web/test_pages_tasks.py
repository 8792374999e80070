"""The task page through the Flask test client: form, errors beside fields, confirmation, draft,
claim/release, next step, 409 and permissions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tests.web.helpers import login, new_case, open_task

TODAY = datetime.now(timezone(timedelta(hours=8))).date().isoformat()


def _accept(client: Any, task_id: int, **extra: str) -> Any:
    return client.post(f"/tasks/{task_id}", data={"accepted": "true", "risk_colour": "yellow", **extra})


def test_task_page_shows_instructions_legal_hint_and_every_field(client: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    task = open_task(session, case.id)
    login(client, "mediator")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "受理审查" in page and "《人民调解法》第十七条" in page and "核实纠纷" in page
    for name in ("accepted", "risk_colour", "reject_reason"):
        assert f'name="{name}"' in page
    assert 'data-visible-if=' in page and 'for="field-risk_colour"' in page


def test_validation_errors_are_shown_beside_fields(client: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    task = open_task(session, case.id)
    login(client, "mediator")
    response = client.post(f"/tasks/{task.id}", data={"accepted": "true"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    wrap = page.split('id="field-risk_colour-wrap"', 1)[1].split('id="field-reject_reason-wrap"', 1)[0]
    assert 'class="error"' in wrap and 'aria-invalid="true"' in wrap
    assert 'id="error-summary"' in page
    assert open_task(session, case.id).id == task.id  # nothing completed


def test_completion_goes_straight_to_the_next_step(client: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    task = open_task(session, case.id)
    login(client, "mediator")
    response = _accept(client, task.id)
    assert response.status_code == 302
    nxt = open_task(session, case.id)
    assert nxt.name == "调解" and response.headers["Location"] == f"/tasks/{nxt.id}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "下一步：调解" in page
    assert 'value="张建国"' in page  # parties carried over from the case


def test_confirmation_is_required_before_an_irreversible_step(client: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    login(client, "mediator")
    _accept(client, open_task(session, case.id).id)
    mediate = open_task(session, case.id)
    data = {"parties-0-role": "applicant", "parties-0-name": "张建国", "parties-1-role": "respondent",
            "parties-1-name": "李卫东", "meeting_date": TODAY, "agreed": "true", "terms": "以围墙为界"}
    assert client.post(f"/tasks/{mediate.id}", data=data).status_code == 302
    agreement = open_task(session, case.id)
    form = {"agreement_text": "双方同意", "signed_on": TODAY, "performance": "immediate"}
    response = client.post(f"/tasks/{agreement.id}", data=form)
    assert response.status_code == 422
    assert 'id="confirm-err"' in response.get_data(as_text=True)
    response = client.post(f"/tasks/{agreement.id}", data={**form, "_confirm": "yes"})
    assert response.status_code == 302 and response.headers["Location"] == f"/cases/{case.id}"
    assert "已结案" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_save_draft_and_resume(client: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    task = open_task(session, case.id)
    login(client, "mediator")
    response = client.post(f"/tasks/{task.id}", data={"risk_colour": "orange", "_action": "draft"})
    assert response.status_code == 302
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert '<option value="orange" selected>' in page and "已载入保存的草稿" in page


def test_second_completion_gets_the_409_page_with_who_and_the_case(app: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    task = open_task(session, case.id)
    first, second = app.test_client(), app.test_client()
    login(first, "mediator")
    login(second, "mediator2")
    assert _accept(first, task.id).status_code == 302
    response = _accept(second, task.id)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "调解员 张秀英" in page and f'href="/cases/{case.id}"' in page
    assert "Traceback" not in page


def test_claim_and_release(app: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    task = open_task(session, case.id)
    mine, other = app.test_client(), app.test_client()
    login(mine, "mediator")
    login(other, "mediator2")
    assert mine.post(f"/tasks/{task.id}/claim").status_code == 302
    page = other.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "已认领该环节" in page and 'value="complete"' not in page
    assert _accept(other, task.id).status_code == 409
    assert mine.post(f"/tasks/{task.id}/release").status_code == 302
    assert _accept(other, task.id).status_code == 302


def test_other_roles_and_units_are_refused(client: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    task = open_task(session, case.id)
    login(client, "grid")
    assert client.get(f"/tasks/{task.id}").status_code == 403
    assert _accept(client, task.id).status_code == 403
    assert client.get("/tasks/99999").status_code == 404
