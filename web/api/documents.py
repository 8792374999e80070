"""API: a case's documents (list, generate, latest PDF).

Reading needs ``CASE_VIEW``, generating ``DOCUMENT_GENERATE``. A document whose required elements are missing
is refused with 422 ``document_incomplete`` and ``fields.missing`` listing them in the caller's language
(``lang`` chooses the document's language, ``ui_lang`` the list's; default: the user's).
"""

from __future__ import annotations

import io
from typing import Any

from flask import send_file, url_for
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from cases.models import Case
from cases.permissions import Action
from documents.completeness import IncompleteDocumentError
from documents.kinds import KINDS, LANGS
from web.api.cases import _case_or_error
from web.api.errors import error_response
from web.api.guard import api_login_required, api_user
from web.casefile import service
from web.db import db

blp = Blueprint("api_documents", __name__, description="Case documents (PDF/A-3b)")


class DocumentSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.Method("_title")
    lang = fields.String()
    version = fields.Integer()
    filename = fields.String()
    sha256 = fields.String()
    size = fields.Integer(metadata={"description": "bytes"})
    page_count = fields.Integer()
    generated_at = fields.DateTime()
    generated_by = fields.String(attribute="generated_by.username", allow_none=True)
    task_spec_id = fields.String(allow_none=True)
    url = fields.Method("_url", metadata={"description": "this version's PDF (page route, session login)"})

    def _title(self, doc: Any) -> str:
        return str(KINDS[doc.kind].title(doc.lang)) if doc.kind in KINDS else str(doc.kind)

    def _url(self, doc: Any) -> str:
        return url_for("documents.version", case_id=doc.case_id, kind=doc.kind, version=doc.version)


class GenerateArgs(Schema):
    class Meta:
        unknown = RAISE

    lang = fields.String(validate=validate.OneOf(LANGS), metadata={"description": "default: the case's language"})
    ui_lang = fields.String(validate=validate.OneOf(LANGS),
                            metadata={"description": "language of a missing-elements list; default: the user's"})


def _kind_error(kind: str) -> Any:
    return error_response(404, "not_found", f"unknown document kind '{kind}'; expected one of {', '.join(KINDS)}")


@blp.route("/cases/<int:case_id>/documents", methods=["GET"])
@blp.response(200, DocumentSchema(many=True))
@api_login_required
def list_documents(case_id: int) -> Any:
    """Every stored version of every document of the case (by kind, newest first)."""
    case = _case_or_error(case_id, Action.CASE_VIEW)
    if not isinstance(case, Case):
        return case
    return service.list_documents(db(), case, api_user())


@blp.route("/cases/<int:case_id>/documents/<kind>", methods=["POST"])
@blp.arguments(GenerateArgs, required=False)
@blp.response(201, DocumentSchema)
@blp.alt_response(422, description="required elements are missing (``fields.missing``)")
@api_login_required
def generate(args: dict[str, Any], case_id: int, kind: str) -> Any:
    """Generate the document from the case's data and store it as a new version."""
    case = _case_or_error(case_id, Action.CASE_VIEW)
    if not isinstance(case, Case):
        return case
    if kind not in KINDS:
        return _kind_error(kind)
    user = api_user()
    try:
        return service.generate(db(), case, kind, user, (args or {}).get("lang"),
                                ui_lang=(args or {}).get("ui_lang") or user.language)
    except IncompleteDocumentError as exc:
        return error_response(422, "document_incomplete", "; ".join(exc.missing), {"missing": exc.missing})


@blp.route("/cases/<int:case_id>/documents/<kind>", methods=["GET"])
@blp.doc(responses={"200": {"description": "the latest version as PDF",
                            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
@api_login_required
def latest(case_id: int, kind: str) -> Any:
    """The latest version of the document (``application/pdf``)."""
    case = _case_or_error(case_id, Action.CASE_VIEW)
    if not isinstance(case, Case):
        return case
    if kind not in KINDS:
        return _kind_error(kind)
    doc = service.latest(db(), case, kind, api_user())
    if doc is None:
        return error_response(404, "not_found", f"no {kind} has been generated for case {case.number}")
    response = send_file(io.BytesIO(doc.content), mimetype="application/pdf", as_attachment=True,
                         download_name=doc.filename, etag=doc.sha256)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Document-Version"] = str(doc.version)
    response.headers["X-Document-SHA256"] = doc.sha256
    return response
