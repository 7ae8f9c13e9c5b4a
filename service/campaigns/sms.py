"""SMS campaigns: their texts, compiled for sending, and what each costs in
segments (service.delivery.sms_segments), opt-out line included; and the
campaign batch's SMS side (service.campaigns.sending.CampaignBatch): each
recipient's number and message, and how a gateway's answers are recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from service.campaigns import queries
from service.campaigns.outcomes import Row
from service.campaigns.schemas import SmsSize, SmsSizes
from service.consent.unsubscribe import SMS_UNSUBSCRIBE
from service.delivery import sms_segments
from service.delivery.batch import Result
from service.delivery.messenger import Outgoing, Unmakeable
from service.errors import Conflict
from service.labels import N_
from service.mail.sandbox import Limits
from service.mail.sms import SmsRenderer
from service.mail.templates import LANGUAGES
from service.mail.views import Recipient
from service.models import Campaign
from service.models.enums import CampaignChannel, FailureReason
from service.settings import Settings
from service.tokens import TokenSigner
from service.validation import InvalidValue, normalize_phone

if TYPE_CHECKING:
    from service.campaigns.sending import Sender


def texts(campaign: Campaign) -> tuple[str, dict[str, str]]:
    """An SMS campaign's text and its translations' texts, by language."""
    translations = {lang: body["body_text"] for lang, body in (campaign.translations or {}).items()}
    return campaign.body_text, translations


def renderer_for(campaign: Campaign, settings: Settings) -> SmsRenderer:
    """An SMS campaign compiled for sending (CPU-bound, as ``renderer_for``)."""
    return renderer_factory(campaign, settings)()


def renderer_factory(campaign: Campaign, settings: Settings) -> Callable[[], SmsRenderer]:
    assert campaign.id is not None
    default, translations = texts(campaign)
    return partial(
        SmsRenderer,
        campaign_id=campaign.id,
        campaign_name=campaign.name,
        default=default,
        translations=translations,
        sender=settings.controller_name,
        limits=Limits.from_settings(settings),
    )


def size(text: str) -> SmsSize:
    counted = sms_segments.count(text)
    return SmsSize(
        encoding=counted.encoding.value,
        segments=counted.segments,
        characters=counted.characters,
        units=counted.units,
    )


def unsubscribe_url(
    settings: Settings, signer: TokenSigner, contact_id: int, campaign_id: int
) -> str:
    """An SMS's opt-out link: the compact token, bound to SMS by its purpose
    (an email's long token is about 58 characters; this one 22 for a contact id
    under 2**28 and a campaign id under 2**14)."""
    token = signer.sign_compact(SMS_UNSUBSCRIBE, contact_id, campaign_id)
    return f"{settings.public_url}/u/{token}"


def sample_unsubscribe_url(settings: Settings, campaign: Campaign) -> str:
    """An opt-out link as long as a real one (a seven-digit contact id) that
    works for nobody: what previews and segment counts show."""
    assert campaign.id is not None
    token = TokenSigner(settings.secret_key).sign_compact(SMS_UNSUBSCRIBE, 9_999_999, campaign.id)
    return f"{settings.public_url}/u/{'x' * len(token)}"


async def sizes(campaign: Campaign, settings: Settings) -> SmsSizes:
    """Each version of an SMS campaign as a sample contact in its language
    would get it, opt-out line included, and what it costs in segments.
    The main text is counted for the first language without a translation
    (none when every language has one: nobody gets it)."""
    if campaign.channel is not CampaignChannel.SMS:
        raise Conflict(N_("only SMS campaigns are counted in segments"), reason="not_sms")
    make_sms = renderer_factory(campaign, settings)
    url = sample_unsubscribe_url(settings, campaign)
    translated = set((campaign.translations or {}).keys())
    languages = [lang for lang in LANGUAGES if lang in translated]
    untranslated = [lang for lang in LANGUAGES if lang not in translated]
    languages += untranslated[:1]

    def render_all() -> dict[str, str]:
        renderer = make_sms()
        texts = {}
        for language in languages:
            sample = Recipient(
                full_name="Aino Virtanen", nickname=None, language=language, gender="unspecified"
            )
            version, text = renderer.render(sample, url)
            texts[version] = text
        return texts

    texts = await asyncio.to_thread(render_all)
    return SmsSizes(versions={v: size(t) for v, t in texts.items()}, text=texts)


# -- sending ------------------------------------------------------------------------


async def with_phones(session: Any, rows: list[Row]) -> list[Row]:
    """An SMS chunk's rows with each contact's phone number (one query)."""
    phones = await queries.phones_of(session, {row.contact_id for row in rows})
    return [replace(row, phone=phones.get(row.contact_id)) for row in rows]


def prepare(sender: Sender, campaign: Campaign, renderer: SmsRenderer, row: Row) -> Outgoing:
    """One recipient's text message: the rendered text, then the opt-out line
    with the short unsubscribe link (a compact signed token naming contact and
    campaign, bound to the SMS channel) and STOP.

    The message id names campaign and recipient like an email's Message-ID
    (a re-sent message keeps it; a gateway may de-duplicate on it)."""
    assert campaign.id is not None
    try:
        to = normalize_phone(row.phone or "")
    except InvalidValue as exc:
        raise Unmakeable(FailureReason.ADDRESS_NOT_DELIVERABLE, exc) from exc
    try:
        url = unsubscribe_url(sender.settings, sender.signer, row.contact_id, campaign.id)
        message_id = (
            f"c{campaign.id}.r{row.id}."
            f"{sender.signer.message_tag(campaign.id, row.id, campaign.message_key)}"
        )
    except Exception as exc:
        raise Unmakeable(FailureReason.UNEXPECTED_ERROR, exc) from exc
    try:
        _, text = renderer.render(row.recipient, url)
    except Exception as exc:
        raise Unmakeable(FailureReason.RENDER_ERROR, exc) from exc
    return Outgoing(recipient=to, content=text.encode(), message_id=message_id)


def as_recorded(campaign: Campaign | None, results: Sequence[Result[Row]]) -> Sequence[Result[Row]]:
    """An SMS gateway's "invalid number" fails that recipient as an address
    that cannot be delivered to, and suppresses nothing: the suppression
    list would keep the number from phone calls too (a landline can be
    called, not texted), and an email address the person has is not at fault."""
    if campaign is None or campaign.channel is not CampaignChannel.SMS:
        return results
    return [
        Result(
            r.row,
            replace(r.delivery, address_rejected=False),
            FailureReason.ADDRESS_NOT_DELIVERABLE,
        )
        if r.delivery.address_rejected
        else r
        for r in results
    ]
