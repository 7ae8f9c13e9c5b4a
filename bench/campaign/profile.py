"""One batch in-process under cProfile: where a batch's time goes, by the
delivery layer's and the campaign's own functions and by package."""

from __future__ import annotations

import cProfile
import email.utils
import inspect
import pstats
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosmtplib.protocol
from sqlalchemy import func, select
from sqlmodel import col

from bench.campaign.context import Bench
from bench.campaign.results import ProfileResult
from bench.cli import say
from bench.procs import REPO
from service import queue
from service.campaigns import email as campaign_email
from service.campaigns import outcomes, queries, sending
from service.campaigns import service as campaigns
from service.crypto import DataCipher
from service.db import session_scope
from service.delivery import batch
from service.delivery.email import EmailMessenger
from service.delivery.journal import Journal
from service.delivery.smtp import SmtpConfig, SmtpPool
from service.mail.message import build_message
from service.mail.render import CampaignRenderer
from service.models import CampaignRecipient
from service.tokens import TokenSigner

# (function, label, plain function: its call count is meaningful; cProfile
# counts every resumption of a coroutine as a call). Found in the profile by
# their code objects, so a function that moves or is renamed breaks the import
# here instead of showing as 0.
KEY_FUNCTIONS: tuple[tuple[Callable[..., Any], str, bool], ...] = (
    (batch.send_one, "batch.send_one (prepare, messenger, journal `HSET`)", False),
    (campaign_email.prepare, "email.prepare (sign, render, build)", True),
    (CampaignRenderer.render, "CampaignRenderer.render", True),
    (build_message, "build_message", True),
    (TokenSigner.sign, "TokenSigner.sign", True),
    (EmailMessenger.send, "EmailMessenger.send", False),
    (SmtpPool.send, "SmtpPool.send (aiosmtplib `sendmail` inside)", False),
    (email.utils.parseaddr, "email.utils.parseaddr (aiosmtplib's address checks)", True),
    (aiosmtplib.protocol.normalize_message_line_endings, "aiosmtplib line endings", True),
    (Journal.mark, "Journal.mark (the journal `HSET`)", False),
    (
        sending.CampaignBatch.next_chunk,
        "CampaignBatch.next_chunk (status, skips, rows, gate re-check)",
        False,
    ),
    (sending._next_chunk, "sending._next_chunk (load a chunk of rows)", False),
    (queries.excluded_in_range, "queries.excluded_in_range (gate re-check)", False),
    (queries.skip_erased, "queries.skip_erased", False),
    (outcomes.record, "outcomes.record (UPDATE + HDEL)", False),
    (batch.replay_journal, "batch.replay_journal", False),
    (outcomes.finish_if_done, "outcomes.finish_if_done", False),
)


def _code_key(function: Callable[..., Any]) -> tuple[str, int, str]:
    """cProfile's key of a function: (file, first line, name) of its code."""
    code = inspect.unwrap(function).__code__
    return code.co_filename, code.co_firstlineno, code.co_name


def _group(filename: str, name: str) -> str:
    if filename == "~":
        if "uvloop" in name:
            return "uvloop's loop (C; includes waiting for I/O)"
        if "poll" in name and "epoll" in name:
            return "idle: waiting in epoll (network, DB thread)"
        return "C builtins (" + name.strip("<>").split(" of ")[0].replace("method ", "") + ")"
    if "/site-packages/" in filename:
        return filename.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if filename.endswith(".j2") or (
        filename.startswith("<") and not filename.startswith(("<frozen", "<string"))
    ):
        return "jinja2 compiled templates"
    repo = str(REPO) + "/"
    if filename.startswith(repo):
        parts = Path(filename[len(repo) :]).with_suffix("").parts
        return ".".join(parts[:3])
    if "/lib/python3" in filename:
        rest = filename.split("/lib/python3", 1)[1].split("/", 2)
        module = rest[1] if len(rest) > 1 else filename
        return "stdlib " + module.removesuffix(".py")
    return filename


def _summarise(profiler: cProfile.Profile) -> tuple[list[Any], list[Any], list[Any]]:
    stats = pstats.Stats(profiler)
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    groups: dict[str, float] = defaultdict(float)
    for (filename, _, name), (_, _, tottime, _, _) in table.items():
        groups[_group(filename, name)] += tottime
    key = []
    for function, label, plain in KEY_FUNCTIONS:
        _, nc, _, ct, _ = table.get(_code_key(function), (0, 0, 0.0, 0.0, None))
        key.append((label, ct, nc if plain else None))
    top = sorted(
        (
            (f"{Path(f).name}:{line} {n}" if f != "~" else n, tt, ct)
            for (f, line, n), (_, _, tt, ct, _) in table.items()
        ),
        key=lambda item: item[1],
        reverse=True,
    )[:15]
    return sorted(groups.items(), key=lambda item: item[1], reverse=True)[:12], key, top


async def measure_profile(bench: Bench) -> None:
    """One batch in-process under cProfile (main thread), then one without."""
    settings = bench.settings
    campaign_id = await bench.new_campaign("Profile", bench.send_tags)
    await bench.request_send(campaign_id)
    redis = await queue.connect(bench.profile_redis_url)
    smtp = SmtpPool(SmtpConfig.from_settings(settings), size=settings.send_connections)
    sender = sending.Sender(
        settings=settings,
        sessionmaker=bench.sessionmaker,
        redis=redis,
        smtp=smtp,
        signer=TokenSigner(settings.secret_key),
        cipher=DataCipher(settings.data_key),
    )
    try:
        await sending.start(sender, campaign_id)
        async with bench.sessionmaker() as session:
            batches = await queries.pending_batches(
                session, campaign_id=campaign_id, batch_size=settings.send_batch_size
            )
        if len(batches) < 2:
            bench.results.notes.append("profile skipped: fewer than two batches")
            return
        (_, first, last), (_, first2, last2) = batches[0], batches[1]
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        await sending.send_batch(sender, campaign_id, first, last)
        profiler.disable()
        wall = time.perf_counter() - started
        started = time.perf_counter()
        await sending.send_batch(sender, campaign_id, first2, last2)
        wall2 = time.perf_counter() - started
        async with bench.sessionmaker() as session:
            sent = (
                await session.exec(  # type: ignore[call-overload]
                    select(func.count())
                    .select_from(CampaignRecipient)
                    .where(
                        col(CampaignRecipient.campaign_id) == campaign_id,
                        col(CampaignRecipient.id).between(first, last),
                        col(CampaignRecipient.status) == "sent",
                    )
                )
            ).scalar_one()
            sent2 = (
                await session.exec(  # type: ignore[call-overload]
                    select(func.count())
                    .select_from(CampaignRecipient)
                    .where(
                        col(CampaignRecipient.campaign_id) == campaign_id,
                        col(CampaignRecipient.id).between(first2, last2),
                        col(CampaignRecipient.status) == "sent",
                    )
                )
            ).scalar_one()
        async with session_scope(bench.sessionmaker) as session:
            campaign = await campaigns.get(session, campaign_id)
            if campaign.status in campaigns.CANCELLABLE:
                await campaigns.cancel(session, campaign=campaign)
    finally:
        await smtp.close()
        await redis.flushdb()
        await redis.aclose()
    groups, key, top = _summarise(profiler)
    bench.results.profile = ProfileResult(int(sent), wall, int(sent2), wall2, groups, key, top)
    say(
        f"profile: batch of {sent} in {wall:.2f} s under cProfile; "
        f"unprofiled batch of {sent2} in {wall2:.2f} s ({sent2 / wall2:,.0f} msg/s)"
    )
