"""A signup form's submission before anything is done with it: the form it
is for (``active_form``), the form's offers and languages, and the checks a
submission must pass (``validate``: fields, offers, the contact's data as
service.contacts.schemas reads it). Nothing here touches a contact; what a
valid submission does is service.forms.signup's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from service.contacts.schemas import ContactCreate
from service.errors import InvalidInput
from service.forms import service as forms
from service.labels import N_
from service.models import SignupForm
from service.models.enums import Channel, Language, LegalBasis, Purpose, Source
from service.public_pages import accepted_language

# Contact fields a submission may carry (the form names which it asks for);
# everything else about a contact is staff's to set.
SUBMITTABLE = frozenset(
    {
        "full_name",
        "nickname",
        "email",
        "phone",
        "employer",
        "position",
        "education",
        "street_address",
        "postal_code",
        "city",
        "country",
    }
)
MAX_CONSENT_VALUES = 20
_NO_NAME = "-"  # stands in for a name a form does not ask for, while validating


@dataclass(frozen=True, slots=True)
class Offer:
    channel: Channel
    purpose: Purpose
    texts: dict[str, int]  # language → consent_texts id

    @property
    def value(self) -> str:
        """The checkbox's value: ``email.direct_marketing``."""
        return f"{self.channel.value}.{self.purpose.value}"


@dataclass(frozen=True, slots=True)
class Submission:
    """What was posted, as strings, before any check."""

    fields: dict[str, str]
    language: str | None
    consents: list[str]
    honeypot: str = ""


@dataclass(frozen=True, slots=True)
class Valid:
    """A submission that passed every check."""

    values: dict[str, Any]  # contact fields, normalised
    language: str
    offers: list[Offer]
    honeypot_filled: bool


async def active_form(session: AsyncSession, slug: str) -> SignupForm | None:
    """The form at ``/s/{slug}`` when it takes submissions; None otherwise."""
    if not slug or len(slug) > 64:
        return None
    form = await forms.by_slug(session, slug)
    return form if form is not None and form.active else None


def offers_of(form: SignupForm) -> list[Offer]:
    offers = []
    for raw in form.offers:
        try:
            offers.append(
                Offer(
                    channel=Channel(raw["channel"]),
                    purpose=Purpose(raw["purpose"]),
                    texts={str(k): int(v) for k, v in dict(raw.get("texts") or {}).items()},
                )
            )
        except (KeyError, ValueError, TypeError):
            continue  # a malformed offer is not shown rather than breaking the page
    return offers


def languages_of(form: SignupForm) -> list[str]:
    return [lang for lang in form.languages if lang in {item.value for item in Language}] or ["fi"]


def choose_language(form: SignupForm, requested: str | None, accept_language: str) -> str:
    """``requested`` if the form has it, else the browser's first language the
    form has, else the form's first."""
    languages = languages_of(form)
    if requested in languages:
        return str(requested)
    return accepted_language(accept_language, languages) or languages[0]


def validate(form: SignupForm, submission: Submission, language: str) -> Valid:
    """The submission checked against the form; InvalidInput with a message
    per field (``consent`` for the checkboxes) otherwise. Messages never quote
    the value sent."""
    errors: dict[str, str] = {}
    asked = {name: required for name, required in form.fields.items() if name in SUBMITTABLE}
    given = {
        name: value.strip()
        for name, value in submission.fields.items()
        if name in asked and value.strip()
    }
    by_value = {offer.value: offer for offer in offers_of(form)}
    if len(submission.consents) > MAX_CONSENT_VALUES:
        errors["consent"] = "too many consent values"
    chosen: list[Offer] = []
    for value in dict.fromkeys(submission.consents):
        offer = by_value.get(value)
        if offer is None:
            errors["consent"] = "not an offer of this form"
        elif offer not in chosen:
            chosen.append(offer)
    if not chosen and "consent" not in errors:
        errors["consent"] = "tick at least one offer"
    needed = set()
    for offer in chosen:
        if offer.channel is Channel.EMAIL:
            needed.add("email")
        elif offer.channel in (Channel.SMS, Channel.PHONE):
            needed.add("phone")
    for name, required in asked.items():
        if name not in given and (required or name in needed):
            errors[name] = "required"
    if "email" not in given and "phone" not in given and not errors:
        errors["email" if "email" in asked else "phone"] = "required"
    try:
        checked = ContactCreate.model_validate(
            {
                **given,
                "full_name": given.get("full_name", _NO_NAME),
                "language": language,
                "legal_basis": LegalBasis.CONSENT.value,
                "source": Source.SELF.value,
            }
        )
    except ValidationError as exc:
        for item in exc.errors(include_input=False, include_url=False):
            name = str(item["loc"][0]) if item["loc"] else "body"
            errors.setdefault(name, str(item["msg"]).removeprefix("Value error, "))
        checked = None
    if errors or checked is None:
        raise InvalidInput(N_("the form has errors"), fields=errors)
    values = checked.model_dump(include=set(given))
    values.setdefault("full_name", "")
    return Valid(
        values=values,
        language=language,
        offers=chosen,
        honeypot_filled=bool(submission.honeypot.strip()),
    )
