"""Generate, store, list and export a case's documents. Services flush; the boundary commits once.

* ``generate`` checks ``Action.DOCUMENT_GENERATE``, builds the kind's context from the case
  (``web.casefile.context``), refuses with ``IncompleteDocumentError`` (the missing elements in the user's
  language) before rendering, renders through ``documents.render.render_document``, stores a new version and
  appends ``document.generated`` (kind, version, file name, SHA-256) to the case's audit chain in the same
  transaction.
* Reading (``latest``, ``get_version``, ``list_documents``) needs ``Action.CASE_VIEW``; the export needs
  ``Action.CASE_EXPORT``; the callers check (pages, API) or pass ``user`` for the service to check.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cases.audit import Actor, AuditAction, AuditEvent, chain_for, record
from cases.documents import CaseDocument
from cases.models import Case, User
from cases.permissions import Action, can
from documents.completeness import IncompleteDocumentError, check_complete
from documents.export import build_export_zip
from documents.kinds import LANGS, UnknownDocumentKind, get_kind
from documents.render import render_document
from web.casefile.context import context_from_facts, gather
from workflows.errors import Forbidden, NotFound, ValidationFailed

__all__ = ["IncompleteDocumentError", "audit_events", "export_zip", "generate", "get_version", "latest",
           "list_documents", "missing", "versioned_filename"]


def _kind(kind: str) -> None:
    try:
        get_kind(kind)
    except UnknownDocumentKind:
        raise NotFound(f"unknown document kind '{kind}'") from None


def _lang(lang: str | None, case: Case) -> str:
    lang = lang or case.language or "zh"
    if lang not in LANGS:
        raise ValidationFailed(f"language must be one of {', '.join(LANGS)}", {"lang": [f"unknown language '{lang}'"]})
    return lang


def _actor(user: User | None, case: Case, task: Any = None) -> Actor:
    if user is None:
        return Actor.system()
    roles = user.roles() | {g.role for g in case.grants if g.user_id == user.id}
    role = task.role if task is not None and task.role in roles else next(iter(sorted(roles)), "unknown")
    return Actor(user.id, user.username, role)


def versioned_filename(filename: str, version: int) -> str:
    """``2026-0001_agreement_zh.pdf`` → ``2026-0001_agreement_zh_v2.pdf`` (unique within the case)."""
    stem, dot, ext = filename.rpartition(".")
    return f"{stem}_v{version}.{ext}" if dot else f"{filename}_v{version}"


def _draft_of(task: Any, case: Case) -> dict[str, Any] | None:
    if task is None or task.case_id != case.id or task.state != "ready":
        return None
    return dict(task.draft or {})


def missing(session: Session, case: Case, kind: str, ui_lang: str, *, lang: str | None = None,
            task: Any = None, data: dict[str, Any] | None = None) -> list[str]:
    """What ``kind`` still lacks for ``case``, in ``ui_lang`` (empty: it can be generated)."""
    _kind(kind)
    facts = gather(session, case, _lang(lang, case), data=data, draft=_draft_of(task, case))
    return check_complete(kind, context_from_facts(facts, kind), ui_lang)


def generate(session: Session, case: Case, kind: str, user: User | None, lang: str | None = None, *,
             ui_lang: str | None = None, task: Any = None, data: dict[str, Any] | None = None,
             now: datetime | None = None) -> CaseDocument:
    """Render ``kind`` for ``case`` and store it as the next version.

    ``user`` None means the system (the CLI, whose operator already holds the database); a user must hold
    ``DOCUMENT_GENERATE`` on the case. ``lang`` (the document's language) defaults to the case's;
    ``ui_lang`` (of the missing list) to the user's. ``task``: the open step the document is generated at
    (its saved draft is used, its id recorded). ``data`` replaces the workflow data (cases without one).
    Raises ``Forbidden``, ``NotFound`` (unknown kind), ``ValidationFailed`` (bad language) or
    ``IncompleteDocumentError`` (nothing stored).
    """
    _kind(kind)
    if user is not None and not can(user, Action.DOCUMENT_GENERATE, case):
        raise Forbidden(f"you may not generate documents of case {case.number}")
    lang = _lang(lang, case)
    if task is not None and task.case_id != case.id:
        task = None  # a step of another case says nothing about this one
    ui_lang = ui_lang if ui_lang in LANGS else (user.language if user is not None and user.language in LANGS
                                                else lang)
    generated_at = (now or datetime.now(UTC)).astimezone(UTC)
    facts = gather(session, case, lang, data=data, draft=_draft_of(task, case))
    context = context_from_facts(facts, kind)
    found = check_complete(kind, context, ui_lang)
    if found:
        raise IncompleteDocumentError(found)
    rendered = render_document(kind, context, lang, generated_at=generated_at)
    # Serialise version numbers per case (PostgreSQL; SQLite's BEGIN IMMEDIATE already does).
    session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    version = (session.scalar(select(func.max(CaseDocument.version))
                              .where(CaseDocument.case_id == case.id, CaseDocument.kind == kind)) or 0) + 1
    doc = CaseDocument(case_id=case.id, kind=kind, lang=lang, version=version,
                       filename=versioned_filename(rendered.filename, version), sha256=rendered.sha256,
                       size=len(rendered.pdf), page_count=rendered.page_count, content=rendered.pdf,
                       generated_at=generated_at, generated_by_id=user.id if user is not None else None,
                       task_spec_id=task.spec_id if task is not None else None)
    session.add(doc)
    session.flush()
    record(session, actor=_actor(user, case, task), action=AuditAction.DOCUMENT_GENERATED, case_id=case.id,
           payload={"kind": kind, "version": version, "filename": doc.filename, "sha256": doc.sha256,
                    "lang": lang, "size": doc.size, "pages": doc.page_count, "task": doc.task_spec_id})
    return doc


def _check_view(user: User | None, case: Case, action: Action = Action.CASE_VIEW) -> None:
    if user is not None and not can(user, action, case):
        raise Forbidden(f"you may not access case {case.number}")


def list_documents(session: Session, case: Case, user: User | None = None) -> list[CaseDocument]:
    """Every stored version, by kind then newest first."""
    _check_view(user, case)
    return list(session.scalars(select(CaseDocument).where(CaseDocument.case_id == case.id)
                                .order_by(CaseDocument.kind, CaseDocument.version.desc())))


def latest(session: Session, case: Case, kind: str, user: User | None = None) -> CaseDocument | None:
    _check_view(user, case)
    return session.scalars(select(CaseDocument).where(CaseDocument.case_id == case.id, CaseDocument.kind == kind)
                           .order_by(CaseDocument.version.desc()).limit(1)).first()


def get_version(session: Session, case: Case, kind: str, version: int,
                user: User | None = None) -> CaseDocument | None:
    _check_view(user, case)
    return session.scalars(select(CaseDocument).where(CaseDocument.case_id == case.id, CaseDocument.kind == kind,
                                                      CaseDocument.version == version)).first()


def audit_events(session: Session, case: Case) -> list[dict[str, Any]]:
    """The case's audit chain as exported: ``AuditEvent.to_dict()`` ordered by ``seq``."""
    events = session.scalars(select(AuditEvent).where(AuditEvent.chain == chain_for(case.id))
                             .order_by(AuditEvent.seq))
    return [e.to_dict() for e in events]


def export_zip(session: Session, case: Case, user: User | None = None, *,
               created_at: datetime | None = None) -> bytes:
    """The case file: the latest version of every document, the audit chain and a SHA-256 manifest.

    The export itself is audited (who took which documents out, with the archive's SHA-256), after
    the chain it contains: the caller commits, so a copy that leaves the system is on the record."""
    _check_view(user, case, Action.CASE_EXPORT)
    docs = sorted(_latest_per_kind(list_documents(session, case)), key=lambda d: d.filename)
    events = audit_events(session, case)
    data = build_export_zip(case.number, [(d.filename, d.content) for d in docs], events, created_at=created_at)
    record(session, actor=_actor(user, case), action=AuditAction.CASE_EXPORTED, case_id=case.id,
           payload={"documents": {d.filename: d.sha256 for d in docs}, "events": len(events),
                    "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    return data


def _latest_per_kind(rows: list[CaseDocument]) -> list[CaseDocument]:
    found: dict[str, CaseDocument] = {}
    for row in rows:
        if row.kind not in found or row.version > found[row.kind].version:
            found[row.kind] = row
    return list(found.values())

