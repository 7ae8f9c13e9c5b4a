"""A throwaway PostgreSQL server for the test suite and the benchmarks.

It uses Debian's PostgreSQL binaries (`apt-get install postgresql`), runs
initdb into a fresh temporary directory, listens on 127.0.0.1 only and is
tuned for speed, not durability (fsync off): the data is deleted on stop().

Set CONSENTRY_TEST_POSTGRES_URL (an SQLAlchemy URL such as
postgresql+asyncpg://user@host:5432/consentry_test) to use an existing server
instead; start() then returns that URL and nothing is started or removed.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from service.embedded import HOST, free_port

URL_ENV = "CONSENTRY_TEST_POSTGRES_URL"
DEBIAN_POSTGRES_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "consentry"
DATABASE = "consentry_test"


def find_postgres_bin(root: Path = DEBIAN_POSTGRES_ROOT) -> Path:
    """Return the bin directory of the highest PostgreSQL major version installed."""
    versions = [
        p for p in root.glob("*/bin") if p.parent.name.isdigit() and (p / "initdb").exists()
    ]
    if not versions:
        raise RuntimeError(
            f"no PostgreSQL server binaries under {root}; install Debian's `postgresql` "
            f"package or set {URL_ENV}"
        )
    return max(versions, key=lambda p: int(p.parent.name))


class TemporaryPostgres:
    """Start with start() (or `with`), which returns an SQLAlchemy asyncpg URL."""

    def __init__(self) -> None:
        self._base: Path | None = None
        self._bin: Path | None = None

    @property
    def data_dir(self) -> Path | None:
        """The cluster directory while the server exists, else None."""
        return None if self._base is None else self._base / "data"

    def start(self) -> str:
        external = os.environ.get(URL_ENV)
        if external:
            return external
        if self._base is not None:
            raise RuntimeError("the temporary PostgreSQL is already running")
        self._bin = find_postgres_bin()
        self._base = Path(tempfile.mkdtemp(prefix="consentry-pg-"))
        data = self._base / "data"
        port = free_port()
        server_options = [
            *("-c", f"listen_addresses={HOST}", "-p", str(port)),
            *("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
            # A socket in the data dir instead of /var/run/postgresql, which may
            # be missing or belong to the system cluster.
            *("-c", f"unix_socket_directories={data}"),
        ]
        try:
            if os.geteuid() == 0:
                # initdb refuses to run as root, and the server must own its data
                # directory, so the cluster belongs to the `postgres` system user.
                account = pwd.getpwnam("postgres")
                os.chown(self._base, account.pw_uid, account.pw_gid)
            self._run_as_owner(
                *("initdb", "-D", str(data), "-A", "trust", "-U", SUPERUSER),
                *("--no-sync", "-E", "UTF8", "--locale=C"),
            )
            self._run_as_owner(
                # pg_ctl hands -o to /bin/sh, hence the quoting.
                *("pg_ctl", "-D", str(data), "-o", shlex.join(server_options)),
                *("-w", "-t", "30", "start", "-l", str(data / "server.log")),
            )
            # createdb is a plain client over TCP with trust auth: no need to
            # switch user, and no event loop is involved (pytest has its own).
            createdb = str(self._bin / "createdb")
            self._run([createdb, "-h", HOST, "-p", str(port), "-U", SUPERUSER, DATABASE])
        except BaseException:
            self.stop()
            raise
        return f"postgresql+asyncpg://{SUPERUSER}@{HOST}:{port}/{DATABASE}"

    def stop(self) -> None:
        """Stop the server at once (no checkpoint) and delete its files; idempotent."""
        base = self._base
        if base is None:
            return
        try:
            if (base / "data" / "postmaster.pid").exists():
                self._run_as_owner("pg_ctl", "-D", str(base / "data"), "-m", "immediate", "stop")
        finally:
            self._base = None
            shutil.rmtree(base)

    def _run_as_owner(self, tool: str, *args: str) -> None:
        assert self._bin is not None
        command = [str(self._bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        self._run(command)

    def _run(self, command: list[str]) -> None:
        # The working directory must be readable by the postgres user, or the
        # tools complain that they cannot identify it.
        result = subprocess.run(
            command, cwd=self._base, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            log = ""
            if self.data_dir is not None and (self.data_dir / "server.log").exists():
                log = (self.data_dir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"{shlex.join(command)} failed with code {result.returncode}:\n"
                f"{result.stdout}{result.stderr}{log}"
            )

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
