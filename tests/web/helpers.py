"""Helpers for the page tests (import after tests/web/conftest.py has run)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cases.audit import Actor
from cases.models import Case, User
from cases.services import open_case
from workflows.models import HumanTask
from workflows.services import start_case


def new_case(session: Session, world: Any, *, username: str = "mediator", unit: str = "village",
             title: str = "张某与李某宅基地边界纠纷", category: str = "housing_homestead") -> Case:
    user: User = world.users[username]
    case = open_case(session, actor=user, actor_role="mediator", org_unit=world.units[unit], title=title,
                     category=category, parties=[{"role": "applicant", "name": "张建国", "phone": "13800138000"},
                                                 {"role": "respondent", "name": "李卫东"}])
    start_case(session, case, Actor(user.id, user.username, "mediator"), process_id="dispute")
    session.commit()
    return case


def open_task(session: Session, case_id: int) -> HumanTask:
    """The case's first open task; ends the read transaction (SQLite: BEGIN IMMEDIATE holds the lock)."""
    session.expire_all()
    task = session.query(HumanTask).filter_by(case_id=case_id, state="ready").order_by(HumanTask.id).first()
    session.commit()
    return task


def login(client: Any, username: str, password: str = "demo") -> Any:
    return client.post("/login", data={"username": username, "password": password})
