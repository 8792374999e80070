"""The guided experience in headless Chromium: login, intake on a phone, a whole village mediation,
validation errors, drafts, claim/release, the 409 page, languages, the diagram, keyboard only."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.web.browser.helpers import PHONE, login, shot
from tests.web.helpers import new_case, open_task

pytestmark = pytest.mark.browser
TODAY = datetime.now(timezone(timedelta(hours=8))).date().isoformat()


def test_login_refuses_wrong_password_then_opens_inbox(new_page: Any) -> None:
    page = new_page("zh")
    page.goto(page.base + "/login")
    page.fill("#username", "mediator")
    page.fill("#password", "wrong")
    page.click("form button.primary")
    assert "用户名或密码错误" in page.text_content("#login-error")
    page.fill("#password", "demo")
    page.click("form button.primary")
    page.wait_for_url("**/inbox")
    assert page.text_content("h1") == "待办"


def test_grid_worker_intake_on_a_phone(new_page: Any, web_world: Any) -> None:
    page = new_page("zh", PHONE)
    login(page, "grid")
    page.click("nav.main-nav >> text=新建案件")
    page.wait_for_url("**/cases/new")
    shot(page, "flow-intake-empty-zh-360")
    page.click("button.primary")  # nothing filled in: errors beside the fields
    assert page.locator("#i-title").get_attribute("aria-invalid") == "true"
    assert "请用一句话概括纠纷" in page.text_content(".field.has-error")
    shot(page, "flow-intake-errors-zh-360")
    page.fill("#i-title", "楼上漏水影响楼下住户")
    page.select_option("#i-category", "neighbour")
    page.fill("#i-applicant_name", "王芳")
    page.fill("#i-applicant_phone", "13800138000")
    page.fill("#i-respondent_name", "赵明")
    page.click("button.primary")
    page.wait_for_url("**/cases/*")
    assert "已登记" in page.text_content(".flash-success")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "flow-intake-done-zh-360")


def _choose_radio(page: Any, name: str, value: str) -> None:
    page.check(f"input[name={name}][value={value}]")


def test_mediator_takes_a_case_from_intake_to_agreement(new_page: Any, web_world: Any) -> None:
    page = new_page("zh", PHONE)
    login(page, "mediator")
    page.goto(page.base + "/cases/new")
    page.fill("#i-title", "张某与李某宅基地边界纠纷")
    page.select_option("#i-category", "housing_homestead")
    page.fill("#i-applicant_name", "张建国")
    page.fill("#i-respondent_name", "李卫东")
    page.click("button.primary")
    # straight on to the first step of the new case
    page.wait_for_url("**/tasks/*")
    assert page.text_content("h1") == "受理审查"
    _choose_radio(page, "accepted", "true")
    assert page.locator("#field-reject_reason-wrap").is_hidden()  # conditional field
    page.select_option("#field-risk_colour", "yellow")
    page.click("button[value=complete]")
    page.wait_for_url("**/tasks/*")
    assert "下一步：调解" in page.text_content(".flash-success")
    # validation errors beside the fields
    page.click("button[value=complete]")
    assert page.locator("#error-summary").is_visible()
    date_wrap = page.locator("#field-meeting_date-wrap")
    assert "has-error" in date_wrap.get_attribute("class")
    assert date_wrap.locator(".error").is_visible()
    shot(page, "flow-mediate-errors-zh-360")
    # the parties were carried over from the intake
    assert page.input_value("#field-parties-0-name") == "张建国"
    page.fill("#field-meeting_date", TODAY)
    page.fill("#field-attendees", "4")
    page.check("input[name=methods][value=face]")
    _choose_radio(page, "agreed", "true")
    assert page.locator("#field-terms-wrap").is_visible()
    page.fill("#field-terms", "以现有围墙为界，李某拆除越界部分。")
    page.fill("#field-amount", "1200")
    page.click("button[value=complete]")
    page.wait_for_url("**/tasks/*")
    assert page.text_content("h1") == "签订调解协议"
    page.fill("#field-agreement_text", "双方同意以现有围墙为界。")
    page.fill("#field-signed_on", TODAY)
    page.select_option("#field-performance", "immediate")
    page.click("button[value=complete]")  # not confirmed yet
    assert page.locator("#confirm-err").is_visible()
    shot(page, "flow-agreement-confirm-zh-360")
    page.check("#confirm")
    page.click("button[value=complete]")
    page.wait_for_url("**/cases/*")
    assert "已结案" in page.text_content(".tags")
    shot(page, "flow-case-closed-zh-360")


def test_save_draft_and_resume(new_page: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    task = open_task(session, case.id)
    page = new_page("en")
    login(page, "mediator")
    page.goto(f"{page.base}/tasks/{task.id}")
    page.select_option("#field-risk_colour", "orange")
    page.click("button[value=draft]")
    assert page.locator(".flash-success").is_visible()
    page.goto(page.base + "/inbox")
    page.click(f"a[href='/tasks/{task.id}'] >> nth=0")
    assert page.input_value("#field-risk_colour") == "orange"


def test_claim_and_release(new_page: Any, session: Any, web_world: Any) -> None:
    new_case(session, web_world)
    page = new_page("zh")
    login(page, "mediator")
    assert page.text_content("#h-mine .count") == "0"
    page.click("#h-unit ~ ul button:has-text('认领')")
    page.goto(page.base + "/inbox")
    assert page.text_content("#h-mine .count") == "1"
    assert page.text_content("#h-unit .count") == "0"
    shot(page, "flow-claimed-zh-desktop")
    other = new_page("zh")
    login(other, "mediator2")  # claimed by someone else: not in the unit list any more
    assert other.text_content("#h-unit .count") == "0"
    page.click("#h-mine ~ ul button:has-text('退回')")
    page.wait_for_url("**/inbox")
    assert page.text_content("#h-mine .count") == "0"
    assert page.text_content("#h-unit .count") == "1"


def test_two_people_complete_one_task_the_second_sees_409(new_page: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    task = open_task(session, case.id)
    first, second = new_page("zh"), new_page("en")
    login(first, "mediator")
    login(second, "mediator2")
    second.click("button[name=lang][value=en]")  # mediator2 works in English
    for page in (first, second):
        page.goto(f"{page.base}/tasks/{task.id}")
        _choose_radio(page, "accepted", "true")
        page.select_option("#field-risk_colour", "blue")
    first.click("button[value=complete]")
    first.wait_for_url("**/tasks/*")
    with second.expect_response(lambda r: r.request.method == "POST") as info:
        second.click("button[value=complete]")
    assert info.value.status == 409
    text = second.text_content("main")
    assert "Someone else has already done this step" in text
    assert "调解员 张秀英" in text
    shot(second, "flow-409-en-desktop")
    second.click("a.button:has-text('Open the case')")
    second.wait_for_load_state()
    assert second.url.endswith(f"/cases/{case.id}"), second.url


def test_language_switch_is_remembered_per_user(new_page: Any, web_world: Any) -> None:
    page = new_page("zh")
    page.goto(page.base + "/login")
    assert page.text_content("h1") == "登录"
    page.click("button[name=lang][value=en]")
    assert page.text_content("h1") == "Log in"
    login(page, "police")
    assert page.text_content("h1") == "Inbox"
    fresh = new_page("zh")  # another browser: the saved language wins over Accept-Language
    login(fresh, "police")
    assert fresh.text_content("h1") == "Inbox"
    fresh.click("button[name=lang][value=zh]")
    assert fresh.text_content("h1") == "待办"


def test_case_page_diagram_marks_the_current_task(new_page: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    page = new_page("zh")
    login(page, "mediator")
    page.goto(f"{page.base}/cases/{case.id}")
    page.wait_for_function("window.diagramState !== undefined")
    state = page.evaluate("window.diagramState")
    assert state.get("ok"), state
    assert state["open"] == ["Task_accept"]
    assert "StartEvent_intake" in state["done"]
    marked = page.locator("[data-element-id=Task_accept]")
    assert "fq-open" in marked.get_attribute("class")
    labels = page.evaluate("Array.from(document.querySelectorAll('#diagram svg text')).map(t => t.textContent)")
    assert "受理审查" in "".join(labels)


def test_keyboard_only_completion(new_page: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    task = open_task(session, case.id)
    page = new_page("en")
    page.goto(page.base + "/login")
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")  # home
    page.focus("#username")
    page.keyboard.type("mediator")
    page.keyboard.press("Tab")
    page.keyboard.type("demo")
    page.keyboard.press("Enter")
    page.wait_for_url("**/inbox")
    page.click("button[name=lang][value=en]")
    page.goto(f"{page.base}/tasks/{task.id}")

    def tab_to(selector: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
                outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
                assert outline != "none", f"no visible focus on {selector}"
                return
        raise AssertionError(f"could not reach {selector} with Tab")

    tab_to("input[name=accepted]")
    page.keyboard.press("Space")  # first radio: yes
    tab_to("#field-risk_colour")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    tab_to("button[value=complete]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/tasks/*")
    assert "Next step" in page.text_content(".flash-success")


def test_core_form_works_without_javascript(new_page: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    task = open_task(session, case.id)
    page = new_page("zh", PHONE, js=False)
    login(page, "mediator")
    page.goto(f"{page.base}/tasks/{task.id}")
    assert page.locator("#field-reject_reason-wrap").is_visible()  # shown: nothing hides it
    page.check("input[name=accepted][value=true]")
    page.select_option("#field-risk_colour", "red")
    page.click("button[value=complete]")
    page.wait_for_url("**/tasks/*")
    assert page.text_content("h1") == "调解"
    shot(page, "flow-nojs-mediate-zh-360")


def test_rows_can_be_added_and_removed(new_page: Any, session: Any, web_world: Any) -> None:
    """A wrongly entered party is removed with its button; numbers follow the screen, and the
    field names never reuse an index (the server orders rows by it): the saved draft holds exactly
    the rows left."""
    from workflows import services

    case = new_case(session, web_world)
    services.complete_task(session, human_task_id=open_task(session, case.id).id, user=web_world.users["mediator"],
                           data={"accepted": True, "risk_colour": "yellow"})
    session.commit()
    task = open_task(session, case.id)  # the mediation session: its parties are rows
    page = new_page("en")
    login(page, "mediator")
    page.goto(f"{page.base}/tasks/{task.id}")
    rows = page.locator("fieldset.rows[data-rows=parties] .row-item")
    before = rows.count()
    assert before >= 2 and page.locator(".row-item .remove-row").first.is_visible()
    assert page.locator("input[name=_rows][value=parties]").count() == 1  # removing every row posts []
    page.click("fieldset.rows[data-rows=parties] .add-row")
    assert rows.count() == before + 1
    indices = [rows.nth(i).get_attribute("data-row") for i in range(rows.count())]
    assert len(set(indices)) == len(indices)
    names = [rows.nth(i).locator("input[name$='-name']").input_value() for i in range(rows.count())]
    assert names[:2] == ["张建国", "李卫东"]
    rows.nth(0).locator(".remove-row").click()  # the applicant was entered by mistake
    assert rows.count() == before
    assert [rows.nth(i).locator(".row-number").text_content() for i in range(rows.count())] == [
        str(i + 1) for i in range(rows.count())]
    page.click("fieldset.rows[data-rows=parties] .add-row")  # a new row after a removal: a fresh index
    indices = [rows.nth(i).get_attribute("data-row") for i in range(rows.count())]
    assert len(set(indices)) == len(indices)
    rows.last.locator("input[name$='-name']").fill("王芳")
    shot(page, "flow-rows-removed-en")
    page.click("button[value=draft]")
    assert page.locator(".flash-success").is_visible()
    kept = [rows.nth(i).locator("input[name$='-name']").input_value() for i in range(rows.count())]
    assert [n for n in kept if n] == ["李卫东", "王芳"]
