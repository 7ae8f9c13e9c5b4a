"""The rows most tests start from, made the way the service makes them.

Contacts, consents, bans and campaigns go through the API, as staff make them
(``api`` is an authenticated test client, or pass ``headers``); staff users,
and contacts for tests that have no API at hand, go through the services.
Keyword arguments override the defaults. Every maker asserts that what it
asked for was accepted, so a test never goes on without the data it meant to
have.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.auth import service as auth_service
from service.consent import service as consent_service
from service.consent.schemas import ConsentCreate, Evidence
from service.contacts import service as contacts_service
from service.contacts.schemas import ContactCreate
from service.crypto import DataCipher
from service.db import SessionMaker, session_scope
from service.models import User
from service.models.enums import Actor, CaptureMethod, Channel, ConsentAction, Purpose, Role, Source

Client = AsyncTestClient[Litestar]
PASSWORD = "correct horse battery staple"
EVIDENCE = {"text": "Yes, send me news", "notice_version": "2026-01"}
# ``add_contact(api, consent=MARKETING)``: a contact who may be sent offers by email.
MARKETING = ("direct_marketing",)
# A service contact recent enough for every rule that reads it.
SERVED = "2026-06-01"
EMAIL_CAMPAIGN = {
    "name": "Autumn coaching",
    "channel": "email",
    "subject": "Hello {{ contact.name }}",
    "body_html": "<p>Dear {{ contact.name }},</p>\n<p>our autumn programme.</p>",
    "body_text": "Dear {{ contact.name }},\nour autumn programme.",
}

_numbers = itertools.count(1)


def unique_email(prefix: str = "c") -> str:
    """An address no other contact made in this process has."""
    return f"{prefix}{next(_numbers)}@example.fi"


def contact_payload(**overrides: Any) -> dict[str, Any]:
    """The body of ``POST /api/v1/contacts``: a customer, Maija, with an email.

    What the register requires along with a field is filled in unless given:
    a business contact's employer and position, an identity code's basis
    (identification in the customer relationship)."""
    payload: dict[str, Any] = {
        "full_name": "Maija Meikäläinen",
        "email": "maija@example.fi",
        "legal_basis": "customer_relationship",
        "source": "self",
    }
    payload.update(overrides)
    if payload.get("contact_type") == "business":
        payload.setdefault("employer", "Esimerkki Oy")
        payload.setdefault("position", "Purchasing manager")
    if payload.get("personal_identity_code"):
        payload.setdefault("personal_identity_code_basis", "customer_identification")
    return payload


# -- through the API ---------------------------------------------------------------


async def add_contact(
    api: Client,
    *,
    consent: Sequence[str] = (),
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> int:
    """A contact (``contact_payload`` with ``fields``), then a grant by email
    for each purpose in ``consent``; its id."""
    response = await api.post("/api/v1/contacts", json=contact_payload(**fields), headers=headers)
    assert response.status_code == 201, response.text
    contact_id = int(response.json()["id"])
    for purpose in consent:
        await grant(api, contact_id, purpose=purpose, headers=headers)
    return contact_id


async def add_recipient(
    api: Client, email: str | None, *, consent: Sequence[str] = MARKETING, **fields: Any
) -> int:
    """A contact an email campaign may reach: this address, in service recently,
    and consent by email to ``consent`` (direct marketing unless told otherwise)."""
    defaults = {"last_service_contact_at": SERVED}
    return await add_contact(api, consent=consent, **{**defaults, "email": email, **fields})


async def add_phone_contact(api: Client, name: str, phone: str | None, **fields: Any) -> int:
    """A contact with no email, in service recently: one a call list may hold
    if ``phone`` is given."""
    defaults = {"email": None, "last_service_contact_at": SERVED}
    return await add_contact(api, **{**defaults, "full_name": name, "phone": phone, **fields})


async def record_consent(
    api: Client,
    contact_id: int,
    *,
    action: str,
    channel: str = "email",
    purpose: str = "direct_marketing",
    source: str = "self",
    method: str = "web_form",
    evidence: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One event in the contact's consent ledger; the event as the API returned it."""
    body: dict[str, Any] = {
        "channel": channel,
        "purpose": purpose,
        "action": action,
        "source": source,
        "method": method,
    }
    if evidence is not None:
        body["evidence"] = evidence
    url = f"/api/v1/contacts/{contact_id}/consents"
    response = await api.post(url, json=body, headers=headers)
    assert response.status_code == 201, response.text
    event: dict[str, Any] = response.json()
    return event


async def grant(
    api: Client, contact_id: int, *, evidence: dict[str, Any] = EVIDENCE, **fields: Any
) -> dict[str, Any]:
    """Consent given (by email for direct marketing, unless told otherwise)."""
    return await record_consent(api, contact_id, action="grant", evidence=evidence, **fields)


async def withdraw(
    api: Client, contact_id: int, *, method: str = "email", **fields: Any
) -> dict[str, Any]:
    """Consent withdrawn, as a person's email asking for it would."""
    return await record_consent(api, contact_id, action="withdraw", method=method, **fields)


async def ban(
    api: Client,
    contact_id: int,
    *,
    kind: str = "direct_marketing",
    channel: str | None = None,
    source: str = "self",
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> int:
    """A ban (on every channel unless ``channel`` is given); its id."""
    body: dict[str, Any] = {"kind": kind, "source": source, **fields}
    if channel is not None:
        body["channel"] = channel
    url = f"/api/v1/contacts/{contact_id}/bans"
    response = await api.post(url, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def add_purchase(
    api: Client,
    contact_id: int,
    *,
    occurred_on: str = SERVED,
    product_group: str | None = "team coaching",
    address_collected: bool = True,
    refusal_offered: bool = True,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A purchase, by default with soft opt-in's full evidence: the address
    obtained in it and the person told then that they may refuse (SVPL 200 §
    3 mom). The interaction as the API returned it."""
    body: dict[str, Any] = {
        "kind": "purchase",
        "occurred_on": occurred_on,
        "product_group": product_group,
        "address_collected": address_collected,
        "refusal_offered": refusal_offered,
        **fields,
    }
    url = f"/api/v1/contacts/{contact_id}/interactions"
    response = await api.post(url, json=body, headers=headers)
    assert response.status_code == 201, response.text
    interaction: dict[str, Any] = response.json()
    return interaction


async def add_customer(api: Client, **fields: Any) -> int:
    """A contact who may get offers of similar products without consent (soft
    opt-in): an existing customer with a purchase carrying the full evidence."""
    contact_id = await add_contact(api, **{"is_customer": True, **fields})
    await add_purchase(api, contact_id)
    return contact_id


async def add_campaign(
    api: Client,
    *,
    channel: str = "email",
    send: bool = False,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> int:
    """A draft campaign (an email one with ``EMAIL_CAMPAIGN``'s content, a phone
    one with a name only), asked to send if ``send``; its id."""
    body = {**EMAIL_CAMPAIGN} if channel == "email" else {"name": "Calls", "channel": channel}
    body.update(fields)
    response = await api.post("/api/v1/campaigns", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "draft"
    campaign_id = int(response.json()["id"])
    if send:
        answer = await api.post(f"/api/v1/campaigns/{campaign_id}/send", headers=headers)
        assert answer.status_code == 202, answer.text
    return campaign_id


# -- through the services ----------------------------------------------------------


async def add_staff(
    sessionmaker: SessionMaker,
    *,
    role: Role = Role.ADMIN,
    email: str | None = None,
    password: str = PASSWORD,
    language: str = "en",
) -> User:
    """A staff user (``<role>.<n>@example.fi`` unless ``email`` is given).
    English by default, so the tests read the pages' English words."""
    email = email or f"{role.value}.{next(_numbers)}@example.fi"
    async with session_scope(sessionmaker) as session:
        return await auth_service.create_user(
            session, email=email, role=role, password=password, language=language
        )


async def create_contact(
    sessionmaker: SessionMaker,
    *,
    cipher: DataCipher,
    consent: Sequence[str] = (),
    **fields: Any,
) -> int:
    """A contact made by the contacts service, with a staff-recorded grant by
    email for each purpose in ``consent``, in one transaction; its id."""
    async with session_scope(sessionmaker) as session:
        contact = await contacts_service.create(
            session, data=ContactCreate(**contact_payload(**fields)), cipher=cipher
        )
        for purpose in consent:
            await consent_service.record_consent(
                session,
                contact=contact,
                data=ConsentCreate(
                    channel=Channel.EMAIL,
                    purpose=Purpose(purpose),
                    action=ConsentAction.GRANT,
                    source=Source.SELF,
                    method=CaptureMethod.WEB_FORM,
                    evidence=Evidence(notice_version="2026-01"),
                ),
                actor=Actor.STAFF,
                user_id=None,
            )
        assert contact.id is not None
        return contact.id
