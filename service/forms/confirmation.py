"""A signup's confirmation mail (double opt-in), made by the worker job
``send_signup_confirmation`` (workers/forms.py), never by the request: the
random token is made here, its hash stored on the signup, and the token
itself goes only into the mail — it never travels through Redis.

The mail is system mail (service.delivery.transactional): no tracking, no
marketing content; in the submission's language it quotes word for word the
texts the person agreed to, each with its version and SHA-256, holds the one
link ``{PUBLIC_URL}/c/{token}``, says how long it is valid, and what happens
if it was not them. It carries the person's copy of the consent record as
submitted (``consent-request.json``: the receipt's fields with the event
state ``requested`` and no confirmation time yet, docs/receipts.md); the
receipts of the confirmed grants are in their access export (``/me``).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock, onetime, rules
from service.consent import receipts
from service.delivery import transactional
from service.delivery.messenger import Delivery
from service.delivery.smtp import SmtpPool
from service.delivery.transactional import Attachment, SystemMail
from service.forms import signup as signups
from service.forms.texts import LANGUAGES, MAIL_TEXT
from service.mail.render import Controller
from service.models import Contact, Signup, SignupForm
from service.models.enums import Channel
from service.settings import Settings

TEMPLATE = "signup_confirmation"
COPY_FILENAME = "consent-request.json"
KIND = "signup-confirmation"


def confirm_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url}/c/{token}"


def _format_day(moment: datetime, lang: str) -> str:
    return rules.format_date(rules.local_date(moment), lang)


async def prepare(
    session: AsyncSession, signup_id: int, *, settings: Settings
) -> SystemMail | None:
    """Give the signup a fresh link and make its mail; None when no mail is
    due any more (confirmed, expired, gone, no email address, or the address
    may no longer get anything). The caller commits before sending, so the
    link in the mail always works."""
    signup = await session.get(Signup, signup_id)
    if signup is None or signup.confirmed_at is not None:
        return None
    expires_at = signups._aware(signup.expires_at)
    if expires_at <= clock.now():
        return None
    contact = await session.get(Contact, signup.contact_id)
    form = await session.get(SignupForm, signup.form_id)
    if contact is None or form is None or not contact.email:
        return None
    channels = {Channel(offer["channel"]) for offer in signup.offers}
    if await signups.blocked(session, contact, channels):
        return None
    token, token_hash = onetime.new_token()
    signup.token_hash = token_hash
    session.add(signup)
    await session.flush()
    lang = signup.language if signup.language in LANGUAGES else "en"
    words = dict(MAIL_TEXT[lang])
    days = settings.doi_expiry_days
    words["asked"] = words["asked"].format(form=form.name)
    words["valid"] = words["valid"].format(until=_format_day(expires_at, lang), days=days)
    words["not_you"] = words["not_you"].format(days=days)
    texts = [
        {**text, "version_line": words["version"].format(**text)}
        for text in await signups.shown_texts(session, signup)
    ]
    copy = person_copy(signup, form, texts, settings=settings)
    return SystemMail(
        template=TEMPLATE,
        to=contact.email,
        subject=words["subject"],
        language=lang,
        values={
            "lang": lang,
            "t": words,
            "texts": texts,
            "confirm_url": confirm_url(settings, token),
            "controller": Controller.from_settings(settings),
        },
        kind=KIND,
        attachments=(
            Attachment(COPY_FILENAME, json.dumps(copy, ensure_ascii=False, indent=2).encode()),
        ),
    )


def person_copy(
    signup: Signup, form: SignupForm, texts: list[dict[str, Any]], *, settings: Settings
) -> dict[str, Any]:
    """The person's copy of what they submitted, in the receipt's terms
    (ISO/IEC TS 27560 event state ``requested``): the form and its version,
    each consent asked for with the words shown, their version and SHA-256,
    and when and from which network it was sent. Nothing is granted yet."""
    return {
        "schema_version": receipts.SCHEMA_VERSION,
        "conforms_to": receipts.CONFORMS_TO,
        "event_state": "requested",
        "controller": dataclasses.asdict(Controller.from_settings(settings)),
        "form": form.slug,
        "form_version": signup.form_version,
        "language": signup.language,
        "submitted_at": signups._aware(signup.submitted_at).isoformat(),
        "submission_network": signup.submission_ip,
        "confirmed_at": None,
        "consents": [
            {
                "channel": text["channel"],
                "purpose": text["purpose"],
                "text": {"version": text["version"], "hash": text["hash"], "text": text["body"]},
            }
            for text in texts
        ],
    }


async def send(smtp: SmtpPool, mail: SystemMail, *, settings: Settings) -> Delivery:
    return await transactional.send(smtp, mail, settings=settings)
