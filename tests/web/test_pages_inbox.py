"""Inbox lists and counts, notifications with the unread badge, and the node_modules allow-list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.web.helpers import login, new_case, open_task
from workflows.models import HumanTask


def test_inbox_lists_unit_tasks_then_mine_after_claiming(client: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    task = open_task(session, case.id)
    login(client, "mediator")
    page = client.get("/inbox").get_data(as_text=True)
    unit = page.split('id="h-unit"', 1)[1]
    assert '<span class="count">1</span>' in unit[:200] and "受理审查" in unit
    client.post(f"/tasks/{task.id}/claim")
    page = client.get("/inbox").get_data(as_text=True)
    assert '<span class="count">1</span>' in page.split('id="h-mine"', 1)[1][:200]


def test_overdue_and_due_soon_come_first(client: Any, session: Any, web_world: Any) -> None:
    calm = new_case(session, web_world, title="不急")
    urgent = new_case(session, web_world, title="很急")
    row = session.get(HumanTask, open_task(session, urgent.id).id)
    row.due_at = datetime.now(UTC) - timedelta(hours=2)
    session.commit()
    login(client, "mediator")
    page = client.get("/inbox").get_data(as_text=True)
    assert page.index("很急") < page.index("不急")
    assert "已超期" in page
    del calm


def test_notifications_badge_and_mark_read(client: Any, session: Any, web_world: Any) -> None:
    new_case(session, web_world)
    login(client, "mediator")
    page = client.get("/notifications").get_data(as_text=True)
    assert 'class="badge"' in page and "受理审查" in page
    client.post("/notifications/read")
    page = client.get("/notifications").get_data(as_text=True)
    assert 'class="badge"' not in page and "受理审查" in page


def test_assets_are_served_only_from_the_allow_list(client: Any) -> None:
    ok = client.get("/assets/npm/bpmn-js/dist/assets/bpmn-js.css")
    assert ok.status_code == 200 and ok.mimetype == "text/css"
    ok.close()
    for path in ("bpmn-js/package.json", "bpmn-js/dist/../package.json", "axe-core/axe.min.js",
                 "bpmn-js/dist/missing.js"):
        assert client.get(f"/assets/npm/{path}").status_code == 404, path
