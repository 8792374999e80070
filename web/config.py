"""Configuration: defaults, then ``FENGQIAO_*`` environment variables, then the caller's mapping."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw is None else raw.strip().lower() in ("1", "true", "yes", "on")


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    instance = ROOT / "instance"
    cfg: dict[str, Any] = {
        "FENGQIAO_ENV": os.environ.get("FENGQIAO_ENV", "development"),
        "DATABASE_URL": os.environ.get("FENGQIAO_DATABASE_URL", f"sqlite:///{instance / 'fengqiao.db'}"),
        "BPMN_DIR": os.environ.get("FENGQIAO_BPMN_DIR", str(ROOT / "bpmn")),
        "FORMS_DIR": os.environ.get("FENGQIAO_FORMS_DIR", str(ROOT / "forms" / "definitions")),
        "NODE_MODULES": os.environ.get("FENGQIAO_NODE_MODULES", str(ROOT / "node_modules")),
        "DOCUMENTS_DIR": os.environ.get("FENGQIAO_DOCUMENTS_DIR", str(instance / "documents")),
        "SECRET_KEY": os.environ.get("FENGQIAO_SECRET_KEY") or _instance_secret(instance),
        "DEFAULT_PROCESS_ID": os.environ.get("FENGQIAO_DEFAULT_PROCESS_ID", "dispute"),
        "RUN_TIMER_SWEEP": _env_bool("FENGQIAO_RUN_TIMER_SWEEP", False),
        "TIMER_SWEEP_SECONDS": float(os.environ.get("FENGQIAO_TIMER_SWEEP_SECONDS", "5")),
        "LOGIN_MAX_FAILURES": int(os.environ.get("FENGQIAO_LOGIN_MAX_FAILURES", "5")),
        "LOGIN_WINDOW_SECONDS": int(os.environ.get("FENGQIAO_LOGIN_WINDOW_SECONDS", "900")),
        "TOKEN_MAX_AGE_SECONDS": int(os.environ.get("FENGQIAO_TOKEN_MAX_AGE_SECONDS", str(12 * 3600))),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "API_TITLE": "Fengqiao API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "JSON_AS_ASCII": False,
    }
    cfg.update(overrides or {})
    cfg["SESSION_COOKIE_SECURE"] = cfg["FENGQIAO_ENV"] == "production"
    return cfg


def _instance_secret(instance: Path) -> str:
    """A per-installation secret kept in ``instance/secret_key`` (created on first use)."""
    path = instance / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        instance.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        path.write_text(key)
        path.chmod(0o600)
        return key
