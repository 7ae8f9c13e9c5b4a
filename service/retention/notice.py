"""The profile-transfer notice (the notice §6: "the person is informed of the
transfer and may forbid it"): rendered in the person's language from
``templates/email/transactional/profile_transfer_notice.{html,txt}.j2`` and
delivered through the configured SMTP relay.

It is a notice the law requires, not marketing: it goes whatever the
person's marketing choices, and carries no unsubscribe header; its one link,
``{PUBLIC_URL}/f/{token}``, forbids the transfer. The token holds only the
profile's id.
"""

from __future__ import annotations

import email.policy
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path

import jinja2

from service.mail.render import DEFAULT_LAYOUT_DIR, Controller, Rendered
from service.mail.smtp import Delivery, SmtpPool
from service.retention import texts
from service.settings import Settings
from service.tokens import TokenSigner

TEMPLATE = "transactional/profile_transfer_notice"
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


@lru_cache(maxsize=4)
def _environment(layout_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(layout_dir),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
        undefined=jinja2.StrictUndefined,
    )


def forbid_url(settings: Settings, signer: TokenSigner, profile_id: int) -> str:
    return f"{settings.public_url}/f/{signer.sign(TOKEN_PURPOSE, profile_id)}"


def render_notice(
    notice: TransferNotice,
    *,
    settings: Settings,
    signer: TokenSigner,
    layout_dir: Path = DEFAULT_LAYOUT_DIR,
) -> Rendered:
    lang = notice.language if notice.language in texts.LANGUAGES else "en"
    words = texts.filled(
        texts.NOTICE_TEXT[lang],
        name=notice.name,
        controller=settings.controller_name,
        privacy_contact=settings.privacy_contact,
        completed=texts.format_date(notice.completed_on, lang),
        date=texts.format_date(notice.transfer_on, lang),
        to_vendor=texts.to_vendor(lang, settings.profile_vendor_name),
    )
    values = {
        "lang": lang,
        "t": words,
        "forbid_url": forbid_url(settings, signer, notice.profile_id),
        "controller": Controller.from_settings(settings),
    }
    environment = _environment(layout_dir)
    return Rendered(
        language=lang,
        subject=words["subject"],
        html=environment.get_template(f"{TEMPLATE}.html.j2").render(values),
        text=environment.get_template(f"{TEMPLATE}.txt.j2").render(values),
    )


def build_notice_message(rendered: Rendered, *, mail_from: str, to: str, domain: str) -> bytes:
    """A multipart/alternative message. Few are sent, so the ``email``
    package's cost does not matter here (unlike service.mail.message); it
    refuses header values with line breaks."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = mail_from
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(datetime.now(UTC))  # "+0000", never "-0000"
    message["Message-ID"] = f"<transfer-notice.{secrets.token_hex(12)}@{domain}>"
    # RFC 3834: an automatic message; out-of-office replies should not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text, cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return message.as_bytes()


async def send_notice(
    smtp: SmtpPool, notice: TransferNotice, *, settings: Settings, signer: TokenSigner
) -> Delivery:
    """Render and deliver one notice; the SMTP outcome, never raised."""
    rendered = render_notice(notice, settings=settings, signer=signer)
    message = build_notice_message(
        rendered,
        mail_from=settings.mail_from,
        to=notice.email,
        domain=settings.mail_from_address.rpartition("@")[2],
    )
    # The envelope sender is bare, and where delivery reports go, as for campaigns.
    return await smtp.send(sender=settings.bounce_address, recipient=notice.email, message=message)
