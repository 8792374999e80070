"""Case list (filters in the URL, search, paging, scope), case page and the intake form."""

from __future__ import annotations

from typing import Any

from tests.web.helpers import login, new_case, open_task


def test_case_list_filters_live_in_the_url(client: Any, session: Any, web_world: Any) -> None:
    first = new_case(session, web_world, title="宅基地纠纷", category="housing_homestead")
    second = new_case(session, web_world, title="噪音纠纷", category="neighbour")
    login(client, "mediator")
    page = client.get("/cases").get_data(as_text=True)
    assert first.number in page and second.number in page
    page = client.get("/cases?category=neighbour").get_data(as_text=True)
    assert second.number in page and first.number not in page
    assert '<option value="neighbour" selected>' in page
    page = client.get(f"/cases?q={first.number}").get_data(as_text=True)
    assert "宅基地纠纷" in page and "噪音纠纷" not in page
    page = client.get("/cases?q=李卫东&status=open&sort=number").get_data(as_text=True)
    assert "2 " in page.split('class="result-count"', 1)[1][:60]
    page = client.get("/cases?status=closed").get_data(as_text=True)
    assert first.number not in page
    page = client.get("/cases?date_from=2000-01-01&date_to=2000-01-02").get_data(as_text=True)
    assert first.number not in page


def test_case_list_pages(client: Any, session: Any, web_world: Any) -> None:
    for i in range(21):
        new_case(session, web_world, title=f"纠纷{i}")
    login(client, "mediator")
    page = client.get("/cases").get_data(as_text=True)
    assert "第 1 页，共 2 页" in page and 'href="/cases?page=2"' in page
    assert "纠纷0" in client.get("/cases?page=2").get_data(as_text=True)


def test_case_list_and_page_respect_scope(client: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    login(client, "lawyer")  # no grant: sees nothing
    assert case.number not in client.get("/cases").get_data(as_text=True)
    assert client.get(f"/cases/{case.id}").status_code == 403
    assert client.get(f"/cases/{case.id}/diagram.bpmn").status_code == 403


def test_case_page_shows_summary_deadlines_documents_and_timeline(client: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    login(client, "mediator")
    client.post(f"/tasks/{open_task(session, case.id).id}", data={"accepted": "true", "risk_colour": "red"})
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    for text in (case.number, "房屋宅基地", "红色", "枫源村", "张建国", "李卫东", "调解期限",
                 "《人民调解法》第二十六条", "案件登记", "环节完成", 'data-open="[&#34;Task_mediate&#34;, &#34;Timer_mediate&#34;]"'):
        assert text in page, text
    # the timeline names people as they are known, beside the user name the audit chain records
    assert "调解员 张秀英 · mediator" in page
    xml = client.get(f"/cases/{case.id}/diagram.bpmn")
    assert xml.status_code == 200 and b"Task_mediate" in xml.data


def test_intake_registers_a_case_and_starts_its_procedure(client: Any, session: Any, web_world: Any) -> None:
    login(client, "grid")
    response = client.post("/cases/new", data={"title": "", "category": "x", "applicant_phone": "abc"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "请用一句话概括纠纷" in page and "请选择纠纷类型" in page and "请只填写数字电话号码" in page
    response = client.post("/cases/new", data={
        "title": "楼上漏水", "category": "neighbour", "unit": str(web_world.units["grid-1"].id),
        "applicant_name": "王芳", "applicant_phone": "13800138000", "respondent_name": "赵明"})
    assert response.status_code == 302
    case_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "楼上漏水" in case_page and "受理审查" in case_page and "已登记" in case_page


def test_auditor_may_not_register_cases(client: Any, web_world: Any) -> None:
    login(client, "auditor")
    assert client.get("/cases/new").status_code == 403


def test_the_timeline_names_people_by_their_account_not_their_user_name(
        client: Any, session: Any, web_world: Any) -> None:
    """A system or command-line actor has no account: no display name is shown for it, even when a
    user happens to hold the same user name."""
    from cases.audit import Actor, record
    from cases.services import create_user

    case = new_case(session, web_world)
    create_user(session, username="system", password="pw-system-123", display_name="李调解员",
                memberships=[("mediator", web_world.units["village"])])
    record(session, actor=Actor.system(), action="case.exported", case_id=case.id, payload={"documents": {}})
    session.commit()
    login(client, "mediator")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "李调解员" not in page and "调解员 张秀英 · mediator" in page
