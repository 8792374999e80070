"""Fixtures for the page tests: the shared ``app``/``session``/``world`` of tests/conftest.py plus a
small village-mediation diagram (tests/web/data) deployed as process ``dispute`` and a second
mediator, so two people can race for one task."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from cases.roles import Role
from cases.services import create_user

DATA = Path(__file__).parent / "data"


def web_bundle() -> tuple[dict[str, bytes], dict[str, Any]]:
    forms = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((DATA / "forms").glob("*.json"))}
    return {"dispute.bpmn": (DATA / "dispute.bpmn").read_bytes()}, forms


def deploy_bundle(session: Session) -> None:
    from workflows.deploy import deploy

    files, forms = web_bundle()
    deploy(session, files, forms)


@pytest.fixture
def web_world(session: Session, world: Any) -> Iterator[Any]:
    """Demo org tree and users, a second village mediator ``mediator2``, the test diagram deployed."""
    world.users["mediator2"] = create_user(
        session, username="mediator2", password="demo", display_name="调解员 钱二",
        memberships=[(Role.MEDIATOR, world.units["village"])])
    deploy_bundle(session)
    session.commit()
    yield world
