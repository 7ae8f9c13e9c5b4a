"""Request and response bodies for signup forms (``/api/v1/forms``) and the
consent texts archive (``/api/v1/consent-texts``).

A form's definition is validated whole here, so the API and the staff web
pages accept and refuse the same things, and a bad request is refused before
anything is archived. The public side (service.forms.public) reads
:data:`HONEYPOT_FIELD` and :data:`FORM_FIELDS` from here too.

``fields`` is written as a list; each item is either a field name (asked,
optional) or ``{"name": ..., "required": true|false}``. The address an offer
needs is always required: ``email`` for an email offer; ``phone`` for an SMS
or phone offer; ``street_address``, ``postal_code`` and ``city`` for a post
offer. A form with such an offer must list them (a bare name is then made
required; ``"required": false`` is refused).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from service.consent.archive import MAX_TEXT_LENGTH
from service.labels import N_
from service.models.enums import Channel, Language, Purpose
from service.validation import MultiLine, SingleLine

# The hidden field a person never fills in: a submission with anything in it
# is a robot's, refused without a word (service.forms.public).
HONEYPOT_FIELD = "website"

# The contact fields a form may ask: what the privacy notice says the register
# holds about a person (service.notice.columns), never the identity code.
FORM_FIELDS: tuple[str, ...] = (
    "full_name",
    "nickname",
    "email",
    "phone",
    "customer_number",
    "employer",
    "education",
    "position",
    "street_address",
    "postal_code",
    "city",
    "country",
)

# What an offer on each channel needs to be usable: its address fields.
ADDRESS_FIELDS: dict[Channel, tuple[str, ...]] = {
    Channel.EMAIL: ("email",),
    Channel.SMS: ("phone",),
    Channel.PHONE: ("phone",),
    Channel.POST: ("street_address", "postal_code", "city"),
}

MAX_ORIGINS = 20
MAX_URL_LENGTH = 500
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$")


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(
            N_("use lowercase letters a-z, digits and single hyphens between them, e.g. news-2026")
        )
    return value


def _url(value: str) -> str:
    """An absolute http(s) URL: where a browser is sent after a signup."""
    if any(ch.isspace() for ch in value) or _CONTROL.search(value):
        raise ValueError(N_("must be an absolute http(s) URL without spaces"))
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(N_("must be an absolute http(s) URL, e.g. https://example.fi/thanks"))
    if parts.username is not None or parts.password is not None:
        raise ValueError(N_("must not hold a user name or password"))
    return value


def _origin(value: str) -> str:
    """``scheme://host[:port]``, lower case, as a browser sends ``Origin``."""
    origin = value.strip().lower().removesuffix("/")
    match = _ORIGIN.match(origin)
    if match is None:
        raise ValueError(
            f"{value[:80]!r} is not a site origin: write scheme://host[:port], no path"
        )
    port = match.group(3)
    if port is not None and not 0 < int(port) < 65536:
        raise ValueError(f"{value[:80]!r} has a port out of range")
    return origin


def _unique(value: list[Any]) -> list[Any]:
    return list(dict.fromkeys(value))


Slug = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_slug),
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]
NoticeVersion = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), SingleLine
]
Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_URL_LENGTH),
    AfterValidator(_url),
]
Origin = Annotated[str, StringConstraints(max_length=300), AfterValidator(_origin)]
OfferText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_LENGTH),
    MultiLine,  # plain text: line breaks allowed, other control characters not
]
Languages = Annotated[list[Language], Field(min_length=1, max_length=3), AfterValidator(_unique)]
_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FieldSpec(BaseModel):
    """One contact field the form asks; ``required`` false leaves it optional."""

    model_config = _STRICT

    name: str = Field(json_schema_extra={"enum": list(FORM_FIELDS)})
    required: bool = False


def _field_item(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


FieldItem = Annotated[FieldSpec, BeforeValidator(_field_item)]


class OfferCreate(BaseModel):
    """One channel-by-purpose pair, its own unticked checkbox, with the words
    shown beside it in each of the form's languages (plain text)."""

    model_config = _STRICT

    channel: Channel
    purpose: Purpose
    text: dict[Language, OfferText] = Field(
        description="The checkbox's words per language: one for each of the form's languages."
    )


class _Definition(BaseModel):
    """What a form's definition must satisfy as a whole."""

    model_config = _STRICT

    @model_validator(mode="after")
    def _consistent(self) -> Any:
        languages = getattr(self, "languages", None)
        offers = getattr(self, "offers", None)
        fields = getattr(self, "fields", None)
        if languages is None or offers is None or fields is None:
            return self
        problems: list[str] = []
        seen: set[tuple[Channel, Purpose]] = set()
        for offer in offers:
            pair = (offer.channel, offer.purpose)
            name = f"{offer.channel.value}.{offer.purpose.value}"
            if pair in seen:
                problems.append(f"{name} is offered twice")
            seen.add(pair)
            if offer.purpose is Purpose.EMAIL_TRACKING and offer.channel is not Channel.EMAIL:
                problems.append(f"{name}: email_tracking is offered on the email channel only")
            missing = [lang.value for lang in languages if lang not in offer.text]
            extra = [lang.value for lang in offer.text if lang not in languages]
            if missing:
                problems.append(f"{name} has no text in {', '.join(missing)}")
            if extra:
                problems.append(f"{name} has a text in {', '.join(extra)}, not a form language")
        if problems:
            raise ValueError("; ".join(problems))
        names = [spec.name for spec in fields]
        unknown = [n for n in names if n not in FORM_FIELDS]
        if unknown:
            raise ValueError(
                f"unknown field {unknown[0][:40]!r}: a form may ask {', '.join(FORM_FIELDS)}"
            )
        if len(set(names)) != len(names):
            raise ValueError(N_("a field is listed twice"))
        by_name = {spec.name: spec for spec in fields}
        for offer in offers:
            for needed in ADDRESS_FIELDS[offer.channel]:
                spec = by_name.get(needed)
                if spec is None:
                    raise ValueError(
                        f"an offer on {offer.channel.value} needs the field {needed!r}, required"
                    )
                if "required" in spec.model_fields_set and not spec.required:
                    raise ValueError(
                        f"{needed!r} must be required: an offer on {offer.channel.value} needs it"
                    )
                spec.required = True
        return self


class FormCreate(_Definition):
    slug: Slug = Field(description="The form's address, /s/{slug}; cannot be changed later.")
    name: Name
    languages: Languages = Field(description="The languages the form is shown in (fi, sv, en).")
    offers: list[OfferCreate] = Field(min_length=1, max_length=12)
    fields: list[FieldItem] = Field(
        min_length=1,
        max_length=len(FORM_FIELDS),
        description='Field names (optional) or {"name", "required"} objects.',
    )
    notice_version: NoticeVersion | None = None
    thank_you_url: Url | None = Field(default=None, description="Where a submission goes next.")
    confirmed_url: Url | None = Field(default=None, description="Where a confirmation goes next.")
    origins: Annotated[list[Origin], Field(max_length=MAX_ORIGINS), AfterValidator(_unique)] = (
        Field(default_factory=list, description="Sites allowed to post JSON (CORS).")
    )
    double_opt_in: bool = True
    active: bool = True


class FormUpdate(BaseModel):
    """PATCH: the fields given replace the form's; the result is checked
    whole, as a new form is. ``slug`` may be sent only unchanged."""

    model_config = _STRICT

    slug: Annotated[str, StringConstraints(max_length=64)] | None = None
    name: Name | None = None
    languages: Languages | None = None
    offers: Annotated[list[OfferCreate], Field(min_length=1, max_length=12)] | None = None
    fields: Annotated[list[FieldItem], Field(min_length=1, max_length=len(FORM_FIELDS))] | None = (
        None
    )
    notice_version: NoticeVersion | None = None
    thank_you_url: Url | None = None
    confirmed_url: Url | None = None
    origins: (
        Annotated[list[Origin], Field(max_length=MAX_ORIGINS), AfterValidator(_unique)] | None
    ) = None
    double_opt_in: bool | None = None
    active: bool | None = None


# -- answers -------------------------------------------------------------------


class ConsentTextRead(BaseModel):
    """One archived version of a text, in one language."""

    id: int
    key: str
    language: str
    version: int
    body: str
    hash: str = Field(description="SHA-256 of the body (UTF-8), hex.")
    created_at: datetime
    created_by_user_id: int | None


class OfferRead(BaseModel):
    channel: Channel
    purpose: Purpose
    text: dict[str, str] = Field(description="The words per language (as a PATCH takes them).")
    texts: dict[str, ConsentTextRead] = Field(description="The archived version per language.")


class FieldRead(BaseModel):
    name: str
    required: bool


class FormDefinition(BaseModel):
    """A form as it is, or as it was at one of its versions."""

    id: int
    slug: str
    name: str
    version: int
    languages: list[str]
    offers: list[OfferRead]
    fields: list[FieldRead]
    notice_version: str | None
    thank_you_url: str | None
    confirmed_url: str | None
    origins: list[str]
    double_opt_in: bool
    active: bool


class FormRead(FormDefinition):
    hosted_url: str = Field(description="The hosted form: {PUBLIC_URL}/s/{slug}.")
    embed: str = Field(description="A plain HTML form to paste into a site (first language).")
    embeds: dict[str, str] = Field(description="The embed snippet in each language.")
    created_at: datetime
    updated_at: datetime
    created_by_user_id: int | None


class FormVersionRead(BaseModel):
    version: int
    created_at: datetime
    created_by_user_id: int | None
    definition: FormDefinition
