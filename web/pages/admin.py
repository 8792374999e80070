"""Process administration (admins only): deployed processes, their versions, and the diagram editor.

* ``GET /admin/processes`` — every deployed process with its latest version and the running cases
  on each version; ``GET /admin/processes/<id>`` — all versions of one process.
* ``GET /admin/diagrams/edit?file=<name>`` — a bpmn-js Modeler (served from ``node_modules``) on one
  ``.bpmn`` file of the latest deployed bundle holding it; ``GET /admin/diagrams/file/<name>`` is its
  XML (header ``X-Fengqiao-Bundle``: the bundle's sha256, sent back on deploy).
* ``POST /admin/diagrams/validate`` and ``POST /admin/diagrams/deploy`` (JSON ``{file, xml, base?}``)
  replace that one file in the bundle (its other diagrams, settings and forms stay as deployed) and
  validate it (never running diagram code) or deploy it as new versions: running cases keep theirs.

The bundle of a file is the one of the most recently deployed process version whose files include
it. A deploy whose ``base`` differs from that bundle's sha256 is refused (409): someone deployed in
between, and replacing the file would silently undo their change.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Response, abort, current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from cases.permissions import Action, can
from web.db import db
from web.pages.assets import allowed
from web.pages.common import STAGE_LABELS, bp, me, pick
from web.pages.editor_labels import editor_labels
from workflows.deploy import DIAGRAM_SUFFIXES, DeployError, deploy
from workflows.models import ProcessVersion, WorkflowInstance
from workflows.parsing import MAX_FILE_BYTES
from workflows.validation import Verdict, validate_bundle

EDITABLE_SUFFIX = ".bpmn"
MODELER_JS = "bpmn-js/dist/bpmn-modeler.production.min.js"
MODELER_CSS = ("bpmn-js/dist/assets/diagram-js.css", "bpmn-js/dist/assets/bpmn-js.css",
               "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")


@bp.app_context_processor
def _admin_chrome() -> dict[str, Any]:
    def may_admin_processes() -> bool:
        return bool(current_user and current_user.is_authenticated and can(me(), Action.PROCESS_DEPLOY))

    return {"may_admin_processes": may_admin_processes}


def _require_admin() -> None:
    if not can(me(), Action.PROCESS_DEPLOY):
        abort(403)


def _json_error(code: int, message: str, **extra: Any) -> ResponseReturnValue:
    return jsonify(ok=False, error=message, **extra), code


# --- queries -------------------------------------------------------------------------------------

def _version_rows() -> list[Any]:
    """Every deployed version (without its large columns), newest first per process."""
    return list(db().execute(
        select(ProcessVersion.id, ProcessVersion.process_id, ProcessVersion.version, ProcessVersion.sha256,
               ProcessVersion.deployed_at, ProcessVersion.deployed_by)
        .order_by(ProcessVersion.process_id, ProcessVersion.version.desc())))


def _running_counts() -> dict[int, int]:
    """Running cases per process version id."""
    rows = db().execute(select(WorkflowInstance.process_version_id, func.count())
                        .where(WorkflowInstance.status == "running").group_by(WorkflowInstance.process_version_id))
    return {version_id: count for version_id, count in rows}


def _latest_versions() -> list[ProcessVersion]:
    """The latest version of every process, most recently deployed first."""
    newest = (select(func.max(ProcessVersion.id)).group_by(ProcessVersion.process_id)).scalar_subquery()
    return list(db().scalars(select(ProcessVersion).where(ProcessVersion.id.in_(newest))
                             .order_by(ProcessVersion.id.desc())))


def _file_of(version: ProcessVersion) -> str | None:
    """The deployed file that declares ``version``'s process."""
    pattern = re.compile(r'<(?:\w+:)?process\b[^>]*\bid="' + re.escape(version.process_id) + '"')
    for name, text in sorted((version.files or {}).items()):
        if name.endswith(EDITABLE_SUFFIX) and isinstance(text, str) and pattern.search(text):
            return name
    return None


def _bundle_for(name: str) -> ProcessVersion | None:
    """The most recently deployed version whose bundle holds the file ``name`` (a ``.bpmn`` file)."""
    if not name.endswith(EDITABLE_SUFFIX) or not _SAFE_NAME.match(name):
        return None
    for version in _latest_versions():
        if name in (version.files or {}):
            return version
    return None


def _bundle_processes(version: ProcessVersion) -> list[ProcessVersion]:
    """The latest versions that were deployed from the same bundle as ``version``."""
    return sorted((v for v in _latest_versions() if v.sha256 == version.sha256), key=lambda v: v.process_id)


# --- pages ---------------------------------------------------------------------------------------

@bp.get("/admin/processes")
@login_required
def admin_processes() -> ResponseReturnValue:
    _require_admin()
    rows = _version_rows()
    running = _running_counts()
    latest = {v.process_id: v for v in _latest_versions()}
    processes = []
    for process_id in sorted(latest):
        versions = [r for r in rows if r.process_id == process_id]
        counts = [(r.version, running.get(r.id, 0)) for r in versions if running.get(r.id, 0)]
        top = latest[process_id]
        processes.append({"id": process_id, "label": pick(STAGE_LABELS, process_id), "latest": top,
                          "file": _file_of(top), "running": counts})
    return render_template("admin/processes.html", processes=processes)


@bp.get("/admin/processes/<process_id>")
@login_required
def admin_process(process_id: str) -> ResponseReturnValue:
    _require_admin()
    running = _running_counts()
    versions = [r for r in _version_rows() if r.process_id == process_id]
    if not versions:
        abort(404)
    latest = db().get(ProcessVersion, versions[0].id)
    assert latest is not None
    files = sorted((latest.files or {}).keys())
    return render_template("admin/process.html", process_id=process_id, label=pick(STAGE_LABELS, process_id),
                           versions=[{"row": r, "running": running.get(r.id, 0)} for r in versions],
                           files=files, own_file=_file_of(latest), editable_suffix=EDITABLE_SUFFIX)


@bp.get("/admin/diagrams/edit")
@login_required
def admin_diagram_edit() -> ResponseReturnValue:
    _require_admin()
    name = request.args.get("file", "")
    version = _bundle_for(name)
    if version is None:
        abort(404)
    installed = allowed(MODELER_JS) and (Path(current_app.config["NODE_MODULES"]) / MODELER_JS).is_file()
    texts = {
        "loading": _("Loading the diagram…"), "loadFailed": _("The diagram could not be loaded."),
        "validating": _("Validating…"), "deploying": _("Deploying…"),
        "valid": _("All files of the bundle are valid: the bundle can be deployed."),
        "invalid": _("The bundle cannot be deployed as it is. Correct the problems below."),
        "deployed": _("Deployed as new versions:"), "unchanged": _("Nothing changed: no new version was created."),
        "refused": _("The deployment was refused:"),
        "conflict": _("Someone deployed these diagrams after you opened the editor. Reload the page (your "
                      "changes will be lost) and edit again."),
        "failed": _("The request failed. Reload the page and try again."),
        "confirm": _("Deploy the whole bundle with this diagram as new process versions? Running cases keep "
                     "their version."),
        "show": _("Show in the diagram"), "unsaved": _("Changes not deployed yet"),
        "noChanges": _("No changes to deploy"),
        "ok": _("ok"), "notExecutable": _("not executable"), "error": _("error"),
        "bpmn": editor_labels(),  # bpmn-js's own palette and menus, translated
    }
    return render_template(
        "admin/editor.html", file=name, bundle=version, processes=_bundle_processes(version),
        installed=installed, modeler_js=MODELER_JS, modeler_css=MODELER_CSS, texts=texts)


@bp.get("/admin/diagrams/file/<name>")
@login_required
def admin_diagram_file(name: str) -> ResponseReturnValue:
    _require_admin()
    version = _bundle_for(name)
    if version is None:
        abort(404)
    return Response(version.files[name], mimetype="application/xml",
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                             "X-Fengqiao-Bundle": version.sha256})


# --- validate / deploy ---------------------------------------------------------------------------

class _Refused(Exception):
    """A fetch request the editor must show as an error (JSON body, status ``code``)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _edit_request() -> tuple[str, bytes, ProcessVersion, str | None]:
    """(file name, new XML, bundle version, base sha256 or None) of a validate/deploy request."""
    if not can(me(), Action.PROCESS_DEPLOY):
        raise _Refused(403, _("Only administrators may edit the procedures."))
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("file"), str) or not isinstance(body.get("xml"), str):
        raise _Refused(400, _("Send JSON with the file name and its XML."))
    data = body["xml"].encode("utf-8")
    if len(data) > MAX_FILE_BYTES:
        raise _Refused(413, _("The diagram is too large."))
    version = _bundle_for(body["file"])
    if version is None:
        raise _Refused(404, _("No deployed bundle holds this file."))
    base = body.get("base")
    return body["file"], data, version, base if isinstance(base, str) and base else None


def _replaced(version: ProcessVersion, name: str, data: bytes) -> dict[str, bytes]:
    files = {n: (t.encode("utf-8") if isinstance(t, str) else bytes(t)) for n, t in (version.files or {}).items()}
    files[name] = data
    return files


def _verdict(v: Verdict, edited: str) -> dict[str, Any]:
    found = v.to_json()
    found["edited"] = v.path == edited
    # Element ids to highlight: only those of the edited file (the others are not on the canvas).
    found["element_ids"] = list(dict.fromkeys(
        p.element_id for p in v.problems + v.reasons if p.element_id and (p.file in ("", edited))))
    return found


@bp.post("/admin/diagrams/validate")
@login_required
def admin_diagram_validate() -> ResponseReturnValue:
    try:
        name, data, version, base = _edit_request()
    except _Refused as exc:
        return _json_error(exc.code, exc.message)
    files = _replaced(version, name, data)
    diagrams = {n: d for n, d in files.items() if n.endswith(DIAGRAM_SUFFIXES)}
    verdicts = validate_bundle(diagrams, form_keys=set(version.forms or {}))
    return jsonify(ok=all(v.status == "ok" for v in verdicts), file=name,
                   status=next((v.status for v in verdicts if v.path == name), "error"),
                   stale=base is not None and base != version.sha256,
                   verdicts=[_verdict(v, name) for v in verdicts],
                   lines=[f"{v.path}: {v.line()}" for v in verdicts])


@bp.post("/admin/diagrams/deploy")
@login_required
def admin_diagram_deploy() -> ResponseReturnValue:
    try:
        name, data, version, base = _edit_request()
    except _Refused as exc:
        return _json_error(exc.code, exc.message)
    if base is not None and base != version.sha256:
        return _json_error(409, _("Someone deployed these diagrams after you opened the editor."),
                           base=version.sha256)
    session = db()
    try:
        created = deploy(session, _replaced(version, name, data), dict(version.forms or {}),
                         deployed_by=me().username)
    except DeployError as exc:
        return jsonify(ok=False, lines=exc.lines), 422
    except IntegrityError:  # a concurrent deploy took the same version numbers
        session.rollback()
        return _json_error(409, _("Someone deployed these diagrams at the same moment. Reload and try again."))
    current_app.logger.info("%s deployed %s from the diagram editor: %s", me().username, name,
                            ", ".join(f"{v.process_id} v{v.version}" for v in created) or "nothing new")
    return jsonify(ok=True, file=name, base=created[0].sha256 if created else version.sha256,
                   created=[{"id": v.id, "process_id": v.process_id, "version": v.version,
                             "deployed_at": _iso(v.deployed_at), "deployed_by": v.deployed_by}
                            for v in created],
                   url=url_for("pages.admin_processes"))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
