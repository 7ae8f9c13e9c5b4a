"""Telling the person before their restriction is lifted (GDPR 18(3)).

A restriction the person obtained may be lifted only after they are told.
With an email address they get system mail (service.delivery.transactional,
``templates/email/transactional/restriction_lifted.*``) in their language,
sent while the staff member waits: the restriction is lifted only once the
relay has accepted it. Without an address (or when staff told them another
way) the staff member states how they were told (``informed_how``); with
neither, nothing is lifted.
"""

from __future__ import annotations

from service.delivery import transactional
from service.delivery.messenger import Outcome
from service.delivery.smtp import SmtpConfig, SmtpPool
from service.delivery.transactional import SystemMail
from service.errors import Conflict
from service.mail.content import Controller as ControllerIdentity
from service.models import Contact
from service.settings import Settings

TEMPLATE = "restriction_lifted"
# What Restriction.person_informed_how says when the mail told them.
BY_EMAIL = "email"

TEXTS: dict[str, dict[str, str]] = {
    "fi": {
        "subject": "Tietojesi käsittelyn rajoitus päättyy",
        "greeting": "Hei,",
        "lifted": (
            "pyysit meitä rajoittamaan henkilötietojesi käsittelyä, ja olemme rajoittaneet "
            "sitä. Kerromme sinulle etukäteen, että poistamme rajoituksen nyt."
        ),
        "resumes": (
            "Rajoituksen päätyttyä käsittelemme tietojasi jälleen tavalliseen tapaan "
            "tietosuojaselosteemme mukaisesti. Sinulla on edelleen oikeus vastustaa "
            "käsittelyä, pyytää tietojesi oikaisemista tai poistamista."
        ),
        "questions": "Kysyttävää? Ota yhteyttä:",
        "controller": "Rekisterinpitäjä",
    },
    "sv": {
        "subject": "Begränsningen av behandlingen av dina uppgifter upphör",
        "greeting": "Hej,",
        "lifted": (
            "du bad oss begränsa behandlingen av dina personuppgifter, och vi har begränsat "
            "den. Vi meddelar dig i förväg att vi nu häver begränsningen."
        ),
        "resumes": (
            "När begränsningen har hävts behandlar vi dina uppgifter åter på vanligt sätt "
            "enligt vår dataskyddsbeskrivning. Du har fortfarande rätt att invända mot "
            "behandlingen och att begära rättelse eller radering av dina uppgifter."
        ),
        "questions": "Frågor? Kontakta:",
        "controller": "Personuppgiftsansvarig",
    },
    "en": {
        "subject": "The restriction of processing your data is being lifted",
        "greeting": "Hello,",
        "lifted": (
            "you asked us to restrict the processing of your personal data, and we have "
            "restricted it. We are letting you know in advance that we are now lifting "
            "the restriction."
        ),
        "resumes": (
            "Once it is lifted, we process your data again as usual, as our privacy notice "
            "describes. You still have the right to object to the processing and to ask "
            "for your data to be rectified or erased."
        ),
        "questions": "Questions? Contact:",
        "controller": "Controller",
    },
}


def mail(contact: Contact, *, settings: Settings) -> SystemMail:
    """The notice for the contact, in their language (English if unknown)."""
    assert contact.email is not None
    lang = contact.language.value if contact.language.value in TEXTS else "en"
    t = TEXTS[lang]
    return SystemMail(
        template=TEMPLATE,
        to=contact.email,
        subject=t["subject"],
        language=lang,
        values={"lang": lang, "t": t, "controller": ControllerIdentity.from_settings(settings)},
        kind="restriction-lifted",
    )


def _not_informed(detail: str) -> Conflict:
    return Conflict(
        detail,
        reason="person_not_informed",
        fields={"informed_how": "say how the person was told, e.g. letter or phone"},
    )


async def inform(contact: Contact, *, settings: Settings) -> str:
    """Mail the notice and return how the person was informed (``"email"``);
    raise Conflict ``person_not_informed`` when it could not be sent, saying
    why (never the relay's words: they may quote the address)."""
    if contact.email is None:
        raise _not_informed(
            f"contact {contact.id} has no email address: tell the person first (GDPR 18(3)) "
            "and say how in informed_how, e.g. letter or phone"
        )
    if settings.smtp_host is None:
        raise _not_informed(
            "no mail relay is configured (CONSENTRY_SMTP_HOST), so the person cannot be "
            "mailed: tell them another way and say how in informed_how"
        )
    async with SmtpPool(SmtpConfig.from_settings(settings), size=1) as pool:
        delivery = await transactional.send(
            pool, mail(contact, settings=settings), settings=settings
        )
    if delivery.outcome is not Outcome.SENT:
        code = f" ({delivery.code})" if delivery.code is not None else ""
        raise _not_informed(
            f"the notice to the person could not be sent: the relay answered "
            f"{delivery.outcome.value}{code}. Nothing was lifted; try again, or tell them "
            "another way and say how in informed_how"
        )
    return BY_EMAIL
