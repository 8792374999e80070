"""Write mapped rows through Core on the session's connection, keeping loaded objects in step.

A completion writes a handful of rows; the unit of work's flush machinery costs more than the
statements themselves. ``update_row`` and ``insert_row`` run one statement each (built once per
table, the SET/VALUES columns taken from the parameters, run on the driver's cursor:
``cases.driver_sql``; an update is queued on PostgreSQL: ``cases.write_behind``) and record what they wrote as the
objects' committed state, so the session neither writes them again nor serves stale values.
They take effect at once, in the caller's transaction; the caller still commits once.

The unit of work would undo its own changes in the session when a savepoint or the transaction
rolls back; for these writes ``_undo_in_session`` does it: rows inserted here leave the session,
rows updated here are expired (re-read on next access).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, event, insert, inspect, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from cases.db import as_loaded
from cases.driver_sql import DriverStatement
from cases.write_behind import execute_later

T = TypeVar("T")

_updates: dict[Table, DriverStatement] = {}
_inserts: dict[Table, DriverStatement] = {}
_upserts: dict[tuple[str, Table, str, tuple[str, ...]], DriverStatement] = {}
WRITTEN_KEY = "fengqiao.core_written"
"""``session.info`` key: (object, inserted?, transaction written in) for every row written here since
the last commit."""


def _remember(session: Session, obj: Any, inserted: bool) -> None:
    # With the innermost transaction it was written in: a savepoint's rollback undoes only its own.
    within = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(WRITTEN_KEY, []).append((obj, inserted, within))


def _inside(transaction: Any, outer: Any) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _undo_in_session(session: Session, previous_transaction: Any) -> None:
    # Any rollback: the transaction's own or a savepoint's (then only what was written inside it,
    # a savepoint released into it included).
    kept = []
    for obj, inserted, within in session.info.pop(WRITTEN_KEY, []):
        if not _inside(within, previous_transaction):
            kept.append((obj, inserted, within))
        elif inspect(obj).session_id == session.hash_key:
            if inserted:
                session.expunge(obj)
            else:
                session.expire(obj)
    if kept:
        session.info[WRITTEN_KEY] = kept


@event.listens_for(Session, "after_commit")
def _forget_written(session: Session) -> None:
    session.info.pop(WRITTEN_KEY, None)


def attach(session: Session, cls: type[T], values: dict[str, Any]) -> T:
    """The persistent object of ``cls`` for a row read through Core (``values``: every column,
    by attribute name), as an ORM query with ``populate_existing`` would give it: the object the
    session already holds, its columns refreshed and its loaded relationships expired, or a new one
    made as if loaded and added (``cases.db.as_loaded``). Deferred columns stay deferred: each loads
    on first access. The caller flushes first (the session's pending changes would be overwritten)."""
    mapper = inspect(cls)
    held = session.identity_map.get(mapper.identity_key_from_primary_key(
        tuple(values[column.key] for column in mapper.primary_key)))
    if held is not None:
        for name, value in values.items():
            set_committed_value(held, name, value)
        # What was loaded through its relationships may be as old as the object: load it again on
        # next access (the caller sets the ones it read), as ``populate_existing`` would.
        loaded = [key for key in mapper.relationships.keys() if key in inspect(held).dict]
        if loaded:
            session.expire(held, loaded)
        return held  # type: ignore[no-any-return]
    obj = as_loaded(cls, values)
    deferred = _deferred_columns(mapper)
    if deferred:  # not "expired" (which would load them all at once, with any other): deferred
        inspect(obj).expired_attributes.difference_update(deferred)
    session.add(obj)
    return obj


def _deferred_columns(mapper: Any) -> frozenset[str]:
    found = _deferred.get(mapper)
    if found is None:
        found = _deferred[mapper] = frozenset(p.key for p in mapper.column_attrs if p.deferred)
    return found


_deferred: dict[Any, frozenset[str]] = {}


def update_row(session: Session, obj: Any, values: dict[str, Any]) -> None:
    """``UPDATE`` the row of persistent ``obj`` with ``values`` (attribute name = column name):
    queued on PostgreSQL (``cases.write_behind``), its effect in the session at once."""
    state = inspect(obj)
    if not state.persistent:
        raise ValueError(f"{type(obj).__name__} is not persistent; flush it first")
    table = state.mapper.local_table
    stmt = _updates.get(table)
    if stmt is None:
        (pk,) = table.primary_key.columns
        stmt = _updates[table] = DriverStatement(update(table).where(pk == bindparam("row_pk")))
    (pk_value,) = state.identity
    execute_later(session, stmt, {"row_pk": pk_value, **values})
    for key, value in values.items():
        set_committed_value(obj, key, value)
    _remember(session, obj, inserted=False)


def insert_row(session: Session, cls: type[T], values: dict[str, Any]) -> T:
    """``INSERT`` a row with ``values`` (give every column the caller will read) and return it as
    a persistent object of ``cls``, its generated ``id`` set."""
    table = cls.__table__  # type: ignore[attr-defined]
    stmt = _inserts.get(table)
    if stmt is None:
        stmt = _inserts[table] = DriverStatement(insert(table).returning(table.c.id))
    (new_id,) = stmt.first(session.connection(), values)  # type: ignore[misc]
    obj = as_loaded(cls, {"id": new_id, **values})
    session.add(obj)
    _remember(session, obj, inserted=True)
    return obj


def insert_object(session: Session, obj: Any, values: dict[str, Any]) -> None:
    """``INSERT`` the row of new ``obj`` (transient or pending; ``values`` gives every column, its
    primary key included) — queued on PostgreSQL (``cases.write_behind``) — and make ``obj`` the
    session's persistent object for it, holding exactly ``values``: no unit of work, no read back."""
    state = inspect(obj)
    if state.persistent or state.detached:
        raise ValueError(f"{type(obj).__name__} is already stored")
    if state.pending:
        session.expunge(obj)  # else the next flush would insert it a second time
    table = state.mapper.local_table
    stmt = _queued_inserts.get(table)
    if stmt is None:
        stmt = _queued_inserts[table] = DriverStatement(insert(table).inline())
    execute_later(session, stmt, values)
    for key, value in values.items():
        set_committed_value(obj, key, value)
    make_transient_to_detached(obj)  # its values now count as loaded, its identity as known
    session.add(obj)
    _remember(session, obj, inserted=True)


_queued_inserts: dict[Table, DriverStatement] = {}


def upsert_row(session: Session, cls: type[T], values: dict[str, Any], key: str,
               update_columns: tuple[str, ...]) -> T:
    """``INSERT … ON CONFLICT (key) DO UPDATE SET update_columns`` and return the row as a persistent
    object of ``cls``: the object the session already holds for it, brought up to date, or a new
    one, built from the row the statement returns. ``key`` names a unique column."""
    table = cls.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    cache_key = (dialect, table, key, update_columns)
    stmt = _upserts.get(cache_key)
    if stmt is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        base = dialect_insert(table)
        stmt = _upserts[cache_key] = DriverStatement(base.on_conflict_do_update(
            index_elements=[key], set_={name: base.excluded[name] for name in update_columns},
        ).returning(*table.columns))
    found = stmt.first(session.connection(), values)
    assert found is not None  # an upsert returns its row
    row = dict(zip(table.columns.keys(), found, strict=True))
    held = session.identity_map.get(inspect(cls).identity_key_from_primary_key((row["id"],)))
    if held is not None:
        for name, value in row.items():
            set_committed_value(held, name, value)
        _remember(session, held, inserted=False)
        return held  # type: ignore[no-any-return]
    obj = as_loaded(cls, row)  # what the database holds (an existing row keeps its other columns)
    session.add(obj)
    # Expunged on rollback even when the row existed before (re-opened): it is then read again.
    _remember(session, obj, inserted=True)
    return obj
