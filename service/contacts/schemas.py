"""Request and response bodies for contacts. Validation lives here, so a bad
request is rejected whole before any service runs.

The API, imports, the web forms and ``consentry import`` all validate with these
types, so they accept and refuse the same things: every text field is single-line
(:data:`~service.validation.SingleLine`), checked before any stripping."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from service import clock
from service.labels import N_
from service.models.enums import (
    Channel,
    ContactType,
    Gender,
    IdentityCodeBasis,
    Language,
    LegalBasis,
    Reason,
    Source,
)
from service.validation import (
    SingleLine,
    normalize_email,
    normalize_phone,
    parse_identity_code,
)

MAX_TAGS = 50


def _not_in_future(value: date | None) -> date | None:
    if value is not None and value > clock.today():
        raise ValueError(N_("must not be in the future"))
    return value


def _country(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) != 2 or not value.isascii() or not value.isalpha():
        raise ValueError(N_("must be a two-letter ISO 3166 country code, e.g. FI"))
    return value.upper()


def _tags(value: list[str]) -> list[str]:
    # Order-preserving de-duplication: a tag is a set member, not a list item.
    return list(dict.fromkeys(value))


# SingleLine comes last in each: it is the first to run, on the value as sent.
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SingleLine
]
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), SingleLine
]
PostalCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), SingleLine
]
Email = Annotated[
    str, StringConstraints(max_length=320), AfterValidator(normalize_email), SingleLine
]
Phone = Annotated[
    str, StringConstraints(max_length=40), AfterValidator(normalize_phone), SingleLine
]
IdentityCode = Annotated[
    str, StringConstraints(max_length=20), AfterValidator(parse_identity_code), SingleLine
]
Country = Annotated[str, AfterValidator(_country), SingleLine]
Tag = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=1, max_length=64, pattern=r"^[\w.:-]+$"
    ),
    SingleLine,
]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_tags)]
PastDate = Annotated[date, AfterValidator(_not_in_future)]

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)

# The inputs the consent gate trusts beyond the ledger: who may change them
# is guarded (GATE_INPUTS_WRITE) and each change needs a stated reason.
GATE_INPUTS = ("legal_basis", "contact_type", "is_customer")
# The identity code's fields: only a role with contacts:read_identity_code
# may send them, read them or search by them.
IDENTITY_CODE_FIELDS = ("personal_identity_code", "personal_identity_code_basis")
# Legal bases under which reliable identification is a basis for storing an
# identity code (Data Protection Act 1050/2018 § 29(1)(2)); marketing alone is not.
IDENTIFYING_BASES = frozenset({LegalBasis.CUSTOMER_RELATIONSHIP, LegalBasis.ASSIGNMENT})
MIN_REASON = 5
MAX_REASON = 500
StatedReason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=MIN_REASON, max_length=MAX_REASON),
    SingleLine,
    Field(description="Why a gate input is changed; kept in the audit trail."),
]


def identity_code_problems(
    *, code: bool, basis: IdentityCodeBasis | None, legal_basis: LegalBasis | None
) -> dict[str, str]:
    """What is wrong with a contact's identity code and its basis, as they
    would stand (Data Protection Act 1050/2018 § 29): a code needs a
    recorded basis, a basis needs a code, and identification in a customer
    relationship needs one (a marketing-only contact cannot store a code)."""
    if code and basis is None:
        return {"personal_identity_code_basis": "required when an identity code is stored"}
    if not code and basis is not None:
        return {"personal_identity_code_basis": "only with an identity code"}
    if basis is IdentityCodeBasis.CUSTOMER_IDENTIFICATION and legal_basis not in IDENTIFYING_BASES:
        return {
            "personal_identity_code_basis": "customer_identification needs the legal basis "
            "customer_relationship or assignment: a marketing-only contact cannot store an "
            "identity code"
        }
    return {}


def business_role_problems(
    *, contact_type: ContactType | None, employer: str | None, position: str | None
) -> dict[str, str]:
    """A business contact is one targeted for their role: the employer and
    the position must be recorded (SVPL 202 §)."""
    if contact_type is not ContactType.BUSINESS:
        return {}
    message = "required for a business contact (its basis: the role at the employer)"
    recorded = {"employer": employer, "position": position}
    return {name: message for name, value in recorded.items() if not value}


class ContactCreate(BaseModel):
    model_config = _STRICT

    full_name: Text
    nickname: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None
    personal_identity_code: IdentityCode | None = None
    personal_identity_code_basis: IdentityCodeBasis | None = None
    customer_number: Code | None = None
    employer: Text | None = None
    education: Text | None = None
    position: Text | None = None
    street_address: Text | None = None
    postal_code: PostalCode | None = None
    city: ShortText | None = None
    country: Country | None = None
    language: Language = Language.FI
    gender: Gender = Gender.UNSPECIFIED
    contact_type: ContactType = ContactType.PERSON
    legal_basis: LegalBasis
    source: Source
    is_customer: bool = False
    last_service_contact_at: PastDate | None = None
    tags: Tags = Field(default_factory=list)


class ContactUpdate(BaseModel):
    """PATCH: only the fields sent change; ``null`` clears an optional field."""

    model_config = _STRICT

    full_name: Text | None = None
    nickname: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None
    personal_identity_code: IdentityCode | None = None
    personal_identity_code_basis: IdentityCodeBasis | None = None
    customer_number: Code | None = None
    employer: Text | None = None
    education: Text | None = None
    position: Text | None = None
    street_address: Text | None = None
    postal_code: PostalCode | None = None
    city: ShortText | None = None
    country: Country | None = None
    language: Language | None = None
    gender: Gender | None = None
    contact_type: ContactType | None = None
    legal_basis: LegalBasis | None = None
    source: Source | None = None
    is_customer: bool | None = None
    last_service_contact_at: PastDate | None = None
    tags: Tags | None = None
    # Not stored on the contact: why a gate input changes, for the audit trail.
    reason: StatedReason | None = None


# Fields that may not be cleared with null: the register needs them.
REQUIRED_ON_UPDATE = frozenset(
    {
        "full_name",
        "language",
        "gender",
        "contact_type",
        "legal_basis",
        "source",
        "is_customer",
        "tags",
    }
)


class ContactRead(BaseModel):
    id: int
    full_name: str
    nickname: str | None
    email: str | None
    phone: str | None
    personal_identity_code: str | None = Field(
        description="Masked (DDMMYY-****); the full code is never returned here. Null for a "
        "role without contacts:read_identity_code, whether or not a code is stored."
    )
    personal_identity_code_basis: IdentityCodeBasis | None = Field(
        default=None,
        description="Why the code may be stored (Data Protection Act 1050/2018 § 29). Null "
        "with no code, for a code stored before bases were recorded, and for a role "
        "without contacts:read_identity_code.",
    )
    customer_number: str | None
    employer: str | None
    education: str | None
    position: str | None
    street_address: str | None
    postal_code: str | None
    city: str | None
    country: str | None
    language: Language
    gender: Gender
    contact_type: ContactType
    legal_basis: LegalBasis
    source: Source
    is_customer: bool
    last_service_contact_at: date | None
    tags: list[str]
    restricted: bool
    objected: bool
    recorded_at: datetime
    updated_at: datetime


class ContactPage(BaseModel):
    items: list[ContactRead]
    total: int
    limit: int
    offset: int


# -- the list's filters -----------------------------------------------------------


class ConsentFilter(StrEnum):
    """The state of a contact's direct-marketing consent on the list's channel."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    NONE = "none"


ELIGIBLE: Final = "eligible"
ReasonFilter = Reason | Literal["eligible"]
MAX_SEARCH = 200


def parse_reason(value: str) -> ReasonFilter:
    """``eligible`` or a reason code of the consent gate; ValueError otherwise."""
    if value == ELIGIBLE:
        return ELIGIBLE
    try:
        return Reason(value)
    except ValueError:
        raise ValueError(f"must be {ELIGIBLE} or a reason code ({', '.join(Reason)})") from None


@dataclass(frozen=True, slots=True)
class ContactFilters:
    """What the contact list (the API's ``GET /contacts`` and the web's list)
    may be narrowed by. ``consent`` and ``reason`` are judged for ``channel``,
    for direct marketing, today, by the consent gate; ``reason`` is a reason
    code or "eligible". ``email`` is matched exactly, ``q`` as a fragment of
    name, nickname, email or customer number; ``tag`` ignores case."""

    tag: str | None = None
    language: Language | None = None
    channel: Channel = Channel.EMAIL
    consent: ConsentFilter | None = None
    reason: ReasonFilter | None = None
    email: str | None = None
    q: str | None = None

    @property
    def judged(self) -> bool:
        """Whether any filter needs the consent gate's view of the contacts."""
        return any(v is not None for v in (self.tag, self.language, self.consent, self.reason))

    def used(self) -> list[str]:
        """The names of the filters given, for the audit trail (never their values);
        the channel only when it is not the default one."""
        return [
            f.name
            for f in fields(self)
            if getattr(self, f.name) is not None
            and not (f.name == "channel" and self.channel is Channel.EMAIL)
        ]
