"""Languages: every template/view string has a Chinese translation, pages rendered in Chinese show
no English source text, the locale follows user > session > Accept-Language, times are Asia/Shanghai."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.web.helpers import login, new_case, open_task

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "web" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
METHODS = [("web/pages/**.py", "python"), ("web/i18n.py", "python"), ("web/templates/**.html", "jinja2")]
# Words allowed inside a Chinese page: proper names and identifiers shown as data.
ALLOWED_ASCII = {"English", "mediator", "mediator2", "grid", "demo", "police", "supervisor", "admin",
                 "BPMN"}


def _extracted() -> set[str]:
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=METHODS, keywords={"_": None, "gettext": None, "ngettext": (1, 2)}):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_string_has_a_chinese_translation() -> None:
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="zh")
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(_extracted() - translated)
    assert not missing, f"untranslated strings (run pybabel extract/update, then translate): {missing}"


def _visible_text(html: str) -> str:
    html = re.sub(r"<(script|style|template)\b.*?</\1>", " ", html, flags=re.DOTALL)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_chinese_pages_show_no_english_source_text(app: Any, client: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world, title="邻里纠纷")
    task = open_task(session, case.id)
    login(client, "mediator")
    for url in ("/inbox", "/cases", f"/cases/{case.id}", f"/tasks/{task.id}", "/cases/new",
                "/notifications", "/cases/424242"):
        text = _visible_text(client.get(url).get_data(as_text=True))
        words = {w for w in re.findall(r"[A-Za-z]{3,}", text)} - ALLOWED_ASCII
        assert not words, f"{url}: English words on a Chinese page: {sorted(words)}"


def test_accept_language_then_session_then_user(client: Any, web_world: Any) -> None:
    page = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.8"}).get_data(as_text=True)
    assert "<h1>Log in</h1>" in page and 'lang="en"' in page
    page = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "<h1>登录</h1>" in page
    client.post("/language", data={"lang": "en", "next": "/login"})
    assert "<h1>Log in</h1>" in client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    login(client, "grid")  # chosen before logging in: saved on the user
    assert "<h1>Inbox</h1>" in client.get("/inbox").get_data(as_text=True)
    client.post("/logout")
    other = client.application.test_client()
    login(other, "grid")
    assert "<h1>Inbox</h1>" in other.get("/inbox", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)


def test_language_switch_refuses_other_sites_as_next(client: Any) -> None:
    response = client.post("/language", data={"lang": "en", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"


def test_times_are_shown_in_shanghai(app: Any, client: Any, session: Any, web_world: Any) -> None:
    case = new_case(session, web_world)
    case.created_at = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)  # 01:30 next day in Shanghai
    session.commit()
    login(client, "mediator")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "2026-03-02 01:30" in page
