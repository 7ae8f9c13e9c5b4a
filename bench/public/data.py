"""The data under load: the register (bench/seed.py's mix), the campaigns whose
tokens wrk sends, and the routes."""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from bench.procs import (
    DATA_KEY,
)
from bench.seed import SeedStats, seed
from service import clock
from service.campaigns import service as campaigns
from service.campaigns.schemas import CampaignCreate
from service.consent.queries import Gate, GateContext
from service.db import SessionMaker, run, session_scope
from service.models import ConsentState, Contact
from service.models.enums import (
    CampaignStatus,
    Channel,
    ConsentAction,
    Purpose,
)
from service.tokens import TokenSigner

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"
LINKS = ("https://example.fi/kevat", "https://example.fi/kurssit")
UNTRACKED_SHARE = 0.1  # pixel requests of people who do not (or no longer) allow tracking
AGGREGATE_SHARE = 0.3  # click requests on links that carry no contact
WARMUP_CONTACTS = 500  # one-click tokens set aside for the warm-ups and probes
REPEAT_CONTACTS = 300  # one-click tokens for the concurrent repeats
REPEAT_COPIES = 8
REPEAT_SECONDS = 3


@dataclass(frozen=True)
class Route:
    key: str
    label: str
    method: str
    body: str | None
    ceiling: str | None  # the key of the ceiling route it is held against


ROUTES = {
    r.key: r
    for r in (
        Route("ceiling-get", "ceiling GET `/ceiling/{token}`", "GET", None, None),
        Route(
            "ceiling-post", "ceiling POST `/ceiling/{token}` (form)", "POST", ONE_CLICK_BODY, None
        ),
        Route("pixel", "open pixel GET `/t/o/{token}.gif`", "GET", None, "ceiling-get"),
        Route("click", "click GET `/t/c/{token}` (302)", "GET", None, "ceiling-get"),
        Route("one-click", "one-click POST `/u/{token}`", "POST", ONE_CLICK_BODY, "ceiling-post"),
    )
}


@dataclass
class Paths:
    """Request paths of one campaign, in the order wrk walks them."""

    pixel: list[str]
    click: list[str]
    one_click: list[str]
    one_click_contacts: list[int]  # the contact of each one_click path
    campaign_id: int

    def of(self, key: str) -> list[str]:
        if key == "ceiling-get":
            return [p.replace("/t/o/", "/ceiling/", 1) for p in self.pixel]
        if key == "ceiling-post":
            return [p.replace("/u/", "/ceiling/", 1) for p in self.one_click]
        return {"pixel": self.pixel, "click": self.click, "one-click": self.one_click}[key]


@dataclass
class Population:
    tracked: list[int]  # the gate lets their opens and clicks be stored
    untracked: list[int]  # an email address, but no tracking
    granted: list[int]  # email direct-marketing consent granted
    seed: SeedStats


async def populate(
    sessionmaker: SessionMaker, engine: AsyncEngine, args: argparse.Namespace
) -> Population:
    stats = await seed(
        engine, args.contacts, seed=args.seed, data_key=DATA_KEY, send_contacts=0, small_contacts=0
    )
    gate = Gate(
        GateContext(channel=Channel.EMAIL, purpose=Purpose.EMAIL_TRACKING, today=clock.today())
    )
    async with session_scope(sessionmaker) as session:
        tracked = (
            await run(
                session,
                select(col(Contact.id))
                .select_from(gate.source)
                .where(gate.eligible())
                .order_by(col(Contact.id)),
            )
        ).scalars()
        tracked_ids = list(tracked)
        with_email = (
            await run(
                session,
                select(col(Contact.id))
                .where(col(Contact.email).is_not(None))
                .order_by(col(Contact.id)),
            )
        ).scalars()
        granted = (
            await run(
                session,
                select(col(ConsentState.contact_id))
                .where(
                    col(ConsentState.channel) == Channel.EMAIL.value,
                    col(ConsentState.purpose) == Purpose.DIRECT_MARKETING.value,
                    col(ConsentState.action) == ConsentAction.GRANT.value,
                )
                .order_by(col(ConsentState.contact_id)),
            )
        ).scalars()
        kept = set(tracked_ids)
        return Population(
            tracked=tracked_ids,
            untracked=[c for c in with_email if c not in kept],
            granted=list(granted),
            seed=stats,
        )


async def new_campaign(sessionmaker: SessionMaker, name: str) -> int:
    """A sent email campaign whose body holds the links a click may lead to."""
    body_html = "<p>Hei {{ contact.name }}!</p>\n" + "\n".join(
        f'<p><a href="{link}">{link}</a></p>' for link in LINKS
    )
    data = CampaignCreate.model_validate(
        {
            "name": name,
            "channel": "email",
            "subject": "Kevään kurssit",
            "body_html": body_html,
            "body_text": "Hei {{ contact.name }}!\n\n" + "\n".join(LINKS),
        }
    )
    async with session_scope(sessionmaker) as session:
        campaign = await campaigns.create(session, data=data, user_id=None)
        campaign.status = CampaignStatus.DONE
        now = clock.now()
        campaign.list_built_at = campaign.started_at = campaign.finished_at = now
        session.add(campaign)
        await session.flush()
        assert campaign.id is not None
        return campaign.id


def build_paths(
    signer: TokenSigner,
    campaign_id: int,
    population: Population,
    unsubscribers: list[int],
    rng: random.Random,
) -> Paths:
    tracked, untracked = population.tracked, population.untracked
    opens = [f"/t/o/{signer.sign('open', c, campaign_id)}.gif" for c in tracked]
    others = rng.sample(untracked, min(len(untracked), int(len(opens) * UNTRACKED_SHARE)))
    opens += [f"/t/o/{signer.sign('open', c, campaign_id)}.gif" for c in others]
    rng.shuffle(opens)
    clicks = [
        f"/t/c/{signer.sign('click', c, campaign_id, i)}"
        for c in tracked
        for i in range(len(LINKS))
    ]
    clicks += [
        f"/t/c/{signer.sign('click', 0, campaign_id, i % len(LINKS))}"
        for i in range(int(len(clicks) * AGGREGATE_SHARE))
    ]
    rng.shuffle(clicks)
    one_click = [f"/u/{signer.sign('unsubscribe', c, campaign_id)}" for c in unsubscribers]
    return Paths(opens, clicks, one_click, list(unsubscribers), campaign_id)
