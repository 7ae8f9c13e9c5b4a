"""Email campaigns: one recipient's message, as the campaign batch
(service.campaigns.sending.CampaignBatch) makes it — its signed links, the
rendered bodies, the headers (one-click unsubscribe, List-Id, Reply-To, what
an ESP needs), the Message-ID and the VERP return path that both name the
row. The SMS side is service.campaigns.sms."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.campaigns.outcomes import Row
from service.delivery import verp
from service.delivery.messenger import Outgoing, Unmakeable
from service.mail.message import build_message
from service.mail.render import HEADER_UNSAFE, CampaignRenderer, Links
from service.models import Campaign
from service.models.enums import FailureReason
from service.settings import Settings

if TYPE_CHECKING:
    from service.campaigns.sending import Sender


def _links(sender: Sender, campaign_id: int, row: Row) -> tuple[Links, str]:
    """The recipient's signed links, and the unsubscribe token."""
    public = sender.settings.public_url
    unsubscribe = sender.signer.sign("unsubscribe", row.contact_id, campaign_id)
    signer = sender.signer
    # Clicks of people who did not allow tracking are counted, not attributed:
    # their links carry no contact (0), and they get no open pixel.
    owner = row.contact_id if row.tracking else 0

    def click_url(index: int) -> str:
        return f"{public}/t/c/{signer.sign('click', owner, campaign_id, index)}"

    links = Links(
        unsubscribe_url=f"{public}/u/{unsubscribe}",
        preferences_url=f"{public}/p/{signer.sign('preferences', row.contact_id)}",
        click_url=click_url,
        open_pixel_url=(
            f"{public}/t/o/{signer.sign('open', row.contact_id, campaign_id)}.gif"
            if row.tracking
            else None
        ),
        stop_tracking_url=f"{public}/u/{unsubscribe}?only=tracking" if row.tracking else None,
    )
    return links, unsubscribe


def prepare(sender: Sender, campaign: Campaign, renderer: CampaignRenderer, row: Row) -> Outgoing:
    """One recipient's message; ``Unmakeable`` with the reason when it cannot be made."""
    assert campaign.id is not None
    campaign_id = campaign.id
    try:
        links, unsubscribe = _links(sender, campaign_id, row)
    except Exception as exc:
        raise Unmakeable(FailureReason.UNEXPECTED_ERROR, exc) from exc
    try:
        rendered = renderer.render(row.recipient, links)
    except Exception as exc:
        raise Unmakeable(FailureReason.RENDER_ERROR, exc) from exc
    # The Message-ID and the VERP return path carry the same keyed token, so
    # a bounce names its row whether it quotes the original or not.
    verp_token = verp.token(
        campaign_id, row.id, sender.signer.message_tag(campaign_id, row.id, campaign.message_key)
    )
    message_id = f"<{verp_token}@{sender.domain}>"
    try:
        message = build_message(
            rendered,
            mail_from=sender.settings.mail_from,
            to=row.email,
            message_id=message_id,
            list_id=f"<campaign-{campaign_id}.{sender.domain}>",
            unsubscribe_url=links.unsubscribe_url,
            unsubscribe_mailto=(
                f"mailto:{sender.settings.unsubscribe_address}?subject=unsubscribe%20{unsubscribe}"
            ),
            reply_to=sender.settings.reply_to,
            extra_headers=_esp_headers(sender.settings, message_id),
        )
    except Exception as exc:
        reason = (
            FailureReason.ADDRESS_NOT_DELIVERABLE
            if not deliverable(row.email)
            else FailureReason.RENDER_ERROR
        )
        raise Unmakeable(reason, exc) from exc
    return Outgoing(
        recipient=row.email,
        content=message,
        message_id=message_id,
        envelope_from=verp.address(sender.settings.bounce_address, verp_token),
    )


def _esp_headers(settings: Settings, message_id: str) -> dict[str, str]:
    """What an ESP needs to hand our Message-ID back in its webhook events.
    Postmark gives its own id to each message and returns only the metadata
    set by ``X-PM-Metadata-*`` fields (service.hooks.postmark reads it)."""
    if settings.hooks.postmark_user is not None:
        return {"X-PM-Metadata-message-id": message_id}
    return {}


def deliverable(address: str) -> bool:
    """Whether an address can be put on an SMTP command line at all."""
    return bool(address) and not HEADER_UNSAFE.search(address) and "@" in address
