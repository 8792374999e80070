"""One SQLAlchemy session per request; the request commits once, after the view succeeds."""

from __future__ import annotations

from flask import Flask, Response, current_app, g
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker

from cases.db import make_engine, make_session_factory
from web.hardening import data_error_response


def init_db(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["fengqiao.engine"] = engine
    app.extensions["fengqiao.sessions"] = make_session_factory(engine)
    app.after_request(_commit)
    app.teardown_request(_close)


def session_factory(app: Flask | None = None) -> sessionmaker[Session]:
    return (app or current_app).extensions["fengqiao.sessions"]


def db() -> Session:
    """The request's session (created on first use)."""
    if "db_session" not in g:
        g.db_session = session_factory()()
    return g.db_session


def discard_failed_request() -> None:
    """Before an error page: roll back this request's transaction now (not at teardown), unless it
    is to be kept (``commit_even_on_error``) and still usable. The page then reads the user and the
    header's counts from a clean transaction, and sends nothing the failed request had queued."""
    session: Session | None = g.get("db_session")
    if session is not None and (not g.get("commit_on_error") or not session.is_active):
        session.rollback()


def commit_even_on_error() -> None:
    """Keep this request's writes although it answers with an error (e.g. a failed login's audit)."""
    g.commit_on_error = True


def _commit(response: Response) -> Response:
    session: Session | None = g.get("db_session")
    if session is not None and (response.status_code < 400 or g.get("commit_on_error")):
        try:
            session.commit()  # on PostgreSQL this also sends the queued writes (``cases.write_behind``)
        except DataError:  # a value a queued write carried: answered as in a view (``web.hardening``)
            session.rollback()
            return data_error_response()
    return response


def _close(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.rollback()  # no-op after a commit; discards a failed request's work
        session.close()
