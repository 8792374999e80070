"""Authentication: session login (Flask-Login), bearer tokens for the API, login rate limit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, current_app, request
from flask_login import LoginManager, current_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select, text

from cases.audit import SYSTEM_CHAIN, Actor, AuditAction, AuditEvent, record
from cases.db import utcnow
from cases.models import User
from cases.principal import load_user
from cases.services import check_password
from web.db import commit_even_on_error, db

login_manager = LoginManager()
login_manager.login_view = "pages.login"
DEMO_PASSWORD = "demo"


class LoginRefused(Exception):
    """Wrong credentials, a disabled account, too many failures, or a demo password in production."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "invalid", "rate_limited", "demo_password"


def init_auth(app: Flask) -> None:
    login_manager.init_app(app)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    user = load_user(db(), int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.is_active else None


def _recent_failures(username: str) -> int:
    window = timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"])
    since = (utcnow() - window).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return db().scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.chain == SYSTEM_CHAIN, AuditEvent.action == AuditAction.LOGIN_FAILED,
        AuditEvent.actor_username == username[:60], AuditEvent.at >= since)) or 0


def _serialise_attempts(username: str) -> None:
    """Concurrent attempts for one username queue here, so none escapes the failure count.

    PostgreSQL: a transaction-scoped advisory lock on the name; SQLite transactions are already
    serialised (``BEGIN IMMEDIATE``).
    """
    session = db()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": f"login:{username}"})


def authenticate(username: str, password: str) -> User:
    """Check credentials; every failure is audited (and kept although the request fails)."""
    username = (username or "").strip()
    _serialise_attempts(username)
    if _recent_failures(username) >= current_app.config["LOGIN_MAX_FAILURES"]:
        _fail(username, "rate_limited")
    user = db().scalar(select(User).where(User.username == username))
    if not check_password(user, password or "") or user is None or not user.is_active:
        _fail(username, "invalid")
    if current_app.config["FENGQIAO_ENV"] == "production" and password == DEMO_PASSWORD:
        _fail(username, "demo_password")
    return user


def _fail(username: str, reason: str) -> None:
    record(db(), actor=Actor(None, username[:60] or "-", "anonymous"), action=AuditAction.LOGIN_FAILED,
           payload={"reason": reason, "ip": request.remote_addr})
    commit_even_on_error()
    raise LoginRefused(reason)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="fengqiao-api-token")


def issue_token(user: User) -> str:
    # The password hash's tail binds the token to the current password: changing it revokes tokens.
    return _serializer().dumps({"uid": user.id, "pw": user.password_hash[-16:]})


def user_from_token(token: str) -> User | None:
    try:
        data: Any = _serializer().loads(token, max_age=current_app.config["TOKEN_MAX_AGE_SECONDS"])
    except (SignatureExpired, BadSignature):
        return None
    uid = data.get("uid") if isinstance(data, dict) else None
    # One statement for the user and their memberships (each with its org unit): every API call
    # starts here.
    user = load_user(db(), uid) if isinstance(uid, int) else None
    if user is None or not user.is_active or user.password_hash[-16:] != data.get("pw"):
        return None
    return user


def bearer_user() -> User | None:
    """The user of a valid ``Authorization: Bearer`` token, else None."""
    header = request.headers.get("Authorization", "")
    return user_from_token(header[7:].strip()) if header.startswith("Bearer ") else None


def request_user() -> User | None:
    """The user of this request: a bearer token, else the session login."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return user_from_token(header[7:].strip())
    return current_user if current_user.is_authenticated else None
