"""Formatting helpers and the BENCHMARKS.md section writer shared by benchmarks."""

from __future__ import annotations

import os
import platform
import re
import shutil
import statistics
import subprocess
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

FILE_INTRO = (
    "# Benchmarks\n\n"
    "Measured numbers, each section written by the benchmark that produced it (its command\n"
    "is in the section). Re-running a benchmark replaces its own section only.\n"
)


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "unknown"
    return {
        "load": load,
        "nproc": str(os.cpu_count() or "?"),
        "cpu": model,
        "memory": memory,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def machine_line(
    machine: dict[str, str], started: datetime, seconds: float, load_after: str
) -> str:
    """The machine and the run's time and load, as every section states them."""
    m = machine
    return (
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, Python {m['python']}, "
        f"Linux {m['kernel']}. Run {started:%Y-%m-%d %H:%M} UTC, "
        f"{seconds / 60:.1f} min in all. Load average (1, 5, 15 min) before the run "
        f"{m['load']}, after {load_after} (other work on the machine shows here)."
    )


def code_version(repo: Path, paths: Sequence[str] = ("service", "workers")) -> str:
    """The commit measured, and whether `paths` had uncommitted changes (read-only git)."""
    git = shutil.which("git")
    if git is None:
        return "unknown (no git)"
    try:
        head = subprocess.run(
            [git, "rev-parse", "--short", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            [git, "--no-optional-locks", "status", "--porcelain", "--", *paths],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.rstrip("\n")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not dirty:
        return f"commit {head}"
    files = [line[3:] for line in dirty.splitlines()]
    return f"commit {head} plus uncommitted changes in {', '.join(files)}"


def num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def seconds(value: float) -> str:
    if value < 0.001:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def spread(values: Sequence[float]) -> str:
    """`median (min, max, n runs)` of timings."""
    if len(values) == 1:
        return seconds(values[0])
    return (
        f"{seconds(statistics.median(values))} "
        f"(min {seconds(min(values))}, max {seconds(max(values))}, {len(values)} runs)"
    )


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(path: Path, key: str, body: str) -> None:
    """Replace the section marked `key` in `path`, or append it; keep the rest."""
    start, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    block = f"{start}\n{body.strip()}\n{end}\n"
    text = path.read_text() if path.exists() else FILE_INTRO
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)
