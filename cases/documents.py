"""Generated documents of a case, stored with versions (regenerating keeps every older version).

A row holds the PDF bytes themselves (``content``, deferred so listings never load them), their SHA-256
(also recorded in the case's audit chain when the row is written) and who generated it at which step.
Rendering lives in ``documents/``; the web composition root (``web.casefile``) wires the two together.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cases.db import Base, utcnow
from cases.models import Case, User


class CaseDocument(Base):
    """Version ``version`` (1, 2, ... per case and kind) of one generated document."""

    __tablename__ = "case_documents"
    __table_args__ = (UniqueConstraint("case_id", "kind", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    lang: Mapped[str] = mapped_column(String(5))
    version: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    page_count: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    generated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    task_spec_id: Mapped[str | None] = mapped_column(String(200))

    case: Mapped[Case] = relationship()
    generated_by: Mapped[User | None] = relationship(lazy="joined")

    @property
    def stored_filename(self) -> str:
        """The file name with the version, unique within the case (``2026-0001_agreement_zh_v2.pdf``)."""
        stem, dot, ext = self.filename.rpartition(".")
        return f"{stem}_v{self.version}.{ext}" if dot else f"{self.filename}_v{self.version}"
