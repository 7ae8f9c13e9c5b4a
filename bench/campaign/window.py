"""The exactly-once window the service controls, in-process: from
``SmtpPool.send`` returning SENT to the journal's HSET returning, inside the
delivery layer's loop (``service.delivery.batch.send_all``); and the CPU per
message of the steps before SMTP, each timed alone."""

from __future__ import annotations

import contextvars
import dataclasses
import statistics
import time
from typing import Any

from bench import report
from bench.campaign.context import Bench, campaign_content
from bench.campaign.results import WindowResult
from bench.cli import say
from service import clock, queue
from service.campaigns import email, outcomes, sending
from service.campaigns.service import recipient_of
from service.crypto import DataCipher
from service.delivery import batch
from service.delivery.journal import Journal
from service.delivery.messenger import Delivery, Outcome, Outgoing
from service.delivery.smtp import SmtpConfig, SmtpPool
from service.mail.message import build_message
from service.mail.render import Links
from service.models import Campaign, Contact
from service.models.enums import CampaignChannel, Gender, Language, LegalBasis, Purpose, Source
from service.tokens import TokenSigner

_SENT_AT: contextvars.ContextVar[float] = contextvars.ContextVar("sent_at")


class _TimedPool:
    """SmtpPool that notes, per task, when `send` returned SENT."""

    def __init__(self, pool: SmtpPool) -> None:
        self.pool = pool
        self.sizes: list[int] = []

    @property
    def size(self) -> int:
        return self.pool.size

    async def send(self, *, sender: str, recipient: str, message: bytes) -> Delivery:
        self.sizes.append(len(message))
        delivery = await self.pool.send(sender=sender, recipient=recipient, message=message)
        if delivery.outcome is Outcome.SENT:
            _SENT_AT.set(time.perf_counter())
        return delivery

    async def close(self) -> None:
        await self.pool.close()


class _TimedRedis:
    """Redis whose `execute_command` notes how long after SENT an HSET returned."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self.windows: list[float] = []

    async def execute_command(self, *command: Any) -> Any:
        result = await self.redis.execute_command(*command)
        if command[0] == "HSET":
            self.windows.append(time.perf_counter() - _SENT_AT.get())
        return result


class _WindowList:
    """What `batch.send_all` asks of a campaign's batch, without its database:
    each message made by `email.prepare` (as `CampaignBatch.prepare` does),
    each acceptance into the campaign's journal. The rows are made up, so
    nothing is recorded."""

    def __init__(self, sender: sending.Sender, campaign: Campaign, renderer: Any) -> None:
        assert campaign.id is not None
        self.sender, self.campaign, self.renderer = sender, campaign, renderer
        self.journal = Journal(sender.redis, outcomes.journal_key(campaign.id))

    def prepare(self, row: outcomes.Row) -> Outgoing:
        return email.prepare(self.sender, self.campaign, self.renderer, row)

    async def record_sent_now(self, row_id: int) -> None:
        raise RuntimeError("bench: the journal failed during the window measurement")


def _row(index: int) -> outcomes.Row:
    """An `outcomes.Row` for a made-up contact, whichever fields the Row has today."""
    contact = _contact(index)
    known: dict[str, Any] = {
        "id": index,
        "attempts": 0,
        "contact": contact,
        "contact_id": index,
        "email": contact.email,
        "recipient": recipient_of(contact),
        "tracking": index % 4 == 0,  # about the share with a tracking consent in the seed
    }
    names = [f.name for f in dataclasses.fields(outcomes.Row)]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise RuntimeError(f"bench: outcomes.Row has fields it cannot fill: {unknown}")
    return outcomes.Row(**{name: known[name] for name in names})


def _contact(index: int) -> Contact:
    language = ("fi", "fi", "fi", "sv", "en")[index % 5]
    return Contact(
        id=index,
        full_name="Maija Meikäläinen" if language == "fi" else "Erik Lindqvist",
        email=f"window{index}@example.fi",
        language=Language(language),
        gender=Gender.UNSPECIFIED,
        legal_basis=LegalBasis.CONSENT,
        source=Source.SELF,
    )


async def measure_window(bench: Bench) -> None:
    """`batch.send_all` in-process, as a campaign's batch calls it, chunk by chunk."""
    sends = bench.args.window_sends
    settings = bench.settings
    redis = await queue.connect(bench.profile_redis_url)
    pool = SmtpPool(SmtpConfig.from_settings(settings), size=settings.send_connections)
    timed_pool, timed_redis = _TimedPool(pool), _TimedRedis(redis)
    sender = sending.Sender(
        settings=settings,
        sessionmaker=bench.sessionmaker,
        redis=timed_redis,  # type: ignore[arg-type]
        smtp=timed_pool,  # type: ignore[arg-type]
        signer=TokenSigner(settings.secret_key),
        cipher=DataCipher(settings.data_key),
    )
    content = campaign_content("fi")
    campaign = Campaign(
        id=999_999,
        name="Window",
        channel=CampaignChannel.EMAIL,
        purpose=Purpose.DIRECT_MARKETING,
        updated_at=clock.now(),
        subject=content["subject"],
        body_html=content["body_html"],
        body_text=content["body_text"],
        translations={lang: campaign_content(lang) for lang in ("sv", "en")},
    )
    renderer = sender.renderer(campaign)
    send_list = _WindowList(sender, campaign, renderer)
    messenger = sender.messenger
    rows = [_row(i) for i in range(1, sends + 1)]
    started, cpu = time.perf_counter(), time.process_time()
    try:
        for first in range(0, sends, sending.CHUNK):
            results = await batch.send_all(
                send_list,  # type: ignore[arg-type]
                messenger,
                rows[first : first + sending.CHUNK],
                batch.Progress(lease=None),
            )
            failed = [r.delivery for r in results if r.delivery.outcome is not Outcome.SENT]
            if failed:
                raise RuntimeError(f"the sink refused a message: {failed[0]}")
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        # The same HSET with nothing else on the event loop: the round trip alone.
        bare_hset = []
        hset_cpu = time.process_time()
        for i in range(2_000):
            began = time.perf_counter()
            await redis.execute_command("HSET", "consentry:bench:hset", i, time.time())  # type: ignore[no-untyped-call]
            bare_hset.append(time.perf_counter() - began)
        hset_cpu = (time.process_time() - hset_cpu) / len(bare_hset)
    finally:
        await messenger.close()
        await redis.flushdb()
        await redis.aclose()
    bench.results.window = WindowResult(
        sends,
        timed_redis.windows,
        elapsed,
        statistics.fmean(timed_pool.sizes),
        bare_hset,
        cpu,
        [*_pieces(sender, campaign, renderer), ("journal `HSET` alone (redis-py)", hset_cpu)],
    )
    say(
        f"window: p50 {report.seconds(report.percentile(timed_redis.windows, 50))}, "
        f"p99 {report.seconds(report.percentile(timed_redis.windows, 99))} "
        f"({sends / elapsed:,.0f} msg/s in-process, no database)"
    )


def _pieces(
    sender: sending.Sender, campaign: Campaign, renderer: Any, repeat: int = 2_000
) -> list[tuple[str, float]]:
    """CPU per message of the steps `email.prepare` takes before SMTP, timed alone."""
    settings = sender.settings
    contact = _contact(1)
    public = settings.public_url
    links = Links(unsubscribe_url=f"{public}/u/x", preferences_url=f"{public}/p/x")
    recipient = recipient_of(contact)
    rendered = renderer.render(recipient, links)

    def sign() -> None:
        sender.signer.sign("unsubscribe", 1, 999_999)
        sender.signer.sign("preferences", 1)

    def render_one() -> None:
        renderer.render(recipient, links)

    def build() -> None:
        build_message(
            rendered,
            mail_from=settings.mail_from,
            to="maija@example.fi",
            message_id="<c999999.r1.abcdef@example.fi>",
            list_id="<campaign-999999.example.fi>",
            unsubscribe_url=links.unsubscribe_url,
            unsubscribe_mailto=f"mailto:{settings.unsubscribe_address}?subject=unsubscribe%20x",
        )

    out = []
    for label, step in (
        ("two signed links (`TokenSigner.sign`, twice)", sign),
        ("`CampaignRenderer.render`", render_one),
        ("`build_message` (compat32 MIME, quoted-printable, `as_bytes`)", build),
    ):
        step()
        began = time.process_time()
        for _ in range(repeat):
            step()
        out.append((label, (time.process_time() - began) / repeat))
    return out
