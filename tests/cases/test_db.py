"""Database plumbing: pooled PostgreSQL connections are pinged only after sitting idle."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from cases import db as db_module
from cases.db import make_engine


def _kill(url: str, pid: int) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def _backend_pid(engine: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("the idle ping is for server databases")
    return database_url


def test_idle_connection_that_died_is_replaced_before_use(postgres_url: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)  # every checkout counts as idle
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    first = _backend_pid(engine)
    _kill(postgres_url, first)
    assert _backend_pid(engine) != first  # pinged, found dead, replaced: the caller saw no error
    engine.dispose()


def test_busy_connection_is_handed_out_without_a_ping(postgres_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    first = _backend_pid(engine)
    _kill(postgres_url, first)
    # Returned a moment ago, so not pinged: the dead connection surfaces as an error once, and the
    # pool is recycled for the next caller.
    with pytest.raises(OperationalError):
        _backend_pid(engine)
    assert _backend_pid(engine) != first
    engine.dispose()


def test_as_loaded_works_before_any_query_configured_the_mappers() -> None:
    """A new worker process may build its first objects before any query ran (mappers unconfigured)."""
    import subprocess
    import sys

    code = ("from cases.db import as_loaded\nfrom cases.models import OrgUnit, User\n"
            "u = as_loaded(User, {'id': 7, 'username': 'x'})\n"
            "o = as_loaded(OrgUnit, {'id': 3, 'code': 'village', 'path': '/1/3/'})\n"
            "print(u.id, u.username, o.code)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["7", "x", "village"]
