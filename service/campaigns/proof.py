"""A proof: one copy of an email campaign, sent to the staff member who asks.

Rendered as a recipient gets it, for a sample contact in the chosen language,
through the campaign's own message builder and the email messenger (DKIM
signed like the real thing), with "[Test]" before the subject. It goes to the
signed-in member's own address only, is never on the send list, never
counted, never tracked, and its unsubscribe link leads nowhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets

from service.campaigns.service import renderer_for
from service.delivery import dkim
from service.delivery.email import EmailMessenger
from service.delivery.messenger import Outcome, Outgoing
from service.delivery.smtp import SmtpConfig, SmtpPool
from service.errors import Conflict, InvalidInput
from service.labels import N_
from service.mail.message import build_message
from service.mail.render import Links, TemplateError
from service.mail.views import Recipient
from service.models import Campaign
from service.models.enums import CampaignChannel
from service.settings import Settings

PREFIX = "[Test] "


def sample(language: str) -> Recipient:
    """Who the proof is rendered for: the save-time check's sample contact."""
    return Recipient(
        full_name="Aino Virtanen",
        nickname="Aino",
        language=language,
        gender="unspecified",
        employer="Esimerkki Oy",
        position=None,
        city="Oulu",
    )


def _message(campaign: Campaign, settings: Settings, to: str, language: str) -> tuple[bytes, str]:
    rendered = renderer_for(campaign, settings).render(
        sample(language), Links(unsubscribe_url=f"{settings.public_url}/u/TEST")
    )
    rendered = dataclasses.replace(rendered, subject=PREFIX + rendered.subject)
    domain = settings.mail_from_address.rpartition("@")[2]
    message_id = f"<proof.{secrets.token_hex(12)}@{domain}>"
    content = build_message(
        rendered,
        mail_from=settings.mail_from,
        to=to,
        message_id=message_id,
        list_id=f"<campaign-{campaign.id}.{domain}>",
        unsubscribe_url=f"{settings.public_url}/u/TEST",
        unsubscribe_mailto=f"mailto:{settings.unsubscribe_address}?subject=unsubscribe%20TEST",
        reply_to=settings.reply_to,
    )
    return content, message_id


async def send_proof(
    *, campaign: Campaign, settings: Settings, to: str, language: str = "fi"
) -> None:
    """Send the proof to ``to`` (the caller passes the member's own address).
    422 when the campaign cannot be rendered, 409 when no relay takes it."""
    if campaign.channel is not CampaignChannel.EMAIL:
        raise Conflict(N_("only an email campaign has a test send"), reason="not_email")
    if settings.smtp_host is None:
        raise Conflict(N_("no mail relay is configured (CONSENTRY_SMTP_HOST)"), reason="no_relay")
    try:
        content, message_id = await asyncio.to_thread(_message, campaign, settings, to, language)
    except TemplateError as exc:
        raise InvalidInput(
            N_("the message cannot be rendered"), fields={p.field: p.message for p in exc.problems}
        ) from exc
    except ValueError as exc:  # a header the message builder refuses
        raise InvalidInput(f"the message cannot be made: {exc}") from exc
    async with SmtpPool(SmtpConfig.from_settings(settings), size=1) as pool:
        messenger = EmailMessenger(
            pool,
            envelope_from=settings.bounce_address,
            signer=dkim.signer_from_settings(settings),
        )
        delivery = await messenger.send(
            Outgoing(recipient=to, content=content, message_id=message_id)
        )
    if delivery.outcome is not Outcome.SENT:
        code = f" ({delivery.code})" if delivery.code is not None else ""
        raise Conflict(
            f"the relay did not take the test message: {delivery.outcome.value}{code}",
            reason="not_sent",
        )
