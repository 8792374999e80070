"""Browser fixtures: the app served on a free localhost port from a thread (temp SQLite, CSRF on),
headless Debian Chromium driven by Playwright (never ``playwright install``), screenshots written
to ``test-artifacts/screens`` and axe-core (from node_modules) for accessibility checks."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.browser.helpers import CHROMIUM_ARGS, DESKTOP, ROOT

pytestmark = pytest.mark.browser


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    exe = _chromium()
    if exe is None:
        pytest.skip("Debian chromium is not installed (make system-deps-browser)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class LiveServer:
    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def live_app(database_url: str, web_world: Any, tmp_path: Path) -> Any:
    from web import create_app

    return create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "browser-test",
                       "DOCUMENTS_DIR": str(tmp_path / "documents"), "NODE_MODULES": str(ROOT / "node_modules"),
                       "LOGIN_MAX_FAILURES": 50})


@pytest.fixture
def live_server(live_app: Any) -> Iterator[LiveServer]:
    server = LiveServer(live_app)
    yield server
    server.stop()
    engine = live_app.extensions.get("fengqiao.engine")
    if engine is not None:
        engine.dispose()


@pytest.fixture
def new_page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """``new_page(lang="zh", viewport=PHONE)``: a fresh browser context (own cookies) and page."""
    contexts = []

    def make(lang: str = "zh", viewport: dict[str, int] | None = None, js: bool = True) -> Any:
        ctx = browser.new_context(viewport=viewport or DESKTOP, locale="zh-CN" if lang == "zh" else "en-US",
                                  timezone_id="Asia/Shanghai", java_script_enabled=js,
                                  extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9" if lang == "zh" else "en-US,en;q=0.9"})
        ctx.set_default_timeout(15000)
        contexts.append(ctx)
        page = ctx.new_page()
        page.base = live_server.url  # type: ignore[attr-defined]
        return page

    yield make
    for ctx in contexts:
        ctx.close()
