"""The mail with a staff member's one-time set-password link (an invitation
or a reset by an admin, service.auth.staff): system mail in the member's own
staff-UI language, sent at once through the configured relay.

``mail_link`` answers whether the relay took it; it never raises for the
relay's answer, so the caller (the page, the command) can hand the link to
the admin another way when it could not be sent.
"""

from __future__ import annotations

import logging

from service import i18n
from service.auth.staff import INVITE_LIFETIME, RESET_LIFETIME
from service.delivery import transactional
from service.delivery.messenger import Outcome
from service.delivery.smtp import SmtpConfig, SmtpPool
from service.delivery.transactional import SystemMail
from service.i18n import _
from service.mail.content import Controller as ControllerIdentity
from service.models.enums import StaffLinkPurpose
from service.settings import Settings

logger = logging.getLogger("consentry.staff")
TEMPLATE = "staff_link"


def link_mail(
    *, to: str, url: str, purpose: StaffLinkPurpose, language: str, settings: Settings
) -> SystemMail:
    with i18n.use(language) as lang:
        if purpose is StaffLinkPurpose.INVITE:
            subject = _("You are invited to Consentry")
            intro = _(
                "You have been given a staff account in Consentry, the customer and marketing "
                "register of %(controller)s. Open the link below to choose your password."
            ) % {"controller": settings.controller_name}
            hours = int(INVITE_LIFETIME.total_seconds() // 3600)
        else:
            subject = _("Set a new Consentry password")
            intro = _(
                "An administrator reset your Consentry password and second factor. Open the "
                "link below to choose a new password."
            )
            hours = int(RESET_LIFETIME.total_seconds() // 3600)
        words = {
            "subject": subject,
            "intro": intro,
            "link": _("Choose your password"),
            "expiry": _(
                "The link works once, for %(hours)d hours. After that, ask an administrator "
                "for a new one."
            )
            % {"hours": hours},
            "next": _(
                "Then sign in with your email and the new password; you will set up the second "
                "factor (an authenticator app) on the first sign-in."
            ),
            "ignore": _("If you did not expect this message, you can ignore it."),
            "controller": _("Controller"),
        }
    return SystemMail(
        template=TEMPLATE,
        to=to,
        subject=subject,
        language=lang,
        values={
            "lang": lang,
            "t": words,
            "url": url,
            "controller": ControllerIdentity.from_settings(settings),
        },
        kind=f"staff-{purpose.value}",
    )


async def mail_link(
    *, to: str, url: str, purpose: StaffLinkPurpose, language: str, settings: Settings
) -> bool:
    """Send the link; whether the relay accepted it (False when no relay is
    configured or it refused: the caller shows the link instead)."""
    if settings.smtp_host is None:
        return False
    mail = link_mail(to=to, url=url, purpose=purpose, language=language, settings=settings)
    try:
        async with SmtpPool(SmtpConfig.from_settings(settings), size=1) as pool:
            delivery = await transactional.send(pool, mail, settings=settings)
    except OSError as exc:  # the relay is down or unreachable
        logger.warning("staff link mail not sent: %s", type(exc).__name__)
        return False
    return delivery.outcome is Outcome.SENT
