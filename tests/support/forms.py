"""Signup forms for tests of their public side, inserted as rows (the staff
side's API is not what those tests are about), with each offer's text
archived under ``form:{slug}:{channel}.{purpose}`` as the staff side does.

``take_confirmation_job`` takes a queued confirmation job off the shared
Redis queue, so that tests run the job themselves and no stray job is left
for another test's worker; ``run_confirmation_job`` runs it as a worker
would, with a real SMTP pool.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

from arq.connections import ArqRedis

from service.consent import archive
from service.db import SessionMaker, session_scope
from service.delivery.smtp import SmtpConfig, SmtpPool
from service.embedded import MailCatcher
from service.models import SignupForm
from service.queue import QUEUE_NAME
from service.settings import Settings
from workers import forms as form_jobs

_numbers = itertools.count(1)
TEXTS = {
    "fi": "Haluan saada uutiskirjeen sähköpostiin ({pair}).",
    "sv": "Jag vill få nyhetsbrevet per e-post ({pair}).",
    "en": "I want the newsletter by email ({pair}).",
}
LINK = re.compile(r"https?://\S+/c/[A-Za-z0-9_-]{43}")


async def add_form(
    sessionmaker: SessionMaker,
    *,
    slug: str | None = None,
    languages: Sequence[str] = ("fi", "sv", "en"),
    offers: Sequence[tuple[str, str]] = (("email", "direct_marketing"),),
    fields: dict[str, bool] | None = None,
    texts: dict[str, str] | None = None,
    **columns: Any,
) -> SignupForm:
    """A form (``news-<n>`` unless ``slug``), its offers' texts archived in
    each language; ``columns`` set the rest (``double_opt_in``,
    ``thank_you_url``, ``origins``, ``active``…)."""
    slug = slug or f"news-{next(_numbers)}"
    words = texts or TEXTS
    async with session_scope(sessionmaker) as session:
        stored = []
        for channel, purpose in offers:
            pair = f"{channel}.{purpose}"
            ids = {}
            for lang in languages:
                text = await archive.archive(
                    session,
                    key=f"form:{slug}:{pair}",
                    language=lang,
                    body=words[lang].format(pair=pair),
                )
                ids[lang] = text.id
            stored.append({"channel": channel, "purpose": purpose, "texts": ids})
        form = SignupForm(
            slug=slug,
            name=columns.pop("name", "Uutiskirje"),
            languages=list(languages),
            offers=stored,
            fields=fields if fields is not None else {"full_name": False, "email": True},
            notice_version=columns.pop("notice_version", "2026-01"),
            **columns,
        )
        session.add(form)
        await session.flush()
        await session.refresh(form)
        session.expunge(form)
        return form


def unique_address(local: str = "signup") -> str:
    """An address of this test run only: the mail catcher keeps every run's mail."""
    return f"{local}.{uuid.uuid4().hex[:10]}@example.fi"


async def take_confirmation_job(redis: ArqRedis, signup_id: int) -> bool:
    """Whether the confirmation job of ``signup_id`` was queued; it is taken off the queue."""
    job_id = f"signup:{signup_id}:confirm"
    queued = bool(await redis.zrem(QUEUE_NAME, job_id))
    await redis.delete(f"arq:job:{job_id}")
    return queued


async def run_confirmation_job(
    settings: Settings, sessionmaker: SessionMaker, signup_id: int, *, job_try: int = 1
) -> str:
    """``send_signup_confirmation`` as a worker runs it, with a real SMTP pool."""
    async with SmtpPool(SmtpConfig.from_settings(settings), size=1) as pool:

        class _Sender:
            smtp = pool

        ctx = {
            "sender": _Sender(),
            "sessionmaker": sessionmaker,
            "settings": settings,
            "job_try": job_try,
        }
        return await form_jobs.send_signup_confirmation(ctx, signup_id)


def mails_to(catcher: MailCatcher, address: str) -> list[EmailMessage]:
    found = []
    for message in catcher.messages():
        assert isinstance(message, EmailMessage)
        if message["To"] == address:
            found.append(message)
    return found


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None and isinstance(part, EmailMessage)
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None and isinstance(part, EmailMessage)
    return str(part.get_content())


def link_in(message: EmailMessage) -> str:
    """The one confirmation link of a mail (the same in both parts)."""
    links = set(LINK.findall(text_of(message)))
    assert len(links) == 1, links
    assert links == set(LINK.findall(html_of(message)))
    return links.pop()
