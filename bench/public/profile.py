"""With ``--profile``: py-spy's samples of the one API process, summarised by
package, by the service's functions and by library."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from bench.procs import (
    REPO,
)
from bench.public.wrk import WrkResult

PROFILE_RATE = 200
PY_SPY_HINT = "py-spy not found; for --profile: .venv/bin/pip install py-spy"
# Libraries the service calls: a sample counts for each one on its stack.
LIBRARIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("redis client", ("/redis/",)),
    ("SQLAlchemy", ("/sqlalchemy/",)),
    ("aiosqlite", ("/aiosqlite/",)),
    ("Jinja2", ("/jinja2/",)),
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("ipaddress", ("/ipaddress.py",)),
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*)\)$")
_STDLIB = re.compile(r"/lib/python3\.\d+/(?P<module>[^/]+?)(?:\.py)?(?:/|$)")
NO_FRAME = "(no Python frame: a greenlet switch or C code)"


@dataclass
class Profile:
    route: str
    samples: int
    busy: float  # share of the time a thread held the GIL
    rate: float  # req/s while profiled
    packages: list[tuple[str, float]]  # own time, by the package of the running function
    functions: list[tuple[str, float]]  # the service's functions, inclusive
    libraries: list[tuple[str, float]]  # inclusive


def _package(file: str) -> str:
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if f"{REPO}/" in file:
        return file.split(f"{REPO}/", 1)[1].split("/", 1)[0]
    if stdlib := _STDLIB.search(file):
        return stdlib.group("module")
    return file.removeprefix("<frozen ").removesuffix(">") or "?"


def summarise_profile(route: str, raw: str, result: WrkResult, possible: int) -> Profile:
    """py-spy's raw (collapsed) stacks: ``root;…;leaf COUNT`` per line.

    Recorded with ``--gil``: a sample is taken only while a thread holds the
    GIL, so ``samples / possible`` is how busy the interpreter was. Code run
    in SQLAlchemy's greenlets shows as stacks of their own, and a switch
    between them as an empty stack."""
    samples = 0
    packages: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    service = f"{REPO}/service/"
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [m for f in stack.split(";") if (m := _FRAME.match(f))]
        if not frames:
            packages[NO_FRAME] += n
            continue
        packages[_package(frames[-1].group("file"))] += n
        ours = {
            f"{m.group('function')} ({m.group('file').removeprefix(f'{REPO}/')})"
            for m in frames
            if m.group("file").startswith(service)
        }
        for name in ours:
            functions[name] += n
        files = {m.group("file") for m in frames}
        for name, markers in LIBRARIES:
            if any(marker in file for file in files for marker in markers):
                libraries[name] += n
    share = 1 / samples if samples else 0.0
    return Profile(
        route=route,
        samples=samples,
        busy=samples / possible if possible else 0.0,
        rate=result.rate,
        packages=[(name, k * share) for name, k in packages.most_common(8)],
        functions=[(name, k * share) for name, k in functions.most_common(8)],
        libraries=[(name, k * share) for name, k in libraries.most_common()],
    )
