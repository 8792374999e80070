"""Which statements a piece of code runs: through SQLAlchemy and on the driver's cursor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from cases import driver_sql


@dataclass(frozen=True)
class Statement:
    sql: str
    parameters: Any
    many: bool

    @property
    def verb(self) -> str:
        return self.sql.lstrip().split(None, 1)[0].upper()

    @property
    def rows(self) -> int:
        """Parameter sets: how many rows an executemany writes, else 1."""
        return len(self.parameters) if self.many else 1


@contextmanager
def statements(engine: Engine) -> Iterator[list[Statement]]:
    """Every statement run on ``engine``'s connections while the block runs, in order: those
    through SQLAlchemy (``before_cursor_execute``) and those run by ``cases.driver_sql``."""
    found: list[Statement] = []

    def through_sqlalchemy(_conn: Any, _cursor: Any, sql: str, parameters: Any, _ctx: Any, many: bool) -> None:
        found.append(Statement(sql, parameters, many))

    def on_driver(conn: Any, sql: str, parameters: Any, many: bool) -> None:
        if conn.engine is engine:
            found.append(Statement(sql, parameters, many))

    event.listen(engine, "before_cursor_execute", through_sqlalchemy)
    driver_sql.before_run.append(on_driver)
    try:
        yield found
    finally:
        driver_sql.before_run.remove(on_driver)
        event.remove(engine, "before_cursor_execute", through_sqlalchemy)
