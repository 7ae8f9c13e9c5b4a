"""The ``consentry`` command (CONTRACT.md, "Command line").

Every command validates its input and the settings first; a problem prints one
line, ``consentry: …``, and exits non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from contextlib import ExitStack, suppress
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError
from sqlmodel import select

from service import private, running, supervise
from service.api_tokens import cli as token_commands
from service.audit.chain import Event, append
from service.auth import login
from service.auth import service as auth_service
from service.backup import cli as backup_commands
from service.db import create_engine, create_sessionmaker, session_scope
from service.embedded import EmbeddedRedis, EmbeddedServiceError, MailCatcher, check_can_listen
from service.errors import DomainError
from service.exports import cli as export_commands
from service.imports import cli as import_commands
from service.models import User
from service.models.audit import AuditActor
from service.models.enums import Role
from service.notice import cli as notice_commands
from service.observability import cli as status_commands
from service.observability.logs import configure_logging
from service.robinson import cli as robinson_commands
from service.settings import Settings, SettingsError, get_settings

EXIT_USAGE = 2
EXIT_FAILED = 1
# uvicorn's own exit status when the server could not start (uvicorn.run).
UVICORN_STARTUP_FAILURE = 3
T = TypeVar("T")
logger = logging.getLogger("consentry.cli")


class CommandError(Exception):
    """A command cannot do what was asked; the message is the one line shown."""


def _fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    print(f"consentry: {message}", file=sys.stderr)
    raise SystemExit(code)


def _run_db(settings: Settings, work: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
    """Run ``work(session)`` in one committed transaction on a fresh engine."""

    async def main() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with session_scope(create_sessionmaker(engine)) as session:
                return await work(session)
        except (OperationalError, ProgrammingError) as exc:
            if "no such table" in str(exc) or "does not exist" in str(exc):
                raise CommandError(
                    "the database has no tables yet; run `consentry migrate`"
                ) from None
            raise
        finally:
            await engine.dispose()

    return asyncio.run(main())


# -- commands ---------------------------------------------------------------


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> None:
    from service.migrate import upgrade

    upgrade(settings.database_url)
    print("consentry: database is at the newest revision")


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise CommandError("the passwords differ")
    return first


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> None:
    password = _read_password()

    async def work(session: Any) -> User:
        return await auth_service.create_user(
            session, email=args.email, role=Role(args.role), password=password
        )

    user = _run_db(settings, work)
    print(f"consentry: user {user.email} added with role {user.role}")
    print(
        f"  sign in at {_sign_in_base(settings)}/app/login; "
        "the first sign-in sets up the second factor"
    )


def _sign_in_base(settings: Settings) -> str:
    """The configured public URL; without one, that of the `consentry run`
    (or `api`) running on this var dir, whose --port may not be the default."""
    if os.environ.get("CONSENTRY_PUBLIC_URL", "").strip():
        return settings.public_url
    return running.public_url_of_running_api(settings.var_dir) or settings.public_url


def _cli_event(action: str, args: argparse.Namespace, **details: Any) -> Event:
    """An audit row for a command run on the server (its operator has no staff id)."""
    command = f"consentry {args.command} {getattr(args, 'user_command', '')}".strip()
    return Event(
        actor=AuditActor.SYSTEM,
        action=action,
        method="CLI",
        route=command,
        status_code=200,
        details=details,
    )


def cmd_user_reset_second_factor(settings: Settings, args: argparse.Namespace) -> None:
    async def work(session: Any) -> None:
        user = await auth_service.get_user_by_email(session, args.email)
        await login.reset_second_factor(session, user=user)
        await append(session, _cli_event("user.second_factor_reset", args, user_id=user.id))

    _run_db(settings, work)
    print(
        f"consentry: second factor of {args.email} removed and its sessions ended; "
        "the next sign-in sets up a new one"
    )


def cmd_user_unlock(settings: Settings, args: argparse.Namespace) -> None:
    async def work(session: Any) -> None:
        user = await auth_service.get_user_by_email(session, args.email)
        await login.unlock(session, user=user)
        await append(session, _cli_event("user.unlock", args, user_id=user.id))

    _run_db(settings, work)
    print(f"consentry: failed sign-ins of {args.email} forgotten; it may sign in again")


# `consentry worker` waiting for a Redis that went away: 1, 2, 4, 5, 5… s.
REDIS_RETRY_FIRST_SECONDS = 1.0
REDIS_RETRY_MAX_SECONDS = 5.0


def cmd_worker(settings: Settings, _: argparse.Namespace) -> None:
    import uvloop
    from arq.worker import create_worker

    from workers.settings import WorkerSettings, functions, on_shutdown, redis_settings

    if settings.redis_url is None:
        raise CommandError(
            "CONSENTRY_REDIS_URL: required for `consentry worker` "
            "(`consentry run` starts a local Redis by itself)"
        )
    # arq's own command sets up its logging; run programmatically, we do it.
    configure_logging(settings.log_format, hooks=True)
    # A send worker is event-loop bound (four SMTP conversations and a Redis
    # journal write per message); uvloop's loop does that work with less CPU.
    uvloop.install()
    with running.registered(settings.var_dir, "worker"):
        pause = REDIS_RETRY_FIRST_SECONDS
        while True:
            started = time.monotonic()
            worker = create_worker(
                WorkerSettings,  # type: ignore[arg-type]
                redis_settings=redis_settings(settings.redis_url),
                functions=functions(settings.send_job_timeout),
                job_timeout=settings.send_job_timeout,
            )
            try:
                worker.run()
                return
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                # Redis went away (or is not up yet). Batches in flight have
                # stopped and recorded what the relay accepted; nothing is
                # sent until Redis answers again, and a dead worker's jobs
                # are reclaimed by lease (service.queue). arq gave up before
                # its on_shutdown: stop what on_startup started, or this
                # instance's lease would live on and hold its jobs for good.
                if "lease" in worker.ctx:
                    worker.loop.run_until_complete(on_shutdown(worker.ctx))
                if time.monotonic() - started > 60:
                    pause = REDIS_RETRY_FIRST_SECONDS
                logger.warning(
                    "consentry worker: Redis is unavailable (%s); trying again in %.0f s",
                    type(exc).__name__,
                    pause,
                )
                time.sleep(pause)
                pause = min(REDIS_RETRY_MAX_SECONDS, pause * 2)


def cmd_api(settings: Settings, args: argparse.Namespace) -> None:
    """The API alone, in N uvicorn worker processes: production-style, beside
    `consentry worker`s and one `consentry migrate` (docs/scaling.md)."""
    import uvicorn

    from service.migrate import is_current

    if args.workers < 1:
        raise CommandError("--workers: at least 1")
    if settings.redis_url is None:
        # Without a shared queue each process would have none: sends, imports
        # and public events would never reach a worker.
        raise CommandError(
            "CONSENTRY_REDIS_URL: required for `consentry api` "
            "(`consentry run` starts a local Redis by itself)"
        )
    try:
        migrated = asyncio.run(is_current(settings.database_url))
    except (OSError, SQLAlchemyError) as exc:
        raise CommandError(f"cannot read the database ({type(exc).__name__})") from None
    if not migrated:
        raise CommandError("the database is not at the newest revision; run `consentry migrate`")
    check_can_listen(args.host, args.port)
    configure_logging(settings.log_format, hooks=True)
    # An import string and a factory: each worker process builds its own app
    # (engine, Redis pool) from the same environment.
    with running.registered(settings.var_dir, "api", public_url=settings.public_url):
        uvicorn.run(
            "service.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            forwarded_allow_ips=args.forwarded_allow_ips,
            access_log=False,
            log_level="info",
            log_config=None,
        )


def cmd_inbound(settings: Settings, _: argparse.Namespace) -> None:
    from service.inbound.server import InboundServer
    from service.migrate import is_current

    # As for `run`: SIGTERM (systemd, docker stop) stops it as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        migrated = asyncio.run(is_current(settings.database_url))
    except (OSError, SQLAlchemyError) as exc:
        raise CommandError(f"cannot read the database ({type(exc).__name__})") from None
    if not migrated:
        raise CommandError("the database is not at the newest revision; run `consentry migrate`")
    configure_logging(settings.log_format, hooks=True)
    with running.registered(settings.var_dir, "inbound"), InboundServer(settings) as (host, port):
        print(
            f"consentry: receiving mail on {host}:{port} for {settings.unsubscribe_address} "
            f"(unsubscribe) and {_bounce_addresses(settings)} (delivery reports); "
            "Ctrl-C stops",
            flush=True,
        )
        try:
            while True:
                signal.pause()
        except KeyboardInterrupt:
            pass
    print("consentry: stopped", flush=True)


def cmd_retention_plan(settings: Settings, args: argparse.Namespace) -> None:
    from service.retention import cli as retention_cli
    from service.retention.plan import plan

    try:
        as_of = retention_cli.parse_as_of(args.as_of)
    except ValueError as exc:
        _fail(f"--as-of: {exc}", EXIT_USAGE)

    async def work(session: Any) -> Any:
        return await plan(session, as_of=as_of, settings=settings)

    result = _run_db(settings, work)
    print(result.model_dump_json(indent=2) if args.json else retention_cli.plan_table(result))


def cmd_retention_run(settings: Settings, args: argparse.Namespace) -> None:
    from service.retention import cli as retention_cli

    async def work(session: Any) -> Any:
        # Each item needs a transaction of its own: a sessionmaker on the
        # engine of this (otherwise unused) session.
        return await retention_cli.run_today(create_sessionmaker(session.bind), settings)

    report = _run_db(settings, work)
    print(report.model_dump_json(indent=2) if args.json else retention_cli.run_table(report))
    if report.failed:
        raise CommandError(
            f"{report.failed} retention action(s) failed; the next run tries them again"
        )


def _anchor(value: str) -> tuple[int, str]:
    number, _, digest = value.partition(":")
    if (
        not number.isdigit()
        or len(digest) != 64
        or not all(c in "0123456789abcdef" for c in digest)
    ):
        raise argparse.ArgumentTypeError("expected ID:SHA256, as `audit verify` prints it")
    return int(number), digest


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> None:
    from service.audit.verify import verify

    async def work(session: Any) -> Any:
        return await verify(session, anchor=args.anchor)

    result = _run_db(settings, work)
    if not result.intact:
        raise CommandError(f"audit trail broken at event #{result.broken_id}: {result.problem}")
    print(f"audit trail intact: {result.events} events")
    if result.newest_id is not None:
        # Noted down elsewhere, it lets a later run (--anchor) tell a cut-off tail.
        print(f"newest: {result.newest_id}:{result.newest_hash}")


def _bounce_addresses(settings: Settings) -> str:
    return " and ".join(dict.fromkeys([settings.mail_from_address, settings.bounce_address]))


def _count_users(settings: Settings) -> int:
    async def work(session: Any) -> int:
        return int((await session.exec(select(func.count()).select_from(User))).one())

    return _run_db(settings, work)


def _public_url_follows(settings: Settings, args: argparse.Namespace) -> Settings:
    """Without CONSENTRY_PUBLIC_URL, links point where `run` listens
    (--host, --port), in this process and in the worker it starts."""
    if os.environ.get("CONSENTRY_PUBLIC_URL", "").strip():
        return settings
    host = "127.0.0.1" if args.host in ("", "0.0.0.0", "::") else args.host  # noqa: S104
    netloc = f"[{host}]:{args.port}" if ":" in host else f"{host}:{args.port}"
    os.environ["CONSENTRY_PUBLIC_URL"] = f"http://{netloc}"
    get_settings.cache_clear()
    return get_settings()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def cmd_run(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from service.app import create_app
    from service.inbound.server import InboundServer
    from service.migrate import upgrade

    # SIGTERM (kill, systemd, docker stop) must stop everything as Ctrl-C does:
    # its default action would end this process at once and leave the worker
    # and the embedded Redis, each in a session of its own, running. uvicorn
    # handles SIGTERM itself while serving and re-raises it once shut down.
    signal.signal(signal.SIGTERM, _interrupt)
    configure_logging(settings.log_format, hooks=True)
    check_can_listen(args.host, args.port)
    settings = _public_url_follows(settings, args)
    upgrade(settings.database_url)
    env = dict(os.environ)
    lines = [f"  database: {make_url(settings.database_url).render_as_string(hide_password=True)}"]
    supervised: list[supervise.Supervised] = []
    with ExitStack() as stack:
        # Before anything connects: its connections announce the role too.
        stack.enter_context(
            running.registered(settings.var_dir, "api", public_url=settings.public_url)
        )
        if settings.redis_url is None:
            redis = EmbeddedRedis(settings.var_dir / "redis")
            env["CONSENTRY_REDIS_URL"] = stack.enter_context(redis)
            supervised.append(
                supervise.Supervised(
                    "the embedded Redis", redis, how=lambda: supervise.ended(redis.returncode)
                )
            )
            # For `consentry status`, which cannot guess the port.
            redis_url = env["CONSENTRY_REDIS_URL"]
            stack.enter_context(status_commands.embedded_redis_note(settings.var_dir, redis_url))
            lines.append(f"  queue: embedded Redis at {env['CONSENTRY_REDIS_URL']}")
        else:
            lines.append("  queue: Redis at CONSENTRY_REDIS_URL")
        if settings.smtp_host is None:
            catcher = MailCatcher(settings.var_dir / "outbox")
            host, port = stack.enter_context(catcher)
            supervised.append(
                supervise.Supervised("the mail catcher", catcher, how=lambda: "its thread ended")
            )
            env.update(
                CONSENTRY_SMTP_HOST=host, CONSENTRY_SMTP_PORT=str(port), CONSENTRY_SMTP_TLS="none"
            )
            lines.append(f"  mail: caught, not delivered; kept in {catcher.outbox}/")
        else:
            lines.append(f"  mail: relayed through {settings.smtp_host}:{settings.smtp_port}")
        inbound_host, inbound_port = stack.enter_context(InboundServer(settings))
        lines.append(
            f"  inbound mail: {inbound_host}:{inbound_port}, for {settings.unsubscribe_address} "
            f"(unsubscribe) and {_bounce_addresses(settings)} (delivery reports)"
        )
        worker = stack.enter_context(supervise.WorkerProcess(env))
        supervised.append(
            supervise.Supervised(
                "the queue worker",
                worker,
                how=worker.how,
                max_delay=supervise.WORKER_MAX_DELAY_SECONDS,
            )
        )
        # The API process sees what the worker sees.
        os.environ.update(env)
        get_settings.cache_clear()
        app = create_app(get_settings())
        url = f"http://{args.host}:{args.port}"
        print(f"Consentry is starting on {url} (API docs: {url}/schema/swagger)", flush=True)
        print("\n".join(lines), flush=True)
        if _count_users(settings) == 0:
            print(
                "No staff user yet. In another terminal, create one:\n"
                "  .venv/bin/consentry user add you@example.com --role admin\n"
                f"then sign in at {settings.public_url}/app/login "
                "(the first sign-in sets up the second factor),\n"
                "or issue an API token for scripts:\n"
                "  TOKEN=$(.venv/bin/consentry token issue you@example.com)",
                flush=True,
            )
        # log_config=None: the app's own logging (service.observability) stays.
        config = uvicorn.Config(
            app, host=args.host, port=args.port, access_log=False, log_level="info", log_config=None
        )
        # A Server of our own rather than uvicorn.run(): the supervisor asks it
        # whether a signal came, and restarts nothing from then on.
        server = uvicorn.Server(config)
        supervisor = supervise.Supervisor(supervised, stopping=lambda: server.should_exit)
        with supervisor.running(), suppress(KeyboardInterrupt):
            # uvicorn re-raises a caught SIGINT/SIGTERM once it has shut down.
            server.run()
        if not server.started:
            raise SystemExit(UVICORN_STARTUP_FAILURE)
    print("consentry: stopped", flush=True)


# -- parsing ----------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="consentry", description="Consentry: a consent-gated marketing register."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="migrate, then run the API, a worker and local services")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.set_defaults(handler=cmd_run)

    commands.add_parser("migrate", help="apply database migrations").set_defaults(
        handler=cmd_migrate
    )
    commands.add_parser("worker", help="run queue workers only").set_defaults(handler=cmd_worker)
    api = commands.add_parser(
        "api", help="serve the API only, in one or more processes (no embedded services)"
    )
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1, help="API processes (default 1)")
    api.add_argument(
        "--forwarded-allow-ips",
        default=None,
        metavar="IPS",
        help="proxies whose X-Forwarded-For is trusted (default: uvicorn's, 127.0.0.1)",
    )
    api.set_defaults(handler=cmd_api)
    commands.add_parser(
        "inbound", help="receive mailto unsubscribes and delivery reports by SMTP"
    ).set_defaults(handler=cmd_inbound)

    user = commands.add_parser("user", help="staff users").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    add = user.add_parser("add", help="add a staff user (password from stdin or a prompt)")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.set_defaults(handler=cmd_user_add)
    reset = user.add_parser(
        "reset-second-factor",
        help="remove a user's second factor (lost phone); the next sign-in enrols a new one",
    )
    reset.add_argument("email")
    reset.set_defaults(handler=cmd_user_reset_second_factor)
    unlock = user.add_parser(
        "unlock", help="forget a user's failed sign-ins so a locked account may sign in again"
    )
    unlock.add_argument("email")
    unlock.set_defaults(handler=cmd_user_unlock)

    retention = commands.add_parser(
        "retention", help="the privacy notice's retention rules"
    ).add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    retention_plan = retention.add_parser(
        "plan", help="list every action the retention rules call for on a date; changes nothing"
    )
    retention_plan.add_argument(
        "--as-of", default=None, metavar="YYYY-MM-DD", help="the date (default: today)"
    )
    retention_plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    retention_plan.set_defaults(handler=cmd_retention_plan)
    retention_run = retention.add_parser("run", help="carry out today's retention plan")
    retention_run.add_argument("--json", action="store_true", help="print the report as JSON")
    retention_run.set_defaults(handler=cmd_retention_run)

    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION"
    )
    audit_verify = audit.add_parser(
        "verify",
        help="walk the audit trail's hash chain; exit 1 at the first changed or lost event",
    )
    audit_verify.add_argument(
        "--anchor",
        type=_anchor,
        default=None,
        metavar="ID:SHA256",
        help="an event noted from an earlier run: fail unless it is still there, unchanged",
    )
    audit_verify.set_defaults(handler=cmd_audit_verify)

    token_commands.add_commands(commands, _run_db)
    backup_commands.add_commands(commands)
    import_actions = import_commands.add_commands(commands)
    robinson_commands.add_commands(import_actions, _run_db)
    export_commands.add_commands(commands, _run_db)
    status_commands.add_commands(commands, _run_db)
    notice_commands.add_commands(commands)
    return parser


def _make_private(settings: Settings) -> None:
    """What an older version (or another umask) left readable to others is
    made private now, with one line saying what."""
    database = make_url(settings.database_url)
    sqlite_file = (
        Path(database.database)
        if database.get_backend_name() == "sqlite" and database.database not in (None, ":memory:")
        else None
    )
    others = [settings.backup_dir, settings.profile_transfer_dir]
    try:
        changed = private.tighten(private.installation_paths(settings.var_dir, sqlite_file, others))
    except OSError as exc:  # not our file, say: the command itself will tell
        print(f"consentry: cannot make {exc.filename} private: {exc.strerror}", file=sys.stderr)
        return
    line = private.tighten_line(changed)
    if line is not None:
        print(f"consentry: {line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    # Whatever this process and its children create without a mode of its
    # own (SQLite's WAL and shared-memory files, Redis's dump) is private.
    private.restrict_umask()
    args = build_parser().parse_args(argv)
    if getattr(args, "port", 1) not in range(1, 65536):
        _fail("--port: must be a port number from 1 to 65535", EXIT_USAGE)
    if getattr(args, "expires_in_days", None) is not None and args.expires_in_days < 1:
        _fail("--expires-in-days: must be at least 1", EXIT_USAGE)
    try:
        settings = get_settings()
    except SettingsError as exc:
        _fail(str(exc), EXIT_USAGE)
    _make_private(settings)
    try:
        args.handler(settings, args)
    except (CommandError, DomainError, EmbeddedServiceError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
