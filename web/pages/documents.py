"""Document pages (blueprint ``documents``): generate, preview and download a case's documents, export
the case file. The documents panel on the task and case pages (``documents/_panel.html``) gets its data
from the template global ``document_panel(case, task)``.

Reading a document needs ``CASE_VIEW``, generating ``DOCUMENT_GENERATE``, exporting ``CASE_EXPORT``. An
incomplete document answers with a page listing what is missing (422), in the user's language.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from cases.documents import CaseDocument
from cases.models import Case
from cases.permissions import Action, can
from cases.write_behind import send_pending
from documents.completeness import IncompleteDocumentError, check_complete
from documents.kinds import KINDS, LANGS
from web.casefile import service
from web.casefile.context import context_from_facts, gather
from web.db import db
from web.i18n import current_lang
from web.pages.common import document_label, load_case, me, safe_next
from workflows.errors import Forbidden, NotFound, ValidationFailed
from workflows.models import HumanTask
from workflows.projection import ready_tasks

bp = Blueprint("documents", __name__)


def register(app: Flask) -> None:
    """Register the blueprint and the panel's template global (called from ``web.pages.register``)."""
    if "documents" not in app.blueprints:
        app.register_blueprint(bp)
    app.jinja_env.globals["document_panel"] = document_panel


# ---------------------------------------------------------------------------------------------------
# The panel

@dataclass
class PanelEntry:
    kind: str
    title: str
    due: bool
    versions: list[CaseDocument] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def latest(self) -> CaseDocument | None:
        return self.versions[0] if self.versions else None


@dataclass
class Panel:
    case: Case
    task: HumanTask | None
    entries: list[PanelEntry]
    may_generate: bool
    may_export: bool
    langs: tuple[str, ...] = LANGS


def document_panel(case: Case, task: HumanTask | None = None) -> Panel:
    """The documents due at ``task`` (or at the case's open steps, plus every kind already generated)."""
    user = me()
    if task is not None:
        due = [k for k in (task.documents or []) if k in KINDS]
        kinds = list(due)
    else:
        due = sorted({k for t in ready_tasks(db(), case.id) for k in (t.documents or []) if k in KINDS})
        kinds = list(due)
    stored = service.list_documents(db(), case)
    if task is None:
        kinds += sorted({d.kind for d in stored} - set(kinds))
    may_generate = can(user, Action.DOCUMENT_GENERATE, case)
    entries = [PanelEntry(k, document_label(k), k in due, [d for d in stored if d.kind == k]) for k in kinds]
    if may_generate and entries:
        send_pending(db())  # a failed write of this request fails it, not taken for a broken workflow
        try:
            facts = gather(db(), case, case.language, draft=dict(task.draft or {}) if task is not None else None)
        except Exception:  # noqa: BLE001 -- a broken workflow must not hide the stored documents
            db().rollback()
        else:
            for entry in entries:
                entry.missing = check_complete(entry.kind, context_from_facts(facts, entry.kind), current_lang())
    return Panel(case, task, entries, may_generate, can(user, Action.CASE_EXPORT, case))


# ---------------------------------------------------------------------------------------------------
# Views

def _pdf(doc: CaseDocument, download: bool) -> ResponseReturnValue:
    response = send_file(io.BytesIO(doc.content), mimetype="application/pdf", as_attachment=download,
                         download_name=doc.filename, etag=doc.sha256, last_modified=doc.generated_at)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _kind_or_404(kind: str) -> str:
    if kind not in KINDS:
        abort(404)
    return kind


@bp.post("/cases/<int:case_id>/documents/<kind>")
@login_required
def generate(case_id: int, kind: str) -> ResponseReturnValue:
    case = load_case(case_id, Action.DOCUMENT_GENERATE)
    _kind_or_404(kind)
    task = None
    if request.form.get("task_id", "").isdigit():
        task = db().get(HumanTask, int(request.form["task_id"]))
        if task is None or task.case_id != case.id:
            task = None
    back = safe_next(request.form.get("next"), url_for("pages.case_page", case_id=case.id))
    lang = request.form.get("lang") or None
    try:
        doc = service.generate(db(), case, kind, me(), lang, ui_lang=current_lang(), task=task)
    except IncompleteDocumentError as exc:
        return render_template("documents/incomplete.html", case=case, title=document_label(kind),
                               missing=exc.missing, back=back), 422
    except ValidationFailed:
        abort(400)
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    flash(_("%(title)s generated (version %(version)s).", title=document_label(kind), version=doc.version),
          "success")
    return redirect(back)


@bp.get("/cases/<int:case_id>/documents/<kind>/latest")
@login_required
def latest(case_id: int, kind: str) -> ResponseReturnValue:
    case = load_case(case_id, Action.CASE_VIEW)
    doc = service.latest(db(), case, _kind_or_404(kind))
    if doc is None:
        abort(404)
    return _pdf(doc, request.args.get("download") == "1")


@bp.get("/cases/<int:case_id>/documents/<kind>/<int:version>")
@login_required
def version(case_id: int, kind: str, version: int) -> ResponseReturnValue:
    case = load_case(case_id, Action.CASE_VIEW)
    doc = service.get_version(db(), case, _kind_or_404(kind), version)
    if doc is None:
        abort(404)
    return _pdf(doc, request.args.get("download") == "1")


@bp.get("/cases/<int:case_id>/export")
@login_required
def export(case_id: int) -> ResponseReturnValue:
    case = load_case(case_id, Action.CASE_EXPORT)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    name = f"{case.number}_case-file_{stamp}.zip"
    if request.method == "HEAD":  # a probe takes nothing out: no archive, no audit event
        return Response(mimetype="application/zip", headers={"Content-Disposition": f"attachment; filename={name}",
                                                             "Cache-Control": "private, no-store"})
    data = service.export_zip(db(), case, me())  # audited: committed with the response
    # Whole archives only (no ranges): each export event stands for one complete copy taken out.
    response = send_file(io.BytesIO(data), mimetype="application/zip", as_attachment=True, download_name=name,
                         conditional=False)
    response.headers["Cache-Control"] = "private, no-store"
    return response

