"""The request's transaction: a value the database refuses when the queued writes are sent at commit
is answered like one refused in the view (400, nothing kept), not as a server error."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select, update

from cases.driver_sql import DriverStatement
from cases.models import OrgUnit
from cases.write_behind import execute_later
from tests.web.helpers import login
from web.db import db, session_factory

_OU = OrgUnit.__table__
_RENAME = DriverStatement(update(_OU).where(_OU.c.code == bindparam("unit")).values(name_en=bindparam("name")))
_ADD = DriverStatement(insert(_OU).inline())


@pytest.fixture
def renaming_app(app: Any, world: Any) -> Any:
    """Two views that rename the village: the new name is queued (PostgreSQL) and sent at commit."""

    def rename() -> Any:
        from flask import flash, request

        execute_later(db(), _RENAME, {"unit": "village", "name": request.args["name"]})
        flash("renamed", "success")  # what a page view announces before the request commits
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
    page = client.post("/test-rename?name=" + "x" * 500, headers={"Accept-Language": "en"})
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "A value is too long to be stored" in html and "Nothing was saved" in html
    assert _village_name(renaming_app) == before
    with client.session_transaction() as browser:
        assert not browser.get("_flashes")  # the view's "renamed" did not happen: not shown later
    ok = client.post("/api/v1/test-rename?name=Renamed")
    assert ok.status_code == 200 and _village_name(renaming_app) == "Renamed"


@pytest.mark.parametrize("failure", ["flush", "queued"])
def test_an_error_page_after_a_failed_statement_is_the_whole_page(app: Any, world: Any, failure: str) -> None:
    """The error page reads the user and the header's counts: neither a session that a failed flush
    left unusable nor a failing write the failed request had queued reduces it to a bare "Error 500"."""
    from cases.models import OrgUnit as Unit

    duplicate = {"code": "village", "name_zh": "重复", "name_en": "dup", "kind": "village", "path": "/"}

    def fail() -> Any:
        if failure == "flush":
            db().add(Unit(**duplicate))
            db().flush()  # unique code: IntegrityError, the session needs a rollback
        else:
            execute_later(db(), _ADD, duplicate)  # queued on PostgreSQL; fails when sent
            raise RuntimeError("the view fails after its write")
        return {"ok": True}

    # a page of the pages blueprint, for a signed-in user: the header counts the inbox
    app.add_url_rule("/test-fail", "pages.test_fail", fail, methods=["POST"])
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    assert login(client, "mediator").status_code == 302
    page = client.post("/test-fail")
    assert page.status_code == 500
    html = page.get_data(as_text=True)
    assert html.lstrip().lower().startswith("<!doctype html") and "error-page" in html
