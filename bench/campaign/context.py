"""What the campaign benchmark's measurements share: its campaigns' content,
the databases, Redis, sink and settings of the run (``Bench``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.campaign.results import Results
from bench.procs import SmtpSink, Worker
from bench.seed import BENCH_TAG
from service.campaigns import service as campaigns
from service.campaigns.schemas import CampaignCreate
from service.db import SessionMaker, session_scope
from service.settings import Settings

MAIL_FROM = "news@example.fi"
PROFILE_REDIS_DB = 3  # in-process runs queue their batch jobs where no worker looks

SUBJECT = {
    "fi": "Kevään tarjoukset sinulle, {{ contact.name }}",
    "sv": "Vårens erbjudanden till dig, {{ contact.name }}",
    "en": "Spring offers for you, {{ contact.name }}",
}
_PARAGRAPHS = {
    "fi": (
        "Kevät on täällä, ja niin ovat myös uudet kurssimme. Olemme koonneet sinulle "
        "valikoiman koulutuksia, jotka sopivat sekä aloittelijoille että kokeneille.",
        "Ilmoittaudu viimeistään toukokuun loppuun mennessä, niin saat 15 prosentin "
        "alennuksen kaikista kevään kursseista. Tarjous koskee myös verkkokursseja.",
        "Kysyttävää? Vastaa tähän viestiin tai soita asiakaspalveluumme arkisin 9-16.",
    ),
    "sv": (
        "Våren är här, och det är våra nya kurser också. Vi har samlat ett urval "
        "utbildningar som passar både nybörjare och erfarna.",
        "Anmäl dig senast i slutet av maj så får du 15 procents rabatt på alla "
        "vårens kurser. Erbjudandet gäller också nätkurserna.",
        "Frågor? Svara på det här meddelandet eller ring vår kundtjänst vardagar 9-16.",
    ),
    "en": (
        "Spring is here, and so are our new courses. We have put together a selection "
        "of trainings for beginners and the experienced alike.",
        "Sign up by the end of May and get 15 percent off every spring course. "
        "The offer covers the online courses too.",
        "Questions? Reply to this message or call our customer service on weekdays 9-16.",
    ),
}
GREETING = {"fi": "Hei", "sv": "Hej", "en": "Hello"}


def campaign_content(language: str) -> dict[str, str]:
    paragraphs = _PARAGRAPHS[language]
    greeting = f"{GREETING[language]} {{{{ contact.name }}}}!"
    return {
        "subject": SUBJECT[language],
        "body_html": f"<h1>{greeting}</h1>\n"
        + "\n".join(f"<p>{p}</p>" for p in paragraphs)
        + '\n<p><a href="https://example.fi/kevat">example.fi/kevat</a></p>',
        "body_text": f"{greeting}\n\n" + "\n\n".join(paragraphs) + "\n\nhttps://example.fi/kevat",
    }


@dataclass
class Bench:
    args: argparse.Namespace
    tmp: Path
    database_url: str
    redis_url: str
    sink: SmtpSink | None
    env: dict[str, str]
    settings: Settings  # the workers' settings (frequency cap off)
    default_settings: Settings  # the same with the default frequency cap
    results: Results
    workers: list[Worker]
    sessionmaker: SessionMaker = field(init=False)

    @property
    def profile_redis_url(self) -> str:
        return self.redis_url.rsplit("/", 1)[0] + f"/{PROFILE_REDIS_DB}"

    async def new_campaign(self, name: str, tags: Sequence[str]) -> int:
        data = CampaignCreate.model_validate(
            {
                "name": name,
                "channel": "email",
                **campaign_content("fi"),
                "translations": {lang: campaign_content(lang) for lang in ("sv", "en")},
                "segment": {"tags": list(tags)},
            }
        )
        async with session_scope(self.sessionmaker) as session:
            campaign = await campaigns.create(session, data=data, user_id=None)
            assert campaign.id is not None
            return campaign.id

    async def request_send(self, campaign_id: int) -> None:
        async with session_scope(self.sessionmaker) as session:
            campaign = await campaigns.get(session, campaign_id)
            await campaigns.request_send(session, campaign=campaign)

    @property
    def send_tags(self) -> list[str]:
        return [BENCH_TAG] if self.results.send_contacts else []
