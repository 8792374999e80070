"""Tables owned by the engine integration: deployed versions, per-case state, human tasks, timers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cases.db import Base, utcnow
from cases.models import Case, OrgUnit, User


class ProcessVersion(Base):
    """One deployed version of a process: its files, forms and serialized spec, stored once."""

    __tablename__ = "process_versions"
    __table_args__ = (UniqueConstraint("process_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # The large columns are deferred: a step loads them only when its caches miss.
    files: Mapped[dict[str, Any]] = mapped_column(deferred=True)  # file name -> text
    forms: Mapped[dict[str, Any]] = mapped_column(deferred=True)  # form key -> definition dict
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)  # serialized spec + subprocess specs
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deployed_by: Mapped[str] = mapped_column(String(60), default="system")


class WorkflowInstance(Base):
    """The serialized engine state of one case; ``lock_version`` detects lost updates."""

    __tablename__ = "workflow_instances"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="running")  # running/completed/error
    error_message: Mapped[str | None] = mapped_column(Text)
    error_element: Mapped[str | None] = mapped_column(String(200))
    next_timer_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    completed_steps: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    case: Mapped[Case] = relationship()
    process_version: Mapped[ProcessVersion] = relationship(lazy="joined")


class HumanTask(Base):
    """Projection of a READY user/manual task, for inboxes and permission checks."""

    __tablename__ = "human_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str] = mapped_column(String(40), unique=True)  # engine task UUID
    spec_id: Mapped[str] = mapped_column(String(200))
    process_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    form_key: Mapped[str] = mapped_column(String(100))
    documents: Mapped[list[Any]] = mapped_column(default=list)
    case_action: Mapped[str | None] = mapped_column(String(40))
    instructions: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(20), default="ready", index=True)  # ready/completed/cancelled
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    draft: Mapped[dict[str, Any] | None] = mapped_column()
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    case: Mapped[Case] = relationship(lazy="joined")
    org_unit: Mapped[OrgUnit] = relationship(lazy="joined")
    claimed_by: Mapped[User | None] = relationship(foreign_keys=[claimed_by_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])


class WorkflowTimer(Base):
    """A timer event the case is waiting on, with its due time and the rule that sets it."""

    __tablename__ = "workflow_timers"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str] = mapped_column(String(40))
    spec_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    documentation: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class WorkflowTaskState(Base):
    """One engine task of a case's stored state (see ``workflows.state_rows``): its JSON fragment,
    the workflow it belongs to (``""`` for the top one, else the subprocess id) and its order."""

    __tablename__ = "workflow_task_states"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    ord: Mapped[int] = mapped_column(Integer)
    workflow_key: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
