"""Alembic environment: every Fengqiao table lives on ``cases.db.Base.metadata``."""

from __future__ import annotations

import os

from alembic import context

import cases.audit
import cases.documents
import cases.models  # noqa: F401
import workflows.models  # noqa: F401
from cases.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return (config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
            or os.environ.get("FENGQIAO_DATABASE_URL") or "sqlite:///instance/fengqiao.db")


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
