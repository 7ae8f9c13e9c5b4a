"""The profile-transfer notice (the notice §6: "the person is informed of the
transfer and may forbid it"): rendered in the person's language from
``templates/email/transactional/profile_transfer_notice.{html,txt}.j2`` and
delivered as system mail (service.delivery.transactional).

It is a notice the law requires, not marketing: it goes whatever the
person's marketing choices, and carries no unsubscribe header; its one link,
``{PUBLIC_URL}/f/{token}``, forbids the transfer. The token holds only the
profile's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from service import rules
from service.delivery import transactional
from service.delivery.messenger import Delivery
from service.delivery.smtp import SmtpPool
from service.delivery.transactional import SystemMail
from service.mail.render import Controller, Rendered
from service.retention import texts
from service.settings import Settings
from service.tokens import TokenSigner

TEMPLATE = "profile_transfer_notice"
TOKEN_PURPOSE = "profile_transfer"  # noqa: S105  (a token purpose, not a secret)


@dataclass(frozen=True, slots=True)
class TransferNotice:
    """What one notice says, and to whom."""

    profile_id: int
    email: str
    name: str
    language: str
    completed_on: date
    transfer_on: date


def forbid_url(settings: Settings, signer: TokenSigner, profile_id: int) -> str:
    return f"{settings.public_url}/f/{signer.sign(TOKEN_PURPOSE, profile_id)}"


def notice_mail(notice: TransferNotice, *, settings: Settings, signer: TokenSigner) -> SystemMail:
    lang = notice.language if notice.language in texts.LANGUAGES else "en"
    words = texts.filled(
        texts.NOTICE_TEXT[lang],
        name=notice.name,
        controller=settings.controller_name,
        privacy_contact=settings.privacy_contact,
        completed=rules.format_date(notice.completed_on, lang),
        date=rules.format_date(notice.transfer_on, lang),
        to_vendor=texts.to_vendor(lang, settings.profile_vendor_name),
    )
    values = {
        "lang": lang,
        "t": words,
        "forbid_url": forbid_url(settings, signer, notice.profile_id),
        "controller": Controller.from_settings(settings),
    }
    return SystemMail(
        template=TEMPLATE,
        to=notice.email,
        subject=words["subject"],
        language=lang,
        values=values,
        kind="transfer-notice",
    )


def render_notice(notice: TransferNotice, *, settings: Settings, signer: TokenSigner) -> Rendered:
    return transactional.render(notice_mail(notice, settings=settings, signer=signer))


async def send_notice(
    smtp: SmtpPool, notice: TransferNotice, *, settings: Settings, signer: TokenSigner
) -> Delivery:
    """Render and deliver one notice; the SMTP outcome, never raised."""
    mail = notice_mail(notice, settings=settings, signer=signer)
    return await transactional.send(smtp, mail, settings=settings)
