"""The Flask application: ``create_app(config)`` wires the database, auth, pages and the API."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, jsonify
from flask_wtf import CSRFProtect

from web.config import load_config

csrf = CSRFProtect()
log = logging.getLogger(__name__)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides the defaults and ``FENGQIAO_*`` environment variables."""
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(load_config(config))
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    from web.auth import init_auth
    from web.db import init_db
    from web.hardening import init_hardening

    init_hardening(app)
    init_db(app)
    init_auth(app)
    csrf.init_app(app)
    _register_api(app)
    _register_pages(app)

    @app.get("/healthz")
    def healthz() -> Any:
        from sqlalchemy import text

        from web.db import db

        db().execute(text("SELECT 1"))
        return jsonify(status="ok")

    if app.config.get("RUN_TIMER_SWEEP"):
        start_timer_thread(app)
    return app


def _register_api(app: Flask) -> None:
    from web.api import init_api

    init_api(app)


def _register_pages(app: Flask) -> None:
    from web.pages import register

    register(app)


def start_timer_thread(app: Flask) -> threading.Thread:
    """Run the timer sweep in-process every few seconds (``make run``); ``fengqiao worker`` is the
    stand-alone equivalent."""
    from web.db import session_factory
    from workflows.timers import sweep

    interval = float(app.config["TIMER_SWEEP_SECONDS"])
    stop = threading.Event()
    app.extensions["fengqiao.timer_stop"] = stop

    def loop() -> None:
        factory = session_factory(app)
        while not stop.wait(interval):
            try:
                sweep(factory)
            except Exception:
                log.exception("timer sweep failed; will retry")

    thread = threading.Thread(target=loop, name="fengqiao-timers", daemon=True)
    thread.start()
    return thread
