"""Server-rendered pages (blueprint ``pages``): login, inbox, cases, tasks, notifications.

``register(app)`` is called by ``create_app``. Every view goes through
``cases.permissions.can`` (directly or via the workflow services' access checks) and never commits:
the request commits once after a successful response (see ``web.db``).
"""

from __future__ import annotations

from flask import Flask

from web.i18n import init_i18n
from web.pages.common import bp


def register(app: Flask) -> None:
    # Importing the view modules attaches their routes to the blueprint.
    from web.pages import admin, assets, auth, cases, documents, inbox, notifications, tasks  # noqa: F401
    from web.pages.errors import register_error_handlers

    init_i18n(app)
    if "pages" not in app.blueprints:
        app.register_blueprint(bp)
    register_error_handlers(app)
    app.context_processor(_chrome)
    documents.register(app)


def _chrome() -> dict[str, object]:
    from web.pages.common import chrome

    return chrome()
