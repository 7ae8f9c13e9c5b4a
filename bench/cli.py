"""What every benchmark's command line shares: how it shows the command it
ran (for its section of BENCHMARKS.md) and how it reports progress."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def command_line(module: str, argv: Sequence[str]) -> str:
    """``python -m module argv…`` as typed, with the interpreter relative to the
    working directory when it is inside it (``.venv/bin/python``)."""
    python = Path(sys.executable)
    try:
        shown = str(python.relative_to(Path.cwd()))
    except ValueError:
        shown = str(python)
    return shlex.join([shown, "-m", module, *argv])


def say(message: str) -> None:
    """A progress line on standard error, with the time of day."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
