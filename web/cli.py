"""The ``fengqiao`` command. Each command commits once, at its top; errors exit non-zero with a
message, never a traceback."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from web.config import load_config


def _config() -> dict[str, Any]:
    return load_config()


@contextmanager
def _session(commit: bool = True) -> Iterator[Session]:
    from cases.db import make_engine, make_session_factory

    engine = make_engine(_config()["DATABASE_URL"])
    session = make_session_factory(engine)()
    try:
        yield session
        if commit:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        engine.dispose()


@click.group()
def cli() -> None:
    """Fengqiao: BPMN-guided grassroots dispute mediation."""


def main() -> None:
    """Console entry point: database and OS errors end with a message, never a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        cli()
    except SQLAlchemyError as exc:
        click.echo(f"database error: {exc.__class__.__name__}: {str(exc).splitlines()[0]}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 -- a command line never shows a traceback
        click.echo(f"internal error: {exc.__class__.__name__}: {exc}", err=True)
        sys.exit(2)


@cli.command()
@click.option("--demo", is_flag=True, help="Load demo data when the database is empty.")
def init(demo: bool) -> None:
    """Create or upgrade the database, deploy the shipped diagrams, optionally load demo data."""
    from cases.migrate import upgrade
    from web.demo import DEMO_PASSWORD, DEMO_USERS, is_empty, load_demo
    from workflows.deploy import DeployError, deploy, read_bundle, read_forms

    cfg = _config()
    upgrade(cfg["DATABASE_URL"])
    click.echo(f"database ready: {_redact(cfg['DATABASE_URL'])}")
    with _session() as session:
        try:
            created = deploy(session, read_bundle([cfg["BPMN_DIR"]]), read_forms(cfg["FORMS_DIR"]),
                             unless_seen=True)
        except DeployError as exc:
            for line in exc.lines:
                click.echo(f"not deployed: {line}", err=True)
            created = []
        for v in created:
            click.echo(f"deployed {v.process_id} v{v.version}")
        if demo and is_empty(session):
            load_demo(session)
            click.echo("demo data loaded")
    if demo:
        click.echo(f"demo logins (password '{DEMO_PASSWORD}'): {', '.join(u for u, *_ in DEMO_USERS)}")


@cli.command()
@click.option("--host", default=lambda: os.environ.get("FENGQIAO_HOST", "127.0.0.1"))
@click.option("--port", type=int, default=lambda: int(os.environ.get("FENGQIAO_PORT", "5000")))
@click.option("--workers", type=int, default=lambda: int(os.environ.get("FENGQIAO_WORKERS", "1")),
              help="Worker processes (more than one needs PostgreSQL to pay off).")
@click.option("--threads", type=int, default=lambda: int(os.environ.get("FENGQIAO_THREADS", "4")),
              help="Threads per worker running requests.")
@click.option("--access-log/--no-access-log", default=lambda: os.environ.get("FENGQIAO_ACCESS_LOG", "1") != "0",
              help="Log every request (FENGQIAO_ACCESS_LOG=0 turns it off).")
def serve(host: str, port: int, workers: int, threads: int, access_log: bool) -> None:
    """Serve the web app with Granian (WSGI), the in-process timer sweep running in each worker."""
    from granian import Granian
    from granian.constants import Interfaces

    for name, value in (("workers", workers), ("threads", threads)):
        if value < 1:
            raise click.UsageError(f"--{name} must be at least 1 (got {value})")
    _check_port_free(host, port)
    os.environ["FENGQIAO_RUN_TIMER_SWEEP"] = "1"  # read by each worker's create_app (web.wsgi)
    click.echo(f"Fengqiao on http://{host}:{port}/ (Granian, {workers} worker(s) × {threads} threads)")
    Granian("web.wsgi:app", address=host, port=port, interface=Interfaces.WSGI, workers=workers,
            blocking_threads=threads, runtime_threads=1, websockets=False, log_access=access_log,
            respawn_failed_workers=True).serve()


def _check_port_free(host: str, port: int) -> None:
    """A clear error before the server starts, instead of the server's own failure report."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {host}: {exc}") from None
    family, _type, _proto, _name, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); is another server running? "
                "Choose another port with --port or FENGQIAO_PORT.") from None


@cli.command()
@click.option("--interval", type=float, default=5.0, show_default=True)
@click.option("--once", is_flag=True, help="Sweep once and exit.")
def worker(interval: float, once: bool) -> None:
    """Fire due timers (safe to run in several processes on PostgreSQL)."""
    import time

    from cases.db import make_engine, make_session_factory
    from workflows.timers import sweep

    engine = make_engine(_config()["DATABASE_URL"])
    factory = make_session_factory(engine)
    try:
        while True:
            fired = sweep(factory)
            if fired:
                click.echo(f"fired timers of {fired} case(s)")
            if once:
                return
            time.sleep(interval)
    finally:
        engine.dispose()


def _form_folders(paths: tuple[str, ...], extra: tuple[str, ...]) -> list[Path]:
    """The configured form folder, a ``forms/`` folder beside given diagram folders, and --forms."""
    folders = [Path(_config()["FORMS_DIR"])]
    for p in map(Path, paths):
        if p.is_dir() and (p / "forms").is_dir():
            folders.append(p / "forms")
    folders.extend(Path(e) for e in extra)
    return folders


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable list.")
@click.option("--forms", "forms_dirs", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Another folder of form definitions (repeatable).")
def validate(paths: tuple[str, ...], as_json: bool, forms_dirs: tuple[str, ...]) -> None:
    """Check diagrams without running them: one verdict per file; exit 0 only if all deployable."""
    from forms.definition import load_directory
    from workflows.validation import validate_paths

    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise click.ClickException(f"no such file or directory: {', '.join(missing)}")
    form_keys: set[str] = set()
    for folder in _form_folders(paths, forms_dirs):
        try:
            form_keys |= set(load_directory(folder))
        except Exception as exc:
            raise click.ClickException(f"form definitions: {exc}") from exc
    verdicts = validate_paths(list(paths), form_keys=form_keys)
    if as_json:
        click.echo(json.dumps([v.to_json() for v in verdicts], ensure_ascii=False, indent=2))
    else:
        for v in verdicts:
            click.echo(f"{v.path}: {v.line()}")
    sys.exit(0 if verdicts and all(v.status == "ok" for v in verdicts) else 1)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
def deploy(paths: tuple[str, ...]) -> None:
    """Validate and deploy diagrams as new process versions (running cases keep theirs)."""
    from workflows.deploy import DeployError, read_bundle, read_forms
    from workflows.deploy import deploy as do_deploy

    forms: dict[str, Any] = {}
    for folder in _form_folders(paths, ()):
        forms.update(read_forms(folder))
    with _session() as session:
        try:
            created = do_deploy(session, read_bundle(list(paths)), forms,
                                deployed_by=os.environ.get("USER", "cli"))
        except DeployError as exc:
            for line in exc.lines:
                click.echo(f"error: {line}", err=True)
            sys.exit(1)
        except (OSError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
        for v in created:
            click.echo(f"deployed {v.process_id} v{v.version} ({v.sha256[:12]})")
        if not created:
            click.echo("nothing new to deploy")


@cli.group()
def audit() -> None:
    """Audit trail tools."""


@audit.command("verify")
@click.option("--case", "case_number", help="Case number such as 2026-0001.")
def audit_verify(case_number: str | None) -> None:
    """Recompute every hash chain; exit non-zero naming the first broken event."""
    from cases.audit import verify_chains
    from cases.models import Case

    with _session(commit=False) as session:
        case_id = None
        if case_number:
            case = session.scalar(select(Case).where(Case.number == case_number))
            if case is None:
                raise click.ClickException(f"no case numbered {case_number}")
            case_id = case.id
        checked, breaks = verify_chains(session, case_id)
    if breaks:
        for b in breaks:
            click.echo(f"BROKEN {b}", err=True)
        sys.exit(1)
    click.echo(f"ok: {checked} chain(s) verified")


@audit.command("verify-export")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def audit_verify_export(path: Path) -> None:
    """Check a case-file export offline (no database): manifest sums and the audit chain."""
    from documents.export import verify_export_zip

    problems = verify_export_zip(path.read_bytes())
    if problems:
        for problem in problems:
            click.echo(f"MISMATCH {problem}", err=True)
        sys.exit(1)
    click.echo(f"ok: {path.name} matches its manifest and its audit chain verifies")


def _case_by_number(session: Session, number: str, county: str | None = None) -> Any:
    from cases.models import Case, OrgUnit

    query = select(Case).where(Case.number == number)
    if county:
        query = query.join(OrgUnit, Case.county_id == OrgUnit.id).where(OrgUnit.code == county)
    found = list(session.scalars(query))
    if not found:
        raise click.ClickException(f"no case numbered {number}" + (f" in county {county}" if county else ""))
    if len(found) > 1:
        raise click.ClickException(f"{len(found)} counties have a case numbered {number}: add --county CODE")
    return found[0]


@cli.command()
@click.argument("case_number")
@click.argument("kind")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True,
              help="Where to write the PDF.")
@click.option("--lang", type=click.Choice(["zh", "en"]), help="Document language (default: the case's).")
@click.option("--user", "username", help="Generate as this user (their permission is checked); default: system.")
@click.option("--county", help="County org unit code, when case numbers repeat across counties.")
def document(case_number: str, kind: str, output: Path, lang: str | None, username: str | None,
             county: str | None) -> None:
    """Generate a document of a case from its data, store it as a new version and write the PDF."""
    from documents.completeness import IncompleteDocumentError
    from documents.kinds import KINDS
    from web.casefile import service
    from workflows.errors import WorkflowServiceError

    if kind not in KINDS:
        raise click.ClickException(f"unknown document kind '{kind}'; expected one of: {', '.join(KINDS)}")
    with _session() as session:
        case = _case_by_number(session, case_number, county)
        user = _user_by_name(session, username)
        try:
            doc = service.generate(session, case, kind, user, lang, ui_lang=lang or case.language)
        except IncompleteDocumentError as exc:
            click.echo(f"{kind} of case {case.number} cannot be generated; missing:", err=True)
            for line in exc.missing:
                click.echo(f"  {line}", err=True)
            sys.exit(1)
        except WorkflowServiceError as exc:
            raise click.ClickException(exc.message) from exc
        content, name, version, sha, pages = doc.content, doc.filename, doc.version, doc.sha256, doc.page_count
    output.write_bytes(content)  # after the commit: no file for a version that was not stored
    click.echo(f"{output}: {name} version {version}, {pages} page(s), sha256 {sha}")


@cli.command("export")
@click.argument("case_number")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True,
              help="Where to write the zip.")
@click.option("--user", "username", help="Export as this user (their permission is checked); default: system.")
@click.option("--county", help="County org unit code, when case numbers repeat across counties.")
def export_case(case_number: str, output: Path, username: str | None, county: str | None) -> None:
    """Export a case file: every document (latest versions), the audit chain and a SHA-256 manifest.
    The export is audited on the case's chain."""
    from web.casefile import service
    from workflows.errors import WorkflowServiceError

    folder = output.resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):  # before the export is audited
        raise click.ClickException(f"cannot write {output}: {folder} is not a writable folder")
    with _session() as session:
        case = _case_by_number(session, case_number, county)
        try:
            data = service.export_zip(session, case, _user_by_name(session, username))
        except WorkflowServiceError as exc:
            raise click.ClickException(exc.message) from exc
        kinds = len({d.kind for d in service.list_documents(session, case)})
    output.write_bytes(data)  # after the commit: no file leaves without its audit event
    click.echo(f"{output}: case {case_number}, {kinds} document(s) (latest versions), audit chain, manifest")


@cli.command()
@click.argument("case_number")
@click.option("--to", "to_version", type=click.IntRange(min=1),
              help="Target version number (default: the latest version of the case's process).")
@click.option("--dry-run", is_flag=True, help="Print the plan without migrating.")
@click.option("--user", "username", help="Migrate as this user (must be an admin); default: the operator.")
@click.option("--county", help="County org unit code, when case numbers repeat across counties.")
def migrate(case_number: str, to_version: int | None, dry_run: bool, username: str | None,
            county: str | None) -> None:
    """Move a running case to another deployed version of its process; exit 1 when refused."""
    from workflows.errors import Conflict, WorkflowServiceError
    from workflows.migration import check_migration, migrate_case, version_by_number
    from workflows.models import WorkflowInstance

    with _session(commit=not dry_run) as session:
        case = _case_by_number(session, case_number, county)
        wi = session.get(WorkflowInstance, case.id)
        if wi is None:
            raise click.ClickException(f"case {case_number} has no workflow")
        user = _user_by_name(session, username)
        try:
            target = (version_by_number(session, wi.process_version.process_id, to_version)
                      if to_version else None)
            if dry_run:
                plan = check_migration(session, case, target)
            else:
                plan = migrate_case(session, case=case, user=user, target=target,
                                    operator=os.environ.get("USER", "cli"))
        except Conflict as exc:
            plan = check_migration(session, case, target)
            for line in plan.lines() if plan.reasons else [exc.message]:
                click.echo(line, err=True)
            session.rollback()
            sys.exit(1)
        except WorkflowServiceError as exc:
            raise click.ClickException(exc.message) from exc
    for line in plan.lines():
        click.echo(line)
    if not plan.can_migrate:
        sys.exit(1)


@cli.group()
def users() -> None:
    """User administration."""


@users.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True,
              help="ROLE@ORG_UNIT_CODE, e.g. mediator@village (repeatable).")
@click.option("--name", "display_name")
@click.option("--language", type=click.Choice(["zh", "en"]), default="zh")
@click.password_option()
def users_add(username: str, roles: tuple[str, ...], display_name: str | None, language: str,
              password: str) -> None:
    """Add a user with one or more role@unit memberships."""
    from cases.models import OrgUnit
    from cases.roles import Role
    from cases.services import DomainError, create_user

    if _config()["FENGQIAO_ENV"] == "production" and password == "demo":
        raise click.ClickException("the demo password is refused in production")
    with _session() as session:
        memberships = []
        for spec in roles:
            role, _, code = spec.partition("@")
            if role not in {r.value for r in Role}:
                raise click.ClickException(f"unknown role '{role}' in '{spec}'")
            unit = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
            if unit is None:
                raise click.ClickException(f"unknown org unit '{code}' in '{spec}'")
            memberships.append((role, unit))
        try:
            create_user(session, username=username, password=password, display_name=display_name,
                        language=language, memberships=memberships)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
    click.echo(f"user {username} added")


@cli.group()
def holidays() -> None:
    """The working-day calendar used by working-day clocks (public holidays and 调休 make-up days).

    Only weekends are non-working by default; add the official holidays of each year here."""


@holidays.command("list")
def holidays_list() -> None:
    from cases.models import Holiday

    with _session(commit=False) as session:
        rows = session.scalars(select(Holiday).order_by(Holiday.day)).all()
        for h in rows:
            click.echo(f"{h.day}  {'working day (调休)' if h.is_workday else 'holiday'}  {h.name}")
        if not rows:
            click.echo("no holidays recorded: only weekends are non-working days")


@holidays.command("add")
@click.argument("day")
@click.option("--workday", is_flag=True, help="A make-up working day (调休) that falls on a weekend.")
@click.option("--name", default="", help="e.g. 春节")
def holidays_add(day: str, workday: bool, name: str) -> None:
    from cases.audit import Actor
    from cases.services import DomainError, set_calendar_day

    with _session() as session:
        try:
            set_calendar_day(session, actor=Actor(None, os.environ.get("USER", "cli"), "admin"), day=day,
                             is_workday=workday, name=name)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
    click.echo(f"{day}: {'working day' if workday else 'holiday'} recorded")


@holidays.command("remove")
@click.argument("day")
def holidays_remove(day: str) -> None:
    from cases.audit import Actor
    from cases.services import remove_calendar_day

    with _session() as session:
        found = remove_calendar_day(session, actor=Actor(None, os.environ.get("USER", "cli"), "admin"), day=day)
    if not found:
        raise click.ClickException(f"{day} is not in the calendar")
    click.echo(f"{day} removed")


def _user_by_name(session: Session, username: str | None) -> Any:
    """The named user, or None when no name was given; an unknown name is a clear error."""
    if not username:
        return None
    from cases.models import User

    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user '{username}'")
    return user


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    main()
