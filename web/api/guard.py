"""API authentication guard: a bearer token (or a session login) is required."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g

from web.api.errors import error_response
from web.auth import bearer_user


def api_login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Bearer tokens only: the API is exempt from CSRF, so a browser's session cookie must not work here.
        user = bearer_user()
        if user is None:
            return error_response(401, "unauthorized", "a valid bearer token is required")
        g.api_user = user
        return view(*args, **kwargs)

    return wrapper


def api_user() -> Any:
    return g.api_user
