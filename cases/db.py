"""Database plumbing: declarative base, engine and session factories.

Services only ``flush()``; the boundary (a web request, a CLI command, a background job) commits once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from sqlalchemy import JSON, MetaData, create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, configure_mappers, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.attributes import instance_state

from cases import write_behind

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every Fengqiao table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _sqlite_setup(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout and ``BEGIN IMMEDIATE`` for SQLite.

    pysqlite's default deferred transactions let two writers both read and then deadlock on the
    write upgrade; taking the write lock at ``BEGIN`` serialises writers cleanly instead, and the
    busy timeout makes the second writer wait rather than fail.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # On the driver's connection: every request starts here, SQLAlchemy's statement machinery
        # (events, result setup) would cost more than the statement.
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")


PING_AFTER_IDLE_SECONDS = 5.0
"""A pooled server connection idle longer than this is pinged before it is handed out."""


def _ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """Pessimistic disconnect handling for connections that sat idle in the pool.

    A connection checked out again within ``idle_seconds`` of its return is handed out as is (a busy
    server then pays no extra round trip per request); one idle longer is pinged first, and a dead
    one is replaced before use (``DisconnectionError`` makes the pool retry with a new connection).
    A connection that dies while in steady use still fails its request, and SQLAlchemy then
    recycles the whole pool, as with any disconnect found during a statement.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["fengqiao.returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("fengqiao.returned_at")
        if returned is None or time.monotonic() - returned < idle_seconds:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()  # end the ping's implicit transaction
        except Exception as exc:  # any failure means: do not hand this one out
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the settings Fengqiao relies on."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        _sqlite_setup(engine)
        return engine
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_idle_connections(engine, PING_AFTER_IDLE_SECONDS)
    write_behind.install(engine)
    return engine


def as_loaded(cls: type[T], values: dict[str, Any]) -> T:
    """An object of mapped ``cls`` holding ``values`` as if a query had just loaded them: detached,
    with its identity and no change history (attributes not given load on first access). Cheaper
    than the constructor, whose attribute events track every value as a change."""
    mapper = inspect(cls)
    if not mapper.configured:  # e.g. a new worker process's first request: no query has run yet
        configure_mappers()
    obj = mapper.class_manager.new_instance()
    instance_state(obj).dict.update(values)
    make_transient_to_detached(obj)
    return obj  # type: ignore[no-any-return]


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory; sessions never expire objects on commit (views read after commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
