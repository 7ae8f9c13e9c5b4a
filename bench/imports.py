"""Benchmark: ``consentry import contacts`` on a 100,000-row file.

    .venv/bin/python -m bench.imports [--rows 100000] [--database-url URL] [--out BENCHMARKS.md]

Generates a file of new contacts (with tags, an email consent and its
evidence, and one bad row in every thousand), imports it into a fresh SQLite
database (or the URL given, which must be an empty migrated database), then
imports it again (every row an unchanged re-import), and writes its section
of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench import report
from service.crypto import DataCipher
from service.db import create_engine, create_sessionmaker
from service.imports.runner import run_import
from service.imports.schemas import ImportReport
from service.migrate import upgrade

REPO = Path(__file__).resolve().parent.parent
HEADER = (
    "full_name,email,phone,city,language,legal_basis,source,tags,"
    "consent_email_direct_marketing,consent_evidence_text,consent_notice_version\n"
)


def make_file(rows: int) -> bytes:
    lines = [HEADER]
    for n in range(rows):
        email = f"bench{n}@example.fi" if n % 1000 != 999 else "not-an-email"
        lines.append(
            f"Henkilö {n},{email},+35840{n:07d},Helsinki,fi,consent,partner,"
            f"bench;t{n % 7},grant,Lomake: kyllä kiitos,v1\n"
        )
    return "".join(lines).encode()


async def timed(url: str, raw: bytes) -> tuple[ImportReport, float]:
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        result = await run_import(
            create_sessionmaker(engine),
            raw=raw,
            file_name="bench.csv",
            cipher=DataCipher("bench-data-key-" + "k" * 32),
        )
        return result, time.perf_counter() - started
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    url = args.database_url
    if url is None:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='consentry-bench-')) / 'b.db'}"
    upgrade(url)
    raw = make_file(args.rows)
    first, first_s = asyncio.run(timed(url, raw))
    again, again_s = asyncio.run(timed(url, raw))
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    rows = [
        [
            "first import (new contacts)",
            report.num(first.rows),
            f"{first.created:,} created, {first.refused:,} refused",
            report.seconds(first_s),
            report.num(first.rows / first_s),
        ],
        [
            "same file again (re-import)",
            report.num(again.rows),
            f"{again.unchanged:,} unchanged, {again.refused:,} refused",
            report.seconds(again_s),
            report.num(again.rows / again_s),
        ],
    ]
    machine = report.machine()
    section = (
        f"## Contact import, {args.rows:,} rows on {backend}\n\n"
        f"`.venv/bin/python -m bench.imports --rows {args.rows}`; "
        f"{report.code_version(REPO)}; {machine['cpu']} ({machine['nproc']} CPUs), "
        f"Python {machine['python']}, load {machine['load']}.\n"
        "Each row: name, email, phone, city, two tags and an email marketing grant with "
        "its evidence; one row in a thousand has a bad email.\n\n"
        + report.table(["run", "rows", "outcome", "time", "rows/s"], rows)
    )
    print(section)
    report.write_section(args.out, f"imports:{backend}:{args.rows}", section)


if __name__ == "__main__":
    main()
