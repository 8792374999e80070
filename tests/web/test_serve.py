"""``fengqiao serve``: the real server (Granian, several workers) answers pages, forms and the API."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from web.cli import cli

ROOT = Path(__file__).resolve().parents[2]
FENGQIAO = Path(sys.executable).with_name("fengqiao")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.fixture
def served(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    env = {**os.environ, "FENGQIAO_DATABASE_URL": database_url, "FENGQIAO_SECRET_KEY": "serve-test",
           "FENGQIAO_DOCUMENTS_DIR": str(tmp_path / "documents")}
    monkeypatch.setenv("FENGQIAO_DATABASE_URL", database_url)
    assert CliRunner().invoke(cli, ["init", "--demo"], catch_exceptions=False).exit_code == 0
    port = _free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(FENGQIAO), "serve", "--port", str(port), "--workers", "2", "--threads", "2"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:
                    assert json.loads(resp.read()) == {"status": "ok"}
                    break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"server did not start:\n{log.read_text()}") from None
                time.sleep(0.2)
        yield base, log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("server did not stop on SIGTERM") from None


def _read(opener: Any, url: str, data: bytes | None = None) -> bytes:
    with opener.open(url, data=data, timeout=30) as resp:
        return bytes(resp.read())


def test_pages_login_form_and_static_files(served: tuple[str, Path]) -> None:
    base, log = served
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    page = _read(browser, f"{base}/login").decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, page[:500]
    form = urllib.parse.urlencode({"csrf_token": token.group(1), "username": "mediator", "password": "demo"})
    with pytest.raises(urllib.error.HTTPError) as redirected:  # 302 to the inbox, not followed
        _read(browser, f"{base}/login", form.encode())
    redirected.value.close()
    assert redirected.value.code == 302
    inbox = _read(browser, f"{base}/inbox").decode()
    assert "mediator" in inbox or "调解" in inbox
    css = _read(browser, f"{base}/static/app.css")
    assert css == (ROOT / "web" / "static" / "app.css").read_bytes()
    assert '"GET /inbox HTTP/1.1" 200' in log.read_text()  # the access log is on by default


def _api(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(f"{base}{path}", method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


def test_api_opens_a_case_and_completes_its_first_task(served: tuple[str, Path]) -> None:
    base, _log = served
    status, body = _api(base, "POST", "/api/v1/auth/token", {"username": "grid", "password": "demo"})
    assert status == 200
    token = body["token"]
    status, case = _api(base, "POST", "/api/v1/cases", {"title": "排水沟纠纷", "category": "neighbour"}, token)
    assert status == 201, case
    task = case["open_tasks"][0]
    status, error = _api(base, "POST", f"/api/v1/tasks/{task['id']}/complete", {"data": {}}, token)
    assert status == 422 and error["error"]["fields"], _log.read_text()[-3000:]  # bad input: named fields, no 500
    status, events = _api(base, "GET", f"/api/v1/cases/{case['id']}/events", token=token)
    assert status == 200 and events[0]["action"] == "case.opened"


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "--port" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)  # a clean exit
