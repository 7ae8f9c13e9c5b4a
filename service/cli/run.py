"""``consentry run``: migrate, then run the API, a queue worker and the inbound
mail server, plus a local Redis and mail catcher where the settings name none,
all supervised; Ctrl-C stops all of it.
"""

from __future__ import annotations

import argparse
import os
import signal
from contextlib import ExitStack, suppress
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlmodel import select

from service import running, supervise
from service.cli.common import interrupt, run_db
from service.cli.dkim import signing_line
from service.cli.servers import bounce_addresses
from service.embedded import EmbeddedRedis, MailCatcher, check_can_listen
from service.models import User
from service.observability import cli as status_commands
from service.observability.logs import configure_logging
from service.settings import Settings, get_settings

# uvicorn's own exit status when the server could not start (uvicorn.run).
UVICORN_STARTUP_FAILURE = 3


def _count_users(settings: Settings) -> int:
    async def work(session: Any) -> int:
        return int((await session.exec(select(func.count()).select_from(User))).one())

    return run_db(settings, work)


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


def cmd_run(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from service.app import create_app
    from service.inbound.server import InboundServer
    from service.migrate import upgrade

    # SIGTERM (kill, systemd, docker stop) must stop everything as Ctrl-C does:
    # its default action would end this process at once and leave the worker
    # and the embedded Redis, each in a session of its own, running. uvicorn
    # handles SIGTERM itself while serving and re-raises it once shut down.
    signal.signal(signal.SIGTERM, interrupt)
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
        lines.append(signing_line(settings))
        inbound_host, inbound_port = stack.enter_context(InboundServer(settings))
        lines.append(
            f"  inbound mail: {inbound_host}:{inbound_port}, for {settings.unsubscribe_address} "
            f"(unsubscribe) and {bounce_addresses(settings)} (delivery reports)"
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
