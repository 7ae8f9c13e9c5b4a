"""Two references against the same sink: Postfix's ``smtp-source`` and a bare
aiosmtplib loop sending pre-built bytes over reused connections."""

from __future__ import annotations

import asyncio
import shlex
import time

from aiosmtplib import SMTP

from bench.campaign.context import MAIL_FROM, Bench
from bench.campaign.results import Reference
from bench.cli import say
from bench.procs import find_tool
from service.embedded import HOST


def _bare_message(index: int, size: int = 2000) -> bytes:
    head = (
        f"From: {MAIL_FROM}\nTo: user{index}@example.fi\nSubject: Offer {index}\n"
        f"Message-ID: <bare{index}@example.fi>\nMIME-Version: 1.0\n"
        'Content-Type: text/plain; charset="utf-8"\n\n'
    )
    line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor\n"
    body = (line * (size // len(line) + 1))[: max(0, size - len(head))]
    return (head + body).encode()


async def bare_loop(port: int, total: int, connections: int = 4) -> tuple[float, float]:
    """Pre-built ~2 KB messages over `connections` reused aiosmtplib connections."""
    messages = [_bare_message(i) for i in range(connections)]
    clients = [SMTP(hostname=HOST, port=port, start_tls=False) for _ in range(connections)]
    for client in clients:
        await client.connect()

    async def run(client: SMTP, index: int, count: int) -> None:
        message = messages[index]
        for i in range(count):
            await client.sendmail(MAIL_FROM, [f"user{i}@example.fi"], message)

    shares = [
        total // connections + (1 if i < total % connections else 0) for i in range(connections)
    ]
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(
        *(run(c, i, n) for i, (c, n) in enumerate(zip(clients, shares, strict=True)))
    )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    for client in clients:
        await client.quit()
    return elapsed, cpu


async def measure_references(bench: Bench) -> None:
    sink = bench.sink
    assert sink is not None
    source_total = bench.args.source_messages
    source = find_tool("smtp-source")
    argv = [
        *(source, "-d", "-s", "4", "-m", str(source_total), "-l", "2000"),
        *("-f", MAIL_FROM, "-t", "user@example.fi", f"{HOST}:{sink.port}"),
    ]
    before = sink.accepted()
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=300)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"smtp-source failed: {stderr.decode(errors='replace')}")
    accepted = await asyncio.to_thread(sink.wait_settled)
    shown = shlex.join(["smtp-source", *argv[1:-1], f"{HOST}:PORT"])
    bench.results.references.append(
        Reference(f"`{shown}`", source_total, elapsed, accepted - before)
    )
    say(f"smtp-source: {source_total / elapsed:,.0f} msg/s")

    before = accepted
    bare_total = bench.args.bare_messages
    elapsed, cpu = await bare_loop(sink.port, bare_total)
    accepted = await asyncio.to_thread(sink.wait_settled)
    bench.results.references.append(
        Reference(
            "bare aiosmtplib loop: `SMTP.sendmail` of pre-built 2,000-byte messages, "
            f"4 reused connections, one process, {bench.args.loop} event loop",
            bare_total,
            elapsed,
            accepted - before,
            cpu,
        )
    )
    say(f"bare aiosmtplib loop: {bare_total / elapsed:,.0f} msg/s")
