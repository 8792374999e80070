"""Error pages in both languages, never a stack trace; JSON errors for /api/ paths; CSRF."""

from __future__ import annotations

from typing import Any

from tests.web.helpers import login


def test_404_page_in_both_languages(client: Any) -> None:
    zh = client.get("/no/such/page", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 404 and "页面不存在" in zh.get_data(as_text=True)
    en = client.get("/no/such/page", headers={"Accept-Language": "en"})
    assert "Page not found" in en.get_data(as_text=True)


def test_api_paths_get_json_errors(client: Any) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.is_json and response.get_json()["error"]["code"]


def test_500_page_hides_the_stack_trace(database_url: str, web_world: Any, app_factory: Any) -> None:
    app = app_factory({"DATABASE_URL": database_url, "TESTING": False, "SECRET_KEY": "x",
                       "WTF_CSRF_ENABLED": False})

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    app.logger.disabled = True
    response = app.test_client().get("/boom", headers={"Accept-Language": "en"})
    page = response.get_data(as_text=True)
    assert response.status_code == 500 and "Something went wrong" in page
    assert "secret internals" not in page and "Traceback" not in page


def test_forms_need_a_csrf_token(database_url: str, web_world: Any, app_factory: Any) -> None:
    app = app_factory({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "x"})
    client = app.test_client()
    response = client.post("/login", data={"username": "mediator", "password": "demo"},
                           headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 400 and "表单已失效" in response.get_data(as_text=True)
    page = client.get("/login").get_data(as_text=True)
    assert 'name="csrf_token"' in page


def test_anonymous_users_are_sent_to_login(client: Any) -> None:
    response = client.get("/inbox")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_login_next_stays_on_this_site(client: Any, web_world: Any) -> None:
    response = client.post("/login?next=//evil.example/x", data={"username": "mediator", "password": "demo"})
    assert response.headers["Location"] == "/inbox"
    client.post("/logout")
    response = login(client, "mediator", "wrong")
    assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)
