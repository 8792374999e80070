"""A small keep-alive HTTP client for the benchmark (stdlib only)."""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any

from bench.steps import PROCESS_ID, data_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not start")


class Api:
    def __init__(self, port: int, username: str = "bench", password: str = "bench") -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        token = self.call("POST", "/api/v1/auth/token", {"username": username, "password": password})["token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Content-Type": "application/json", **getattr(self, "headers", {})}
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = self.conn.getresponse()
        data = json.loads(resp.read() or b"null")
        if resp.status >= 400:
            raise RuntimeError(f"{method} {path}: {resp.status} {data}")
        return data

    def new_case(self) -> tuple[int, str]:
        case = self.call("POST", "/api/v1/cases", {"title": "基准测试", "category": "neighbour",
                                                   "org_unit": "village", "process_id": PROCESS_ID})
        task = case["open_tasks"][0]
        return task["id"], task["spec_id"]

    def complete(self, task_id: int, spec_id: str, more_visits: bool = False) -> tuple[int, str] | None:
        """Complete a task with the bench data for its step; returns the next (task id, spec id)."""
        result = self.call("POST", f"/api/v1/tasks/{task_id}/complete",
                           {"data": data_for(spec_id, more_visits)})
        nxt = result["next_tasks"]
        return (nxt[0]["id"], nxt[0]["spec_id"]) if nxt else None
