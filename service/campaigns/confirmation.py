"""The second look before a campaign goes out from the staff pages.

Sending or scheduling from ``/app`` is two steps: ``look`` counts the audience
now (the gate's numbers, as ``GET /campaigns/{id}/audience`` gives them) and
signs what was shown into a confirmation token; ``check`` refuses the final
POST unless it carries that token, unexpired, made for this campaign, this
staff member and this send time, and unless neither the campaign nor its
audience has changed since. A change asks the member to look again.

The token holds integers only (service.tokens): the campaign and user ids, the
campaign's ``updated_at`` in microseconds, a digest of the counts, the expiry
and the send time. No personal data. It does not stop a replay on its own: the
send moves the campaign out of ``draft``, which changes ``updated_at``, so the
same token is stale afterwards.

The JSON API's ``POST /campaigns/{id}/send`` does not pass here (CONTRACT.md:
the second look is a step of the web UI).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.campaigns import service
from service.campaigns.schemas import Audience
from service.errors import Conflict, DomainError
from service.labels import N_
from service.models import Campaign
from service.models.enums import CampaignChannel, CampaignStatus
from service.settings import Settings
from service.tokens import InvalidToken, TokenSigner

PURPOSE = "campaign-send-confirmation"
VALID_FOR = timedelta(minutes=15)
_EPOCH = datetime(1970, 1, 1)
_MISSING = "nothing was sent: confirm the send on its confirmation page first"


class Unconfirmed(DomainError):
    """The final step came without a valid confirmation of its own (400).
    ``why``: ``missing`` (none, or forged) or ``foreign`` (another campaign,
    member or send time)."""

    status_code = 400

    def __init__(self, detail: str, *, why: str) -> None:
        super().__init__(detail)
        self.why = why


class Stale(Conflict):
    """The confirmation was real, but the campaign or its audience has changed
    since, or it expired: look again (409). ``why``: ``expired``,
    ``campaign`` or ``audience``."""

    def __init__(self, detail: str, *, why: str) -> None:
        super().__init__(detail, reason="stale")
        self.why = why


@dataclass(frozen=True, slots=True)
class SendConfirmation:
    """What the member is asked to confirm, and the token proving they saw it."""

    campaign_id: int
    channel: CampaignChannel
    audience: Audience
    send_at: datetime | None  # None: now
    expires_at: datetime
    token: str


def _micros(value: datetime) -> int:
    """A stored time as integer microseconds (UTC), whether the database gave
    it back with its zone or without (SQLite)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return (value - _EPOCH) // timedelta(microseconds=1)


def _digest(audience: Audience) -> int:
    """The counts shown, as one number: any change of any count changes it."""
    counts = ";".join(
        f"{reason.value}={n}"
        for reason, n in sorted(audience.excluded.items(), key=lambda i: i[0].value)
    )
    text = f"{audience.total}|{audience.eligible}|{counts}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _sendable(campaign: Campaign) -> None:
    """The same refusals as ``service.request_send``, before anything is shown."""
    if campaign.channel is CampaignChannel.PHONE:
        raise Conflict(N_("a phone campaign is not sent; build its call list"), reason="not_email")
    if campaign.status is not CampaignStatus.DRAFT:
        raise Conflict(f"a {campaign.status.value} campaign cannot be sent", reason="wrong_status")


async def look(
    session: AsyncSession,
    *,
    campaign: Campaign,
    settings: Settings,
    signer: TokenSigner,
    user_id: int,
    send_at: datetime | None,
) -> SendConfirmation:
    """The audience now and a token for sending it (at ``send_at``, or now)."""
    assert campaign.id is not None
    _sendable(campaign)
    audience = await service.audience(session, campaign=campaign, settings=settings)
    expires_at = clock.now() + VALID_FOR
    token = signer.sign(
        PURPOSE,
        campaign.id,
        user_id,
        _micros(campaign.updated_at),
        _digest(audience),
        int(expires_at.timestamp()),
        _micros(send_at) if send_at is not None else 0,
    )
    return SendConfirmation(
        campaign_id=campaign.id,
        channel=campaign.channel,
        audience=audience,
        send_at=send_at,
        expires_at=expires_at,
        token=token,
    )


async def check(
    session: AsyncSession,
    *,
    campaign: Campaign,
    settings: Settings,
    signer: TokenSigner,
    user_id: int,
    token: str,
    send_at: datetime | None,
) -> None:
    """Raise ``Unconfirmed`` for a missing, forged or foreign token, ``Stale``
    when the campaign or its audience changed since it was made, or it expired."""
    try:
        ids = signer.verify(token, PURPOSE)
    except InvalidToken:
        raise Unconfirmed(_MISSING, why="missing") from None
    if len(ids) != 6:
        raise Unconfirmed(_MISSING, why="missing")
    campaign_id, signed_user, updated, digest, expires, signed_send_at = ids
    wanted_send_at = _micros(send_at) if send_at is not None else 0
    if (campaign_id, signed_user, signed_send_at) != (campaign.id, user_id, wanted_send_at):
        raise Unconfirmed(
            "nothing was sent: that confirmation was for another campaign, person or time",
            why="foreign",
        )
    _sendable(campaign)
    if clock.now().timestamp() > expires:
        raise Stale("the confirmation has expired: look again", why="expired")
    if updated != _micros(campaign.updated_at):
        raise Stale("the campaign has changed since it was confirmed", why="campaign")
    audience = await service.audience(session, campaign=campaign, settings=settings)
    if digest != _digest(audience):
        raise Stale("the audience has changed since it was confirmed", why="audience")
