"""Serve the few browser files the pages use straight from ``node_modules`` (npm ci --ignore-scripts).

Only files under an allow-listed ``dist/`` prefix are served; nothing third-party is copied into the
repository.
"""

from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, send_from_directory
from flask.typing import ResponseReturnValue

from web.pages.common import bp

ALLOWED_PREFIXES = ("bpmn-js/dist/",)
ALLOWED_SUFFIXES = (".js", ".css")


def allowed(path: str) -> bool:
    return (path.startswith(ALLOWED_PREFIXES) and path.endswith(ALLOWED_SUFFIXES)
            and ".." not in Path(path).parts)


@bp.get("/assets/npm/<path:path>")
def npm_asset(path: str) -> ResponseReturnValue:
    if not allowed(path):
        abort(404)
    root = Path(current_app.config["NODE_MODULES"])
    if not (root / path).is_file():
        abort(404)
    return send_from_directory(root, path, max_age=86400)


def viewer_installed() -> bool:
    root = Path(current_app.config["NODE_MODULES"])
    return (root / "bpmn-js/dist/bpmn-navigated-viewer.production.min.js").is_file()
