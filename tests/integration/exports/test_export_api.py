"""``GET /api/v1/contacts/export.csv`` on both databases: the marketer's
columns and nothing else, no identity code in any form, formulas defused,
filters, paging, permissions and one audit row per export."""

from __future__ import annotations

import csv
import io
import re

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlmodel import col, select

from service import clock
from service.db import SessionMaker, run, session_scope
from service.exports import service
from service.exports.service import COLUMNS, ContactFilter, Scope
from service.models import AuditEvent, Contact
from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.support.factories import add_contact, grant, withdraw

Client = AsyncTestClient[Litestar]
URL = "/api/v1/contacts/export.csv"
HETU = "131052-308T"
# Day, month, year, century sign, individual number, check character.
SHAPE = re.compile(r"\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def parse(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body)))


async def test_a_marketer_gets_names_channels_and_consents_and_never_an_identity_code(
    admin: Client, make_token: TokenFactory, sessionmaker: SessionMaker
) -> None:
    maija = await add_contact(
        admin,
        full_name="Maija Meikäläinen",
        nickname="Maikki",
        email="maija@example.fi",
        phone="040 123 4567",
        personal_identity_code=HETU,
        customer_number="C-1",
        street_address="Kotikatu 1",
        employer="Firma Oy",
        language="sv",
        tags=["vip", "asiakas"],
    )
    await grant(admin, maija, evidence={"notice_version": "1"})
    await withdraw(
        admin, maija, channel="phone", method="phone_call", evidence={"notice_version": "1"}
    )
    await add_contact(
        admin,
        full_name='=HYPERLINK("http://evil")',
        nickname="@SUM(A1)",
        email="=cmd@example.fi",
        personal_identity_code="010101A123N",
        tags=["-x"],
    )

    response = await admin.get(URL, headers=auth(await make_token(Role.MARKETER)))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["cache-control"] == "no-store"
    assert "attachment" in response.headers["content-disposition"]
    body = response.text
    assert HETU not in body and "010101A123N" not in body
    assert SHAPE.search(body) is None
    for absent in ("Kotikatu", "Firma", "C-1", "identity", "profile"):
        assert absent not in body
    rows = parse(body)
    assert (
        rows[0]
        == list(COLUMNS)
        == [
            "full_name",
            "nickname",
            "email",
            "phone",
            "language",
            "tags",
            "consent_email_direct_marketing",
            "consent_sms_direct_marketing",
            "consent_phone_direct_marketing",
            "consent_post_direct_marketing",
            "gate_email",
            "gate_sms",
            "gate_phone",
            "gate_post",
        ]
    )
    assert rows[1:] == [
        [
            "Maija Meikäläinen",
            "Maikki",
            "maija@example.fi",
            "+358401234567",
            "sv",
            "asiakas;vip",
            "grant",
            "",
            "withdraw",
            "",
            # The gate's answer today, in its own codes: mailable by email
            # (a grant), SMS needs consent, phone withdrawn, no postal address.
            "eligible",
            "no_consent",
            "consent_withdrawn",
            "no_address",
        ],
        ['\'=HYPERLINK("http://evil")', "'@SUM(A1)", "'=cmd@example.fi", "", "fi", "'-x"]
        + [""] * 4
        + ["no_consent", "no_consent", "no_address", "no_address"],
    ]


async def test_filters_and_who_is_left_out(
    admin: Client, make_token: TokenFactory, sessionmaker: SessionMaker
) -> None:
    await add_contact(admin, full_name="Aino Suomi", email="aino@example.fi", tags=["vip"])
    await add_contact(admin, full_name="Bertil Svensk", email="bertil@example.fi", language="sv")
    restricted = await add_contact(admin, full_name="Rauha Restricted", email="rauha@example.fi")
    objected = await add_contact(
        admin, full_name="Olli Objected", email="olli@example.fi", tags=["vip"]
    )
    async with session_scope(sessionmaker) as session:
        for contact_id, column in ((restricted, "restricted_at"), (objected, "objected_at")):
            await run(
                session,
                update(Contact).where(col(Contact.id) == contact_id).values({column: clock.now()}),
            )

    marketer = auth(await make_token(Role.MARKETER))

    async def names(**params: str) -> list[str]:
        response = await admin.get(URL, params=params, headers=marketer)
        assert response.status_code == 200, response.text
        return [row[0] for row in parse(response.text)[1:]]

    assert await names() == ["Aino Suomi", "Bertil Svensk"]
    assert await names(tag="VIP") == ["Aino Suomi"]
    assert await names(language="sv") == ["Bertil Svensk"]
    assert await names(q="SVEN") == ["Bertil Svensk"]
    assert await names(q="%") == []
    assert await names(email="AINO@example.fi") == ["Aino Suomi"]
    assert (await admin.get(URL, params={"email": "not an email"})).status_code == 422
    assert (await admin.get(URL, params={"language": "de"})).status_code == 422


async def test_each_export_is_audited_with_filters_and_count_not_data(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    await add_contact(admin, full_name="Aino Suomi", email="aino@example.fi", tags=["vip"])
    await add_contact(admin, full_name="Bertil Svensk", email="bertil@example.fi")
    assert (await admin.get(URL, params={"q": "Aino", "tag": "vip"})).status_code == 200
    assert (await admin.get(URL, params={"language": "fi"})).status_code == 200
    async with sessionmaker() as session:
        events = (
            await session.exec(
                select(AuditEvent)
                .where(col(AuditEvent.action) == "contact.export")
                .order_by(col(AuditEvent.id))
            )
        ).all()
    assert [(e.route, e.method, e.actor_user_id is not None) for e in events] == [
        ("/api/v1/contacts/export.csv", "GET", True)
    ] * 2
    counts = {"left_out": 0, "refused_included": 0}
    assert [e.details for e in events] == [
        {"filters": ["q", "tag"], "contacts": 1, **counts},
        {"filters": ["language"], "language": "fi", "contacts": 2, **counts},
    ]
    assert all(e.contact_id is None for e in events)
    assert "Aino" not in str([e.model_dump() for e in events])


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.ADMIN, 200),
        (Role.MARKETER, 200),
        (Role.PRIVACY_OFFICER, 200),
        (Role.VIEWER, 403),
        (Role.CALLER, 403),
    ],
)
async def test_who_may_export(
    client: Client, make_token: TokenFactory, sessionmaker: SessionMaker, role: Role, status: int
) -> None:
    response = await client.get(URL, headers=auth(await make_token(role)))
    assert response.status_code == status, response.text
    if status == 403:
        assert "contacts:export" in response.json()["detail"]
        async with sessionmaker() as session:
            denial = (await session.exec(select(AuditEvent))).all()
        assert [e.action for e in denial] == ["permission.denied"]


async def test_pages_follow_the_id_order_without_loading_everything(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    for number in range(7):
        await add_contact(admin, full_name=f"Person {number}", email=f"p{number}@example.fi")
    chunks = [
        chunk
        async for chunk in service.csv_chunks(
            sessionmaker, scope=Scope(ContactFilter()), page_size=3
        )
    ]
    # The header, then pages of 3, 3 and 1 rows.
    assert [len(parse(chunk)) for chunk in chunks] == [1, 3, 3, 1]
    assert [row[0] for row in parse("".join(chunks))[1:]] == [f"Person {n}" for n in range(7)]
    nobody = Scope(ContactFilter(q="nobody"))
    empty = [c async for c in service.csv_chunks(sessionmaker, scope=nobody)]
    assert parse("".join(empty)) == [list(COLUMNS)]
