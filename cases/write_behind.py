"""Writes whose result nobody reads, sent to PostgreSQL together in one round trip.

A step ends with several UPDATEs and INSERTs (the completed task, its audit event, the changed
engine task rows, the workflow row, the case). Each is a round trip to PostgreSQL; the client and
the server spend more CPU on the trip than on the statement. ``execute_later`` queues such a
statement on the transaction's connection instead; the queue is sent in psycopg's pipeline mode
(every queued statement, then one sync) just before the connection's next statement of any kind
(through SQLAlchemy or ``cases.driver_sql``), and before it commits. Queued statements themselves
run on the driver's cursor (``cases.driver_sql``), as does a statement run at once. So statements
still reach the database in the order they were issued and in the same transaction: a later read
sees the queued writes, and a savepoint's rollback undoes those queued inside it. A rollback drops
the queue; so does returning the connection to the pool.

What ``execute_later`` does not give is its result: it takes DML without ``RETURNING`` only (an
INSERT built with ``.inline()``, so that SQLAlchemy adds none for the new key), and an
error in a queued statement is raised by the statement (or commit) that sends the queue, as the
SQLAlchemy exception for it. SQLite (in process: no round trips) and any engine not made by
``cases.db.make_engine`` run the statement at once.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert, UpdateBase

from cases import driver_sql
from cases.driver_sql import DriverStatement

QUEUE_KEY = "fengqiao.write_behind"
"""``Connection.info`` key (the pooled connection's own dict): the queued (statement, parameters)."""

_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def install(engine: Engine) -> None:
    """Queue on ``engine`` (PostgreSQL with psycopg); a no-op for any other engine."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg" or engine in _engines:
        return
    _engines.add(engine)
    event.listen(engine, "before_cursor_execute", _before_statement)
    event.listen(engine, "commit", _before_commit)
    event.listen(engine, "rollback", _drop)
    event.listen(engine.pool, "checkin", _drop_at_checkin)


def execute_later(session: Session, statement: UpdateBase, parameters: dict[str, Any] | list[dict[str, Any]]
                  ) -> None:
    """Run ``statement`` (INSERT, UPDATE or DELETE without ``RETURNING``) with ``parameters`` (one
    dict, or a list of them for an executemany) in the session's transaction, queued where the
    engine queues (see the module's description), else at once."""
    if statement.exported_columns:
        raise ValueError("execute_later takes statements without RETURNING: nothing reads their result")
    if isinstance(statement, Insert) and not statement._inline:
        # else SQLAlchemy adds RETURNING for the new primary key (``inserted_primary_key``)
        raise ValueError("execute_later takes an INSERT built with .inline(): nothing reads its new key")
    conn = session.connection()
    prepared = _prepared.get(statement)
    if prepared is None:
        prepared = _prepared[statement] = DriverStatement(statement)
    if conn.engine not in _engines:
        prepared.run(conn, parameters)
        return
    conn.info.setdefault(QUEUE_KEY, []).append((prepared, parameters))


_prepared: weakref.WeakKeyDictionary[UpdateBase, DriverStatement] = weakref.WeakKeyDictionary()
"""Each statement given to ``execute_later`` (callers build theirs once), compiled for the driver;
forgotten with the statement."""


def pending(session: Session) -> int:
    """How many statements the session's connection has queued (for tests and diagnostics)."""
    return len(session.connection().info.get(QUEUE_KEY, ()))


def send(conn: Connection) -> None:
    """Send ``conn``'s queued statements now, in one pipeline; raises what the first failed one raised."""
    queue = conn.info.pop(QUEUE_KEY, None)
    if not queue:
        return
    driver = conn.connection.driver_connection
    try:
        with driver.pipeline():  # type: ignore[union-attr]
            for prepared, parameters in queue:
                prepared.run(conn, parameters)
    except DBAPIError:
        raise
    except Exception as exc:  # noqa: BLE001 -- raised by the pipeline's sync: handled as a statement's error
        sent = "; ".join(str(prepared.statement).split("\n", 1)[0] for prepared, _ in queue)
        conn._handle_dbapi_exception(exc, f"(queued writes) {sent}", None, None, None)


def _before_statement(conn: Connection, *_args: Any) -> None:
    if conn.info.get(QUEUE_KEY):
        send(conn)


driver_sql.before_run.insert(0, _before_statement)  # statements run on the driver's cursor send it too


def _before_commit(conn: Connection) -> None:
    if not conn.invalidated and conn.info.get(QUEUE_KEY):
        send(conn)


def _drop(conn: Connection) -> None:
    if not conn.invalidated:  # an invalidated connection's record starts its next one with empty info
        conn.info.pop(QUEUE_KEY, None)


def _drop_at_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info.pop(QUEUE_KEY, None)
