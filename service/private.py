"""Files only the service's own user may read (issue 13 item 9).

The database and its WAL and shared-memory files, the outbox, exports, call
lists, backups, keys and the embedded Redis's data hold personal data or
secrets: each is created mode 0600 in a directory of mode 0700. Two layers:

* ``restrict_umask``, called once where the `consentry` command starts: every
  file the process (and its children: the worker, redis-server) creates
  without an explicit mode is private — including the ``-wal`` and ``-shm``
  files SQLite creates itself (SQLite also gives them the database file's
  own mode, which ``private_file`` sets);
* explicit modes where Consentry creates a file or directory itself
  (``private_dir``, ``private_file``), which hold whatever the umask of an
  entry point that is not the command (uvicorn's factory, arq) happens to be.

``tighten`` corrects what an older version left readable to others.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077
# SQLite's companions of a database file.
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def restrict_umask() -> None:
    os.umask(UMASK)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) mode 0700; an existing one is left as it is
    (``tighten`` fixes those at start-up, with a log line)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return path


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def open_private(path: Path, flags: int) -> int:
    """``os.open`` creating with mode 0600 (a file that exists keeps its mode)."""
    return os.open(path, flags | os.O_CREAT, FILE_MODE)


def sqlite_files(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in SQLITE_SUFFIXES]


def tighten(paths: Iterable[Path]) -> list[tuple[Path, int]]:
    """Take group and other permissions off each existing path; the ones
    changed, with their mode before."""
    changed = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.lstat().st_mode)
        except FileNotFoundError:
            continue
        if path.is_symlink() or not mode & 0o077:
            continue
        wanted = DIR_MODE if path.is_dir() else FILE_MODE
        os.chmod(path, mode & wanted)
        changed.append((path, mode))
    return changed


def installation_paths(var_dir: Path, database: Path | None, others: Iterable[Path]) -> list[Path]:
    """What `consentry` makes private at start: the var dir and what it keeps
    (keys, the embedded Redis's files, the outbox, process files), the SQLite
    database and its companions, and the other configured directories."""
    paths = [var_dir, *sorted(var_dir.glob("*"))] if var_dir.is_dir() else []
    redis = var_dir / "redis"
    if redis.is_dir():
        paths += sorted(redis.iterdir())
    if database is not None:
        paths += sqlite_files(database)
    return [*paths, *others]


def tighten_line(changed: list[tuple[Path, int]]) -> str | None:
    """One log line naming what ``tighten`` changed, or None."""
    if not changed:
        return None
    shown = ", ".join(f"{path} (was {mode:04o})" for path, mode in changed[:5])
    more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
    return f"made private to this user (0700 folders, 0600 files): {shown}{more}"
