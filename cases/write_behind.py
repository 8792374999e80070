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
INSERT built with ``.inline()``, so that SQLAlchemy adds none for the new key), and an error in a
queued statement is raised by the statement (or commit) that sends the queue, as the SQLAlchemy
exception for it, naming the statement. Code that catches errors broadly calls ``send_pending``
first, so that it does not take such an error for its own; and a transaction that an error
aborted is never reported committed (PostgreSQL would roll it back quietly). SQLite (in process: no
round trips) and any engine not made by ``cases.db.make_engine`` run the statement at once.
"""

from __future__ import annotations

import weakref
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, PendingRollbackError
from sqlalchemy.orm import Session

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
    # Everything queued now was queued after the savepoint began (SAVEPOINT and RELEASE are
    # statements: each sent the queue before it), so none of it is sent: it is undone unsent.
    event.listen(engine, "rollback_savepoint", lambda conn, _name, _context: _drop(conn))
    event.listen(engine, "release_savepoint", _before_release)
    event.listen(engine.pool, "checkin", _drop_at_checkin)


def execute_later(session: Session, statement: DriverStatement,
                  parameters: dict[str, Any] | list[dict[str, Any]]) -> None:
    """Run ``statement`` (INSERT, UPDATE or DELETE without ``RETURNING``, built once by the caller)
    with ``parameters`` (one dict, or a list of them for an executemany) in the session's
    transaction, queued where the engine queues (see the module's description), else at once."""
    if not statement.returns_nothing:
        raise ValueError("execute_later takes INSERT (built with .inline(): else SQLAlchemy adds RETURNING for "
                         "the new key), UPDATE or DELETE statements without RETURNING: nothing reads their result")
    conn = session.connection()
    if conn.engine not in _engines:
        statement.run(conn, parameters)
        return
    conn.info.setdefault(QUEUE_KEY, []).append((statement, parameters))


def pending(session: Session) -> int:
    """How many statements the session's connection has queued (for tests and diagnostics)."""
    return len(session.connection().info.get(QUEUE_KEY, ()))


def send_pending(session: Session) -> None:
    """Send what the session has queued now: before code that catches errors broadly (a failed
    queued write must fail its own request, not be taken for that code's error)."""
    conn = session.connection()
    if conn.info.get(QUEUE_KEY):
        send(conn)


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
        conn._handle_dbapi_exception(exc, _failed_statement(conn, queue, exc), None, None, None)


def _failed_statement(conn: Connection, queue: list[tuple[DriverStatement, Any]], exc: BaseException) -> str:
    """The queued statements the error can be about (those on the table the server names), as sent."""
    table = getattr(getattr(exc, "diag", None), "table_name", None)
    sent = [prepared.sql_for(conn.dialect, parameters) for prepared, parameters in queue]
    named = [sql for sql in sent if table and f" {table} " in f" {sql} "]
    return "(queued writes) " + "; ".join(named or sent)


def _before_statement(conn: Connection, *_args: Any) -> None:
    if conn.info.get(QUEUE_KEY):
        send(conn)


driver_sql.before_run.insert(0, _before_statement)  # statements run on the driver's cursor send it too


def _before_commit(conn: Connection) -> None:
    if conn.invalidated:
        return
    if conn.info.get(QUEUE_KEY):
        send(conn)
    # PostgreSQL answers COMMIT of a transaction that an error aborted with a quiet ROLLBACK. A write
    # that failed where someone caught the error broadly would then be lost with the request
    # reporting success: refuse instead.
    driver = conn.connection.driver_connection
    if driver.info.transaction_status == TransactionStatus.INERROR:  # type: ignore[union-attr]
        raise PendingRollbackError("this transaction failed earlier (an error was caught and not rolled back); "
                                   "nothing of it is committed: roll back and try again")


def _before_release(conn: Connection, name: str, _context: Any) -> None:
    """Send before RELEASE SAVEPOINT; should a queued write fail, undo the savepoint's work before the
    error goes on, so that the transaction around it stays usable (as on SQLite, where the write
    failed at once inside the savepoint, which its owner then rolls back)."""
    if conn.invalidated or not conn.info.get(QUEUE_KEY):
        return
    try:
        send(conn)
    except Exception:
        conn.dialect.do_rollback_to_savepoint(conn, name)
        raise


def _drop(conn: Connection) -> None:
    if not conn.invalidated:  # an invalidated connection's record starts its next one with empty info
        conn.info.pop(QUEUE_KEY, None)


def _drop_at_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info.pop(QUEUE_KEY, None)
