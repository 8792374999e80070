"""Shared fixtures: real databases (SQLite always, PostgreSQL when FENGQIAO_TEST_POSTGRES_URL is
set), seeded org units and users, deployed fixture diagrams, the Flask app and client."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from cases.db import Base, make_engine, make_session_factory
from cases.migrate import upgrade

FIXTURES = Path(__file__).parent / "fixtures"
POSTGRES_URL = os.environ.get("FENGQIAO_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])


@pytest.fixture(scope="session", autouse=True)
def _fast_demo_hashes() -> Iterator[None]:
    """Hash each distinct test password once per session (argon2 is slow by design)."""
    from functools import lru_cache

    import cases.services as services

    original = services.hash_password
    services.hash_password = lru_cache(maxsize=64)(original)  # type: ignore[assignment]
    yield
    services.hash_password = original


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_database() -> Iterator[str | None]:
    if not POSTGRES_URL:
        yield None
        return
    server = make_url(POSTGRES_URL)
    name = f"fengqiao_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a fresh SQLite file, or the session's PostgreSQL database
    truncated (TRUNCATE does not fire the audit table's UPDATE/DELETE trigger)."""
    if request.param == "sqlite":
        target = tmp_path / "fengqiao.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("_postgres_database")
    engine = create_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def session_factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@dataclass
class World:
    units: dict[str, Any]
    users: dict[str, Any]


@pytest.fixture
def world(session: Session) -> World:
    """The demo org tree and one user per role (password ``demo``), committed."""
    from cases.services import create_user
    from web.demo import DEMO_PASSWORD, DEMO_USERS, build_org_tree

    units = build_org_tree(session)
    users = {u: create_user(session, username=u, password=DEMO_PASSWORD, display_name=name,
                            memberships=[(role, units[code])])
             for u, name, role, code in DEMO_USERS}
    session.commit()
    return World(units, users)


def read_fixture_bundle(*names: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    from workflows.deploy import read_forms

    folder = FIXTURES / "core"
    files = {n: (folder / n).read_bytes() for n in names}
    return files, read_forms(folder / "forms")


@pytest.fixture
def core_deployed(session: Session, world: World) -> World:
    """The core fixture diagrams deployed (committed)."""
    from workflows.deploy import deploy

    for name in ("core.bpmn", "loop.bpmn", "broken.bpmn"):
        files, forms = read_fixture_bundle(name)
        deploy(session, files, forms)
    session.commit()
    return world


@pytest.fixture
def app_factory() -> Iterator[Any]:
    """Build extra apps in a test (other settings); their database engines are disposed after it."""
    from web import create_app

    made: list[Any] = []

    def make(config: dict[str, Any]) -> Any:
        made.append(create_app(config))
        return made[-1]

    yield make
    for application in made:
        application.extensions["fengqiao.engine"].dispose()


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Any]:
    from web import create_app

    application = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test-secret",
                              "WTF_CSRF_ENABLED": False, "DOCUMENTS_DIR": str(tmp_path / "documents")})
    yield application
    application.extensions["fengqiao.engine"].dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()
