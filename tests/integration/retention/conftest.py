"""Fixtures for the retention rules: a fixed clock, settings with a real SMTP
catcher and a private transfer directory, and makers of the rows the rules
read. Contacts are made through the API; profiles, holds and the bulk rows
are inserted with the models (their own APIs are not what is tested here).
"""

from __future__ import annotations

import itertools
import json
import stat
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pyrage
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update
from sqlmodel import col

from service import clock
from service.crypto import DataCipher
from service.db import SessionMaker, run, session_scope
from service.embedded import MailCatcher
from service.models import (
    CallList,
    CallListEntry,
    Campaign,
    Contact,
    DataSubjectRequest,
    EngagementEvent,
    LegalHold,
    Profile,
    RetentionAction,
)
from service.models.engagement import EngagementKind
from service.models.enums import (
    CallListStatus,
    CampaignChannel,
    Purpose,
    RequestChannel,
    RequestStatus,
    RequestType,
)
from service.profiles.service import seal_content
from service.retention.plan import plan
from service.retention.runner import Tools, run_retention
from service.retention.schemas import Plan, PlanItem, RunReport
from service.settings import Settings, load_settings
from service.tokens import TokenSigner
from tests.conftest import TEST_DATA_KEY, TEST_SECRET
from tests.support.clock import FrozenClock
from tests.support.factories import add_contact, unique_email

Client = AsyncTestClient[Litestar]
START = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
NOTICE_DAYS = 30
ENGAGEMENT_DAYS = 395
REQUEST_DAYS = 1095
VENDOR = "Profiilipalvelu Oy"
_numbers = itertools.count(1)


@pytest.fixture
def clock_start() -> datetime:
    return START


@pytest.fixture(autouse=True)
def _still_clock(frozen_clock: FrozenClock) -> None:
    """Every retention test runs on the frozen clock, started at ``START``."""


@pytest.fixture
def transfer_dir(tmp_path: Path) -> Path:
    return tmp_path / "transfers"


@pytest.fixture
def vendor_identity() -> pyrage.x25519.Identity:
    """The profile vendor's own age identity: only it opens a package."""
    return pyrage.x25519.Identity.generate()


@pytest.fixture
def vendor_env(vendor_identity: pyrage.x25519.Identity) -> dict[str, str]:
    """The vendor's hand-over settings: its public key, in Finland."""
    return {
        "CONSENTRY_PROFILE_VENDOR_AGE_RECIPIENT": str(vendor_identity.to_public()),
        "CONSENTRY_PROFILE_VENDOR_COUNTRY": "FI",
    }


@pytest.fixture
def settings(
    database_url: str,
    settings_env: dict[str, str],
    redis_url: str,
    smtp_server: MailCatcher,
    transfer_dir: Path,
    vendor_env: dict[str, str],
) -> Settings:
    """The shared test settings, plus a real relay and the profile vendor.
    Overrides tests/conftest.py's, so the app under test uses it too."""
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": database_url,
            "CONSENTRY_REDIS_URL": redis_url,
            "CONSENTRY_SMTP_HOST": "127.0.0.1",
            "CONSENTRY_SMTP_PORT": str(smtp_server.port),
            "CONSENTRY_PUBLIC_URL": "https://consentry.example.fi",
            "CONSENTRY_CONTROLLER_NAME": "Valmennus Esimerkki Oy",
            "CONSENTRY_PROFILE_TRANSFER_DIR": str(transfer_dir),
            "CONSENTRY_PROFILE_VENDOR_NAME": VENDOR,
            "CONSENTRY_PROFILE_TRANSFER_NOTICE_DAYS": str(NOTICE_DAYS),
            "CONSENTRY_ENGAGEMENT_RETENTION_DAYS": str(ENGAGEMENT_DAYS),
            "CONSENTRY_REQUEST_RETENTION_DAYS": str(REQUEST_DAYS),
            **vendor_env,
        }
    )


@pytest.fixture
def cipher() -> DataCipher:
    return DataCipher(TEST_DATA_KEY)


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(TEST_SECRET)


@pytest.fixture
def tools(settings: Settings, cipher: DataCipher, signer: TokenSigner) -> Tools:
    """Run tools without a relay; tests of the notice build their own pool."""
    return Tools(settings=settings, cipher=cipher, signer=signer, smtp=None)


NewContact = Callable[..., Awaitable[int]]


@pytest.fixture
def new_contact(admin: Client) -> NewContact:
    """Create a contact through the API, with an address of its own unless
    ``email=None``."""

    async def create(**overrides: Any) -> int:
        return await add_contact(admin, **{"email": unique_email("person"), **overrides})

    return create


NewProfile = Callable[..., Awaitable[int]]


@pytest.fixture
def new_profile(sessionmaker: SessionMaker, cipher: DataCipher) -> NewProfile:
    async def create(
        contact_id: int,
        completed_on: date,
        *,
        vendor_account: bool = True,
        content: str | dict[str, Any] = "D: high, I: medium",
        **fields: Any,
    ) -> int:
        async with session_scope(sessionmaker) as session:
            profile = Profile(
                contact_id=contact_id,
                completed_on=completed_on,
                has_vendor_account=vendor_account,
                content_encrypted=seal_content(content, cipher),
                **fields,
            )
            session.add(profile)
            await session.flush()
            assert profile.id is not None
            return profile.id

    return create


async def hold(sessionmaker: SessionMaker, contact_id: int) -> None:
    async with session_scope(sessionmaker) as session:
        session.add(LegalHold(contact_id=contact_id, reason="a pending court case"))


async def restrict(sessionmaker: SessionMaker, contact_id: int) -> None:
    async with session_scope(sessionmaker) as session:
        await session.exec(
            update(Contact)  # type: ignore[call-overload]
            .where(col(Contact.id) == contact_id)
            .values(restricted_at=clock.now())
        )


async def add_events(sessionmaker: SessionMaker, *moments: datetime) -> None:
    async with session_scope(sessionmaker) as session:
        for moment in moments:
            session.add(
                EngagementEvent(
                    stream_id=f"{next(_numbers)}-0", kind=EngagementKind.OPEN, occurred_at=moment
                )
            )


async def add_call_list(
    sessionmaker: SessionMaker, contact_ids: list[int], *, expires_at: datetime
) -> int:
    async with session_scope(sessionmaker) as session:
        campaign = Campaign(
            name="Calls", channel=CampaignChannel.PHONE, purpose=Purpose.DIRECT_MARKETING
        )
        session.add(campaign)
        await session.flush()
        assert campaign.id is not None
        call_list = CallList(
            campaign_id=campaign.id,
            status=CallListStatus.READY,
            entry_count=len(contact_ids),
            expires_at=expires_at,
        )
        session.add(call_list)
        await session.flush()
        assert call_list.id is not None
        for contact_id in contact_ids:
            session.add(CallListEntry(call_list_id=call_list.id, contact_id=contact_id))
        return call_list.id


async def add_request(sessionmaker: SessionMaker, *, closed_at: datetime | None) -> int:
    async with session_scope(sessionmaker) as session:
        request = DataSubjectRequest(
            type=RequestType.ACCESS,
            channel=RequestChannel.EMAIL,
            received_on=date(2020, 1, 1),
            due_on=date(2020, 2, 1),
            status=RequestStatus.DONE if closed_at else RequestStatus.OPEN,
            closed_at=closed_at,
        )
        session.add(request)
        await session.flush()
        assert request.id is not None
        return request.id


def helsinki(day: date, at: time = time(12)) -> datetime:
    return datetime.combine(day, at, tzinfo=clock.LOCAL_ZONE)


async def run_on(
    sessionmaker: SessionMaker, tools: Tools, frozen_clock: FrozenClock, day: date
) -> RunReport:
    frozen_clock.set(day, at=time(2, 30))
    return await run_retention(sessionmaker, today=day, tools=tools)


async def actions(sessionmaker: SessionMaker) -> list[tuple[str, str, str, date | None]]:
    async with sessionmaker() as session:
        rows = await run(
            session,
            select(
                col(RetentionAction.rule),
                col(RetentionAction.action),
                col(RetentionAction.reference),
                col(RetentionAction.deadline),
            ).order_by(col(RetentionAction.id)),
        )
        return [tuple(row) for row in rows.all()]


def opened_package(path: Path, identity: pyrage.x25519.Identity) -> dict[str, Any]:
    """A package as the vendor reads it: decrypted with its identity."""
    loaded: dict[str, Any] = json.loads(pyrage.decrypt(path.read_bytes(), [identity]))
    return loaded


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def package_files(directory: Path) -> list[Path]:
    """Every file in the transfer directory (temporary ones too); none if it is missing."""
    return sorted(directory.iterdir()) if directory.exists() else []


async def profile(sessionmaker: SessionMaker, profile_id: int) -> Profile:
    async with sessionmaker() as session:
        found = await session.get(Profile, profile_id)
        assert found is not None
        return found


async def plan_on(sessionmaker: SessionMaker, settings: Settings, as_of: date) -> Plan:
    async with sessionmaker() as session:
        return await plan(session, as_of=as_of, settings=settings)


async def items_on(
    sessionmaker: SessionMaker, settings: Settings, as_of: date, rule: str
) -> list[PlanItem]:
    return [
        item for item in (await plan_on(sessionmaker, settings, as_of)).items if item.rule == rule
    ]
