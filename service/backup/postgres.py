"""PostgreSQL: ``pg_dump`` and ``pg_restore``, and the schema set aside while restoring.

The tools must be at least as new as the server (an older pg_dump refuses
to run): they are taken from ``CONSENTRY_PG_BIN_DIR``, else from Debian's
``/usr/lib/postgresql/<version>/bin`` matching the server's major version
(or the nearest newer one), else from PATH. The connection comes from
``CONSENTRY_DATABASE_URL`` through libpq's environment variables: the
password never appears on a command line, where any local user could read it.

A restore never works on the data in place. ``set_aside`` renames the
schema ``public`` to ``consentry_pre_restore`` and makes an empty one;
pg_restore fills that in one transaction; the caller migrates it and
re-applies erasures, and drops the old schema in the same transaction as
that replay. Anything failing before then puts the old schema back: the
database is as it was.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from service.backup.fileformat import BackupError

DEBIAN_ROOT = Path("/usr/lib/postgresql")
SIDE_SCHEMA = "consentry_pre_restore"
# libpq reads these; inherited ones could point the tools at another server.
_LIBPQ_PREFIX = "PG"
# A table-of-contents line of `pg_restore --list`: "6; 2615 2200 SCHEMA - public owner".
_CREATE_PUBLIC = re.compile(r"^\d+; \d+ \d+ SCHEMA - public(\s|$)")


@dataclass(frozen=True, slots=True)
class Tools:
    pg_dump: Path
    pg_restore: Path


def _candidates(major: int, configured: Path | None) -> list[Path]:
    if configured is not None:
        return [configured]
    versions = sorted(
        (int(p.parent.name), p)
        for p in DEBIAN_ROOT.glob("*/bin")
        if p.parent.name.isdigit() and int(p.parent.name) >= major
    )
    # The server's own version first, then the nearest newer ones.
    found = [p for v, p in versions if v == major] + [p for v, p in versions if v != major]
    on_path = shutil.which("pg_dump")
    if on_path is not None:
        found.append(Path(on_path).parent)
    return found


def find_tools(server_major: int, configured: Path | None) -> Tools:
    for directory in _candidates(server_major, configured):
        tools = Tools(directory / "pg_dump", directory / "pg_restore")
        if tools.pg_dump.is_file() and tools.pg_restore.is_file():
            return tools
    where = configured or f"{DEBIAN_ROOT}/*/bin or PATH"
    raise BackupError(
        f"pg_dump and pg_restore (PostgreSQL {server_major} or newer) not found in {where}; "
        f"install postgresql-client-{server_major} or set CONSENTRY_PG_BIN_DIR"
    )


def libpq_env(database_url: str) -> dict[str, str]:
    """The environment that points libpq's tools at the database of the URL."""
    url = make_url(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LIBPQ_PREFIX)}
    query = {k: v if isinstance(v, str) else v[0] for k, v in url.query.items()}
    host = url.host or query.get("host")
    values = {
        "PGHOST": host,
        "PGPORT": str(url.port) if url.port else query.get("port"),
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
        "PGSSLMODE": query.get("sslmode") or query.get("ssl"),
        "PGAPPNAME": "consentry-backup",
    }
    env.update({k: str(v) for k, v in values.items() if v})
    return env


def _run(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(  # noqa: S603 - our own tool paths and fixed arguments
        command, env=env, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        # The first error line only: the lines after it (DETAIL, CONTEXT) can
        # quote row values, which are personal data.
        lines = [line for line in result.stderr.splitlines() if "error" in line.lower()]
        first = (lines or result.stderr.splitlines() or ["no message"])[0]
        raise BackupError(f"{Path(command[0]).name} failed: {first.strip()[:300]}")
    return result.stdout


def dump(tools: Tools, env: dict[str, str], target: Path) -> None:
    _run([str(tools.pg_dump), "--format=custom", "--no-password", f"--file={target}"], env)


def creates_public_schema(tools: Tools, env: dict[str, str], dump_file: Path) -> bool:
    """Whether the dump creates the schema ``public`` itself (a dump of a
    ``public`` that is not the default one does) or expects it to exist."""
    listing = _run([str(tools.pg_restore), "--list", str(dump_file)], env)
    return any(_CREATE_PUBLIC.search(line) for line in listing.splitlines())


def load(tools: Tools, env: dict[str, str], dump_file: Path) -> None:
    """Restore the dump into the (empty) schema ``public``, in one transaction.

    ``--no-owner``: the objects belong to the role restoring them, the one
    the service connects as, whatever the role that owned them before."""
    _run(
        [
            str(tools.pg_restore),
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-password",
            f"--dbname={env['PGDATABASE']}",
            str(dump_file),
        ],
        env,
    )


async def server_major(connection: AsyncConnection) -> int:
    number = int((await connection.execute(text("SHOW server_version_num"))).scalar_one())
    return number // 10_000


async def set_aside(connection: AsyncConnection, *, create_public: bool) -> None:
    """Rename ``public`` out of the way and leave an empty one with the same
    owner and grants (the caller commits)."""
    exists = text("SELECT 1 FROM pg_namespace WHERE nspname = :name")
    if (await connection.execute(exists, {"name": SIDE_SCHEMA})).first() is not None:
        raise BackupError(
            f"the schema {SIDE_SCHEMA} exists: an earlier restore was interrupted; "
            "see docs/backup.md before restoring again"
        )
    owner = (
        await connection.execute(
            text("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'")
        )
    ).scalar_one()
    grants = (
        await connection.execute(
            text(
                "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, "
                "a.privilege_type, a.is_grantable "
                "FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = 'public'"
            )
        )
    ).all()
    await connection.execute(text(f"ALTER SCHEMA public RENAME TO {SIDE_SCHEMA}"))
    if not create_public:
        return
    # Names from the catalogue, already quoted by ::regrole::text; the
    # privilege is USAGE or CREATE.
    await connection.execute(text(f"CREATE SCHEMA public AUTHORIZATION {owner}"))
    for grantee, privilege, grantable in grants:
        option = " WITH GRANT OPTION" if grantable else ""
        await connection.execute(text(f"GRANT {privilege} ON SCHEMA public TO {grantee}{option}"))


async def put_back(connection: AsyncConnection) -> None:
    """Undo ``set_aside``: drop whatever was restored, rename the old schema back."""
    await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
    await connection.execute(text(f"ALTER SCHEMA {SIDE_SCHEMA} RENAME TO public"))


DROP_SIDE_SCHEMA = text(f"DROP SCHEMA {SIDE_SCHEMA} CASCADE")
