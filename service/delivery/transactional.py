"""System mail: notices and confirmations a person gets because of something
they did or the law requires, never marketing.

One way for all of it (the profile-transfer notice today; signup
confirmations and staff invitations next): ``send`` renders
``templates/email/transactional/{template}.{html,txt}.j2`` with the values
given, builds a plain multipart message, and delivers it through the email
messenger. It is never tracked (no pixel, no signed click links), never
counted against the frequency cap, carries no unsubscribe header, and goes
from its own addresses: ``CONSENTRY_TRANSACTIONAL_FROM`` and, as envelope
sender, ``CONSENTRY_TRANSACTIONAL_RETURN_PATH`` (defaults: the campaign From
and bounce address).
"""

from __future__ import annotations

import email.policy
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from service.delivery import dkim
from service.delivery.email import EmailMessenger
from service.delivery.messenger import Delivery, Outgoing
from service.delivery.smtp import SmtpPool
from service.mail.render import DEFAULT_LAYOUT_DIR, Rendered
from service.settings import Settings

FOLDER = "transactional"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file a system mail carries (a signup's copy of the consent record)."""

    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "json"


@dataclass(frozen=True, slots=True)
class SystemMail:
    """One system mail: which template, to whom, and what it says."""

    template: str  # a name under templates/email/transactional/, no extension
    to: str
    subject: str
    language: str
    values: Mapping[str, Any]
    kind: str  # names the mail in its Message-ID, e.g. "transfer-notice"
    attachments: tuple[Attachment, ...] = ()


@lru_cache(maxsize=4)
def _environment(layout_dir: Path) -> jinja2.Environment:
    # Our own templates, not staff-written: a plain environment, autoescaped
    # HTML, and every value required.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(layout_dir),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
        undefined=jinja2.StrictUndefined,
    )


def render(mail: SystemMail, *, layout_dir: Path = DEFAULT_LAYOUT_DIR) -> Rendered:
    environment = _environment(layout_dir)
    name = f"{FOLDER}/{mail.template}"
    return Rendered(
        language=mail.language,
        subject=mail.subject,
        html=environment.get_template(f"{name}.html.j2").render(mail.values),
        text=environment.get_template(f"{name}.txt.j2").render(mail.values),
    )


def message_id(kind: str, domain: str) -> str:
    """A Message-ID that names the kind of mail and nobody in it."""
    return f"<{kind}.{secrets.token_hex(12)}@{domain}>"


def build(
    rendered: Rendered,
    *,
    mail_from: str,
    to: str,
    message_id: str,
    attachments: tuple[Attachment, ...] = (),
) -> bytes:
    """A multipart/alternative message. Few are sent, so the ``email``
    package's cost does not matter here (unlike service.mail.message); it
    refuses header values with line breaks."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = mail_from
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(datetime.now(UTC))  # "+0000", never "-0000"
    message["Message-ID"] = message_id
    # RFC 3834: an automatic message; out-of-office replies should not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text, cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    for attachment in attachments:
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
        )
    return message.as_bytes()


async def send(smtp: SmtpPool, mail: SystemMail, *, settings: Settings) -> Delivery:
    """Render and deliver one system mail; the outcome, never raised for the recipient."""
    rendered = render(mail)
    domain = settings.transactional_from.rpartition("@")[2].rstrip(">")
    mid = message_id(mail.kind, domain)
    content = build(
        rendered,
        mail_from=settings.transactional_from,
        to=mail.to,
        message_id=mid,
        attachments=mail.attachments,
    )
    messenger = EmailMessenger(
        smtp,
        envelope_from=settings.transactional_return_path,
        signer=dkim.signer_from_settings(settings),
    )
    return await messenger.send(Outgoing(recipient=mail.to, content=content, message_id=mid))
