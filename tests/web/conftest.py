"""Fixtures for the page tests: the shared ``app``/``session``/``world`` of tests/conftest.py plus a
small village-mediation diagram (tests/web/data) deployed as process ``dispute`` and a second
mediator, so two people can race for one task."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from cases.roles import Role


def _shim_missing_workflow_modules() -> None:
    """Until workflows.parsing / workflows.validation land, stand in for them (tests only)."""
    import importlib.util
    import sys
    import types

    if importlib.util.find_spec("workflows.parsing") is not None:
        return
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

    class _Bundle:
        def __init__(self, files: dict[str, bytes]) -> None:
            self.parser = SpiffBpmnParser()
            for name, data in files.items():
                self.parser.add_bpmn_str(data, name)
            self.process_ids = self.parser.get_process_ids()

        def specs(self, process_id: str) -> tuple[Any, dict[str, Any]]:
            return self.parser.get_spec(process_id), self.parser.get_subprocess_specs(process_id)

    parsing = types.ModuleType("workflows.parsing")
    parsing.load_bundle = _Bundle  # type: ignore[attr-defined]
    validation = types.ModuleType("workflows.validation")
    validation.validate_bundle = lambda files, form_keys=(): []  # type: ignore[attr-defined]
    sys.modules.setdefault("workflows.parsing", parsing)
    if importlib.util.find_spec("workflows.validation") is None:
        sys.modules.setdefault("workflows.validation", validation)


_shim_missing_workflow_modules()

from cases.services import create_user

DATA = Path(__file__).parent / "data"


def web_bundle() -> tuple[dict[str, bytes], dict[str, Any]]:
    forms = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((DATA / "forms").glob("*.json"))}
    return {"dispute.bpmn": (DATA / "dispute.bpmn").read_bytes()}, forms


def deploy_bundle(session: Session) -> None:
    files, forms = web_bundle()
    try:
        from workflows.deploy import deploy
    except ImportError:  # the validating deploy may not be importable yet: store the version directly
        _deploy_directly(session, files, forms)
    else:
        deploy(session, files, forms)


def _deploy_directly(session: Session, files: dict[str, bytes], forms: dict[str, Any]) -> None:
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

    from workflows.engine import dump_specs
    from workflows.models import ProcessVersion

    parser = SpiffBpmnParser()
    for name, data in files.items():
        parser.add_bpmn_str(data, name)
    spec = parser.get_spec("dispute")
    subs = parser.get_subprocess_specs("dispute")
    session.add(ProcessVersion(process_id="dispute", version=1,
                               sha256=hashlib.sha256(b"".join(files.values())).hexdigest(),
                               files={k: v.decode() for k, v in files.items()}, forms=forms,
                               spec_json=dump_specs(spec, subs)))
    session.flush()


@pytest.fixture
def web_world(session: Session, world: Any) -> Iterator[Any]:
    """Demo org tree and users, a second village mediator ``mediator2``, the test diagram deployed."""
    world.users["mediator2"] = create_user(
        session, username="mediator2", password="demo", display_name="调解员 钱二",
        memberships=[(Role.MEDIATOR, world.units["village"])])
    deploy_bundle(session)
    session.commit()
    # workflows.services caches parsed specs and forms by ProcessVersion.id, which repeats across the
    # per-test databases: drop entries other tests left behind (reported to the lead).
    from workflows import services

    services._definitions.clear()
    services._forms.clear()
    yield world
    services._definitions.clear()  # and leave none of ours behind for the next test's database
    services._forms.clear()
