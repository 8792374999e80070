"""The request's transaction: a value the database refuses when the queued writes are sent at commit
is answered like one refused in the view (400, nothing kept), not as a server error."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import bindparam, select, update

from cases.driver_sql import DriverStatement
from cases.models import OrgUnit
from cases.write_behind import execute_later
from web.db import db, session_factory

_OU = OrgUnit.__table__
_RENAME = DriverStatement(update(_OU).where(_OU.c.code == bindparam("unit")).values(name_en=bindparam("name")))


@pytest.fixture
def renaming_app(app: Any, world: Any) -> Any:
    """Two views that rename the village: the new name is queued (PostgreSQL) and sent at commit."""

    def rename() -> Any:
        from flask import request

        execute_later(db(), _RENAME, {"unit": "village", "name": request.args["name"]})
        return {"ok": True}

    app.add_url_rule("/api/v1/test-rename", "api_test_rename", rename, methods=["POST"])
    app.add_url_rule("/test-rename", "page_test_rename", rename, methods=["POST"])
    return app


def _village_name(app: Any) -> str:
    with session_factory(app)() as session:
        return session.execute(select(_OU.c.name_en).where(_OU.c.code == "village")).scalar_one()


def test_a_value_refused_at_commit_is_a_400_and_nothing_is_kept(renaming_app: Any, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite does not enforce the column's length")
    client = renaming_app.test_client()
    before = _village_name(renaming_app)
    api = client.post("/api/v1/test-rename?name=" + "x" * 500)
    assert api.status_code == 400
    assert api.get_json()["error"]["code"] == "bad_request"
    assert "outside what the database can store" in api.get_json()["error"]["message"]
    page = client.post("/test-rename?name=" + "x" * 500)
    assert page.status_code == 400
    assert _village_name(renaming_app) == before
    ok = client.post("/api/v1/test-rename?name=Renamed")
    assert ok.status_code == 200 and _village_name(renaming_app) == "Renamed"
