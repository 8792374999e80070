"""Core statements run straight on the driver's cursor: the few statements every request runs.

For a short statement, SQLAlchemy's execution machinery (cache lookup, execution context, result
metadata built from the cursor's description) costs more CPU than the driver and the database
together. ``DriverStatement`` compiles a Core statement once per dialect (an INSERT or UPDATE once
per set of columns given, as SQLAlchemy does) and runs it on the DBAPI cursor of a SQLAlchemy
``Connection``, in that connection's transaction, with SQLAlchemy's own bind and result processors
for the column types, so values go in and come out as through ``Connection.execute``; an error is
handled by the connection as its own (wrapped in SQLAlchemy's exception classes; a lost connection
invalidates it and the pool).

Refused when compiled (``ValueError``): expanding (``IN``) or literal-execute parameters, bind names
that need escaping, Python-side column defaults other than plain values and argument-less
callables, numeric (``Numeric``/``Float``) result columns. Connection events do not fire for these
statements; ``before_run`` hooks do (the queued writes of ``cases.write_behind`` are sent there
first). SQLAlchemy's private ``Connection._handle_dbapi_exception`` handles errors, as it does for
its own statements.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Numeric
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import Insert, Update, UpdateBase

Params = dict[str, Any]

before_run: list[Callable[[Connection, str, Any, bool], None]] = []
"""Called with (connection, SQL, parameters, executemany?) before each statement runs here: the
queued writes are sent first (``cases.write_behind``); tests count statements."""


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # rendered bind names, in order (positional paramstyles) or by name
    keys: tuple[str, ...]  # the parameter key each bind takes its value from
    defaults: tuple[Any, ...]  # value when the key is not given (``_REQUIRED``: must be given)
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool
    results: tuple[Callable[[Any], Any] | None, ...]
    calls_defaults: bool = False  # a default is a callable, called per row (``_CallDefault``)

    def parameters(self, given: Params) -> Any:
        values = []
        for key, default, process in zip(self.keys, self.defaults, self.processors, strict=True):
            value = given.get(key, default)
            if value is _REQUIRED:
                raise KeyError(f"no value for bind parameter '{key}' of: {self.sql}")
            values.append(process(value) if process is not None else value)
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))

    def rows(self, found: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if not any(self.results):
            return found
        return [tuple(value if process is None or value is None else process(value)
                      for value, process in zip(row, self.results, strict=True)) for row in found]


_REQUIRED = object()


def _python_default(column: Any, update: bool) -> Any:
    default = column.onupdate if update else column.default
    if default is not None and default.is_scalar:
        return default.arg
    if default is not None and default.is_callable:
        return _CallDefault(default.arg)
    raise ValueError(f"column {column} has a default DriverStatement cannot apply: give its value")


@dataclass(frozen=True)
class _CallDefault:
    """A callable column default (``default=utcnow``): called for each row that does not give it."""

    fn: Callable[[Any], Any]


class DriverStatement:
    """A Core statement compiled once per dialect and run on the driver's cursor."""

    def __init__(self, statement: Select[Any] | UpdateBase) -> None:
        self.statement = statement
        self._dml = isinstance(statement, (Insert, Update))
        # DML that gives no result: no RETURNING, and an INSERT built ``.inline()`` (else
        # SQLAlchemy itself returns the new primary key).
        self.returns_nothing = (isinstance(statement, UpdateBase) and not statement.exported_columns
                                and not (isinstance(statement, Insert) and not statement._inline))
        self._compiled: weakref.WeakKeyDictionary[Dialect, dict[tuple[str, ...], _Compiled]] = \
            weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"DriverStatement({str(self.statement).splitlines()[0]} …)"

    def all(self, conn: Connection, params: Params) -> list[tuple[Any, ...]]:
        """Every row (a tuple per row, in the statement's column order)."""
        compiled = self._compile(conn.dialect, params)
        cursor = self._execute(conn, compiled, params, many=False)
        try:
            return compiled.rows(cursor.fetchall())
        except Exception as exc:  # noqa: BLE001 -- handed to the connection, which wraps and re-raises
            conn._handle_dbapi_exception(exc, compiled.sql, params, cursor, None)
        finally:
            cursor.close()

    def first(self, conn: Connection, params: Params) -> tuple[Any, ...] | None:
        found = self.all(conn, params)
        return found[0] if found else None

    def run(self, conn: Connection, params: Params | list[Params]) -> None:
        """Run a statement that returns nothing, once or (a list of parameter sets) for each."""
        many = isinstance(params, list)
        if many and not params:
            return
        first = params[0] if many else params
        compiled = self._compile(conn.dialect, first)  # type: ignore[arg-type]
        self._execute(conn, compiled, params, many=many).close()

    def _execute(self, conn: Connection, compiled: _Compiled, params: Params | list[Params], many: bool) -> Any:
        for hook in before_run:
            hook(conn, compiled.sql, params, many)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if many:
                cursor.executemany(compiled.sql, [compiled.parameters(self._given(compiled, p)) for p in params])
            else:
                cursor.execute(compiled.sql, compiled.parameters(self._given(compiled, params)))  # type: ignore[arg-type]
        except KeyError:
            cursor.close()
            raise
        except Exception as exc:  # noqa: BLE001 -- handed to the connection, which wraps and re-raises
            conn._handle_dbapi_exception(exc, compiled.sql, params, cursor, None)
        return cursor

    @staticmethod
    def _given(compiled: _Compiled, params: Params) -> Params:
        if not compiled.calls_defaults:
            return params
        called = {key: default.fn(None) for key, default in zip(compiled.keys, compiled.defaults, strict=True)
                  if isinstance(default, _CallDefault) and key not in params}
        return {**called, **params}

    def sql_for(self, dialect: Dialect, params: Params | list[Params]) -> str:
        """The SQL text run for ``params`` (the first set of a list)."""
        first = params[0] if isinstance(params, list) and params else params
        return self._compile(dialect, first if isinstance(first, dict) else {}).sql

    def _compile(self, dialect: Dialect, params: Params) -> _Compiled:
        by_keys = self._compiled.get(dialect)
        if by_keys is None:
            by_keys = self._compiled[dialect] = {}
        column_keys = tuple(sorted(params)) if self._dml else ()
        found = by_keys.get(column_keys)
        if found is None:
            found = by_keys[column_keys] = self._build(dialect, column_keys)
        return found

    def _build(self, dialect: Dialect, column_keys: tuple[str, ...]) -> _Compiled:
        statement = self.statement
        compiled: Any = statement.compile(dialect=dialect, column_keys=list(column_keys) if self._dml else None)
        if getattr(compiled, "escaped_bind_names", None):
            raise ValueError(f"bind names that need escaping are not supported: {compiled.string}")
        names = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
        keys, defaults, processors = [], [], []
        prefetch = {c.key: c for c in compiled.insert_prefetch} | {c.key: c for c in compiled.update_prefetch}
        for name in names:
            bind = compiled.binds[name]
            if bind.expanding or bind.literal_execute:
                raise ValueError(f"expanding or literal-execute parameters are not supported: {compiled.string}")
            keys.append(bind.key)
            if bind.key in prefetch:
                defaults.append(_python_default(prefetch[bind.key], update=bind.key in
                                                {c.key for c in compiled.update_prefetch}))
            elif bind.required:
                defaults.append(_REQUIRED)
            else:
                defaults.append(bind.effective_value)
            processors.append(bind.type.dialect_impl(dialect).bind_processor(dialect))
        for column in statement.exported_columns:
            if isinstance(column.type, Numeric):  # its processor needs the driver's type code (no description here)
                raise ValueError(f"numeric result columns are not supported ({column}): {compiled.string}")
        results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                        for column in statement.exported_columns)
        return _Compiled(compiled.string, tuple(names), tuple(keys), tuple(defaults), tuple(processors),
                         bool(compiled.positional), results, any(isinstance(d, _CallDefault) for d in defaults))
