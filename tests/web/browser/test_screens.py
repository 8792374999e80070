"""Screenshots of every main page in both languages at phone and desktop width, with axe-core."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.browser.helpers import DESKTOP, PHONE, axe_violations, login, shot
from tests.web.helpers import new_case, open_task

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_main_pages_screens_and_axe(new_page: Any, session: Any, web_world: Any, lang: str) -> None:
    case = new_case(session, web_world)
    task = open_task(session, case.id)
    found: dict[str, list[dict[str, Any]]] = {}
    for width_name, viewport in (("360", PHONE), ("desktop", DESKTOP)):
        page = new_page(lang, viewport)
        page.goto(page.base + "/login")
        shot(page, f"login-{lang}-{width_name}")
        found[f"login-{width_name}"] = axe_violations(page)
        login(page, "mediator")
        if lang == "en" and page.locator("button[name=lang][value=en]").count():
            page.click("button[name=lang][value=en]")
            page.wait_for_load_state()
        pages = {"inbox": "/inbox", "cases": "/cases", "case": f"/cases/{case.id}",
                 "task": f"/tasks/{task.id}", "new": "/cases/new", "notifications": "/notifications",
                 "404": "/cases/99999"}
        for name, url in pages.items():
            page.goto(page.base + url)
            if name == "case":
                page.wait_for_function("window.diagramState !== undefined")
            shot(page, f"{name}-{lang}-{width_name}")
            found[f"{name}-{width_name}"] = axe_violations(page)
    bad = {k: v for k, v in found.items() if v}
    assert not bad, bad
