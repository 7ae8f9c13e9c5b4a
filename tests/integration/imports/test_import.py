"""The contact import, run on both databases: rows checked with the API's
schemas, good rows in, bad rows reported by line and column, re-import as
update, and nothing the person or the register said before overridden."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import col, select

from service.contacts import service as contacts
from service.crypto import DataCipher
from service.db import SessionMaker, session_scope
from service.imports.columns import UnreadableFile
from service.models import (
    Ban,
    ConsentEvent,
    ConsentState,
    Contact,
    ContactChange,
    ContactTag,
    Interaction,
)
from service.models.enums import (
    Actor,
    BanChannel,
    BanKind,
    CaptureMethod,
    Channel,
    ConsentAction,
    LegalBasis,
    Purpose,
    Source,
)

CODE = "131052-308T"
# A stored identity code needs its basis (issue 17): the last column, where a row has a code.
HEADER = (
    "full_name,email,personal_identity_code,legal_basis,tags,is_customer,"
    "personal_identity_code_basis"
)
CONSENTS = (
    "full_name,email,legal_basis,consent_email_direct_marketing,"
    "consent_evidence_text,consent_notice_version,consent_method"
)
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def csv_file(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def clock_start() -> datetime:
    return NOW


async def contacts_by_email(sessionmaker: SessionMaker) -> dict[str, Contact]:
    async with sessionmaker() as session:
        rows = (await session.exec(select(Contact))).all()
    return {c.email: c for c in rows if c.email}


async def add_contact(sessionmaker: SessionMaker, **fields: object) -> int:
    async with session_scope(sessionmaker) as session:
        contact = Contact(
            full_name="Olemassa Oleva",
            legal_basis=LegalBasis.CONSENT,
            source=Source.SELF,
            **fields,  # type: ignore[arg-type]
        )
        if contact.email:
            contact.email_hash = DataCipher("x" * 40).lookup_hash("email", contact.email)
        session.add(contact)
        await session.flush()
        assert contact.id is not None
        return contact.id


async def test_good_file_creates_contacts_tags_and_consents(do_import, sessionmaker) -> None:
    report = await do_import(
        csv_file(
            CONSENTS + ",tags,personal_identity_code,personal_identity_code_basis",
            "Maija Meikäläinen,MAIJA@example.fi,consent,grant,Kyllä kiitos,v3,web_form,"
            "asiakas; vip,",
            f"Matti Virtanen,matti@example.fi,customer_relationship,,,,,,{CODE},law",
        ),
        file_name="messu-2026.csv",
    )
    assert (report.rows, report.created, report.refused, report.written) == (2, 2, 0, True)
    assert report.consents_recorded == 1
    found = await contacts_by_email(sessionmaker)
    assert set(found) == {"maija@example.fi", "matti@example.fi"}
    maija, matti = found["maija@example.fi"], found["matti@example.fi"]
    assert maija.source is Source.IMPORT  # no source column: the import is the source
    assert matti.identity_code_hash is not None
    assert matti.identity_code_encrypted is not None
    assert CODE not in matti.identity_code_encrypted
    async with sessionmaker() as session:
        tags = await contacts.tags_of(session, [maija.id])  # type: ignore[list-item]
        event = (await session.exec(select(ConsentEvent))).one()
        state = (await session.exec(select(ConsentState))).one()
    assert tags[maija.id] == ["asiakas", "vip"]  # type: ignore[index]
    assert (event.contact_id, event.channel, event.purpose, event.action) == (
        maija.id,
        Channel.EMAIL,
        Purpose.DIRECT_MARKETING,
        ConsentAction.GRANT,
    )
    assert (event.source, event.actor, event.method) == (
        Source.IMPORT,
        Actor.IMPORT,
        CaptureMethod.WEB_FORM,
    )
    assert event.evidence_text == "import: messu-2026.csv at 2026-11-25T02:00Z; Kyllä kiitos"
    assert event.notice_version == "v3"
    assert (state.event_id, state.action) == (event.id, ConsentAction.GRANT)


async def test_bad_rows_are_reported_by_line_and_field_and_good_rows_go_in(
    do_import, sessionmaker
) -> None:
    report = await do_import(
        csv_file(
            HEADER,
            "Hyvä Rivi,hyva@example.fi,,consent,,",
            "Huono Posti,not-an-email,,consent,,",
            "Huono Tunnus,tunnus@example.fi,131052-308X,consent,,",
            ",nimeton@example.fi,,consent,,",
            "Huono Totuus,totuus@example.fi,,consent,,maybe",
            "Toinen Hyvä,toinen@example.fi,,assignment,,yes",
        )
    )
    assert (report.created, report.refused, report.refused_by_reason) == (2, 4, {"invalid": 4})
    assert [(p.line, p.field) for p in report.problems] == [
        (3, "email"),
        (4, "personal_identity_code"),
        (5, "full_name"),
        (6, "is_customer"),
    ]
    assert "131052-308X" not in report.model_dump_json()
    assert set(await contacts_by_email(sessionmaker)) == {"hyva@example.fi", "toinen@example.fi"}


async def test_all_or_nothing_writes_nothing_when_a_row_is_bad(do_import, sessionmaker) -> None:
    raw = csv_file(HEADER, "Hyvä Rivi,hyva@example.fi,,consent,,", "Huono,x,,consent,,")
    report = await do_import(raw, all_or_nothing=True)
    assert (report.created, report.refused, report.written) == (1, 1, False)
    assert await contacts_by_email(sessionmaker) == {}
    good = await do_import(
        csv_file(HEADER, "Hyvä Rivi,hyva@example.fi,,consent,,"), all_or_nothing=True
    )
    assert good.written is True
    assert set(await contacts_by_email(sessionmaker)) == {"hyva@example.fi"}


async def test_dry_run_reports_and_writes_nothing(do_import, sessionmaker) -> None:
    report = await do_import(csv_file(HEADER, "Hyvä Rivi,hyva@example.fi,,consent,,"), dry_run=True)
    assert (report.created, report.written) == (1, False)
    assert await contacts_by_email(sessionmaker) == {}


async def test_an_unknown_column_refuses_the_whole_file(do_import, sessionmaker) -> None:
    with pytest.raises(UnreadableFile) as caught:
        await do_import(csv_file("full_name,email,shoe_size", "A B,ab@example.fi,42"))
    assert "shoe_size" in caught.value.detail
    assert caught.value.fields == {"shoe_size": "unknown column"}
    with pytest.raises(UnreadableFile, match="UTF-8"):
        await do_import("full_name\nÄäkkönen\n".encode("latin-1"))
    assert await contacts_by_email(sessionmaker) == {}


async def test_a_bom_and_windows_line_ends_are_read(do_import, sessionmaker) -> None:
    raw = "\ufefffull_name,email,legal_basis\r\nÄiti Åström,aiti@example.fi,consent\r\n"
    report = await do_import(raw.encode("utf-8"))
    assert (report.created, report.refused) == (1, 0)


async def test_reimport_updates_by_email_and_by_identity_code(do_import, sessionmaker) -> None:
    first = await do_import(
        csv_file(HEADER, f"Maija Meikäläinen,maija@example.fi,{CODE},consent,a,false,law")
    )
    assert first.created == 1
    again = await do_import(
        csv_file(
            "email,city,tags",
            "maija@example.fi,Tampere,a;b",
        )
    )
    assert (again.created, again.updated, again.unchanged) == (0, 1, 0)
    by_code = await do_import(csv_file("personal_identity_code,nickname", f"{CODE},Maikki"))
    assert (by_code.created, by_code.updated) == (0, 1)
    same = await do_import(csv_file("personal_identity_code,nickname", f"{CODE},Maikki"))
    assert (same.updated, same.unchanged) == (0, 1)
    maija = (await contacts_by_email(sessionmaker))["maija@example.fi"]
    assert (maija.full_name, maija.city, maija.nickname) == (
        "Maija Meikäläinen",
        "Tampere",
        "Maikki",
    )
    async with sessionmaker() as session:
        changes = (await session.exec(select(ContactChange).order_by(col(ContactChange.id)))).all()
        tags = (await session.exec(select(ContactTag.tag).order_by(col(ContactTag.tag)))).all()
    assert [c.fields for c in changes] == [["city", "tags"], ["nickname"]]
    assert tags == ["a", "b"]


async def test_a_row_matching_two_contacts_is_refused(do_import, sessionmaker) -> None:
    await do_import(
        csv_file(
            HEADER, "Eka,eka@example.fi,,consent,,", f"Toka,toka@example.fi,{CODE},consent,,,law"
        )
    )
    report = await do_import(
        csv_file("email,personal_identity_code,city", f"eka@example.fi,{CODE},Oulu")
    )
    assert report.refused_by_reason == {"ambiguous": 1}
    assert CODE not in report.model_dump_json()


async def test_the_same_person_twice_in_a_file_is_refused(do_import) -> None:
    report = await do_import(
        csv_file(HEADER, "Eka,eka@example.fi,,consent,,", "Eka Uudestaan,EKA@example.fi,,consent,,")
    )
    assert report.created == 1
    assert [(p.line, p.reason, p.message) for p in report.problems] == [
        (3, "duplicate_in_file", "the same email as line 2")
    ]


async def test_a_restricted_contact_is_not_updated(do_import, sessionmaker) -> None:
    await add_contact(sessionmaker, email="rajattu@example.fi", restricted_at=NOW)
    report = await do_import(csv_file("email,city", "rajattu@example.fi,Espoo"))
    assert report.refused_by_reason == {"restricted": 1}
    assert (await contacts_by_email(sessionmaker))["rajattu@example.fi"].city is None


async def test_a_grant_in_the_file_does_not_override_a_withdrawal(do_import, sessionmaker) -> None:
    grant = "grant,Kyllä,v1,"
    await do_import(csv_file(CONSENTS, f"Maija,maija@example.fi,consent,{grant}"))
    withdrawn = await do_import(csv_file(CONSENTS, "Maija,maija@example.fi,consent,withdraw,,,"))
    assert withdrawn.consents_recorded == 1
    report = await do_import(csv_file(CONSENTS, f"Maija,maija@example.fi,consent,{grant}"))
    assert (report.consents_recorded, report.consents_skipped_by_reason) == (
        0,
        {"consent_withdrawn": 1},
    )
    assert report.skipped_consents[0].field == "consent_email_direct_marketing"
    assert report.unchanged == 1
    async with sessionmaker() as session:
        state = (await session.exec(select(ConsentState))).one()
        events = (await session.exec(select(ConsentEvent))).all()
    assert state.action is ConsentAction.WITHDRAW
    assert len(events) == 2


async def test_a_grant_needs_its_evidence_columns(do_import, sessionmaker) -> None:
    report = await do_import(csv_file(CONSENTS, "Maija,maija@example.fi,consent,grant,,,"))
    assert [(p.field, p.reason) for p in report.problems] == [
        ("consent_email_direct_marketing", "invalid")
    ]
    assert "evidence" in report.problems[0].message
    assert await contacts_by_email(sessionmaker) == {}


async def test_bans_and_objections_are_not_overridden(do_import, sessionmaker) -> None:
    banned = await add_contact(sessionmaker, email="banned@example.fi")
    await add_contact(sessionmaker, email="objected@example.fi", objected_at=NOW)
    async with session_scope(sessionmaker) as session:
        session.add(
            Ban(
                contact_id=banned,
                kind=BanKind.DIRECT_MARKETING,
                channel=BanChannel.ALL,
                source=Source.SELF,
                actor=Actor.STAFF,
            )
        )
    report = await do_import(
        csv_file(
            CONSENTS,
            "Banned,banned@example.fi,consent,grant,Kyllä,,",
            "Objected,objected@example.fi,consent,grant,Kyllä,,",
        )
    )
    assert report.consents_skipped_by_reason == {"direct_marketing_ban": 1, "objected": 1}
    assert report.consents_recorded == 0
    async with sessionmaker() as session:
        assert (await session.exec(select(ConsentEvent))).all() == []
        ban = (await session.exec(select(Ban))).one()
    assert ban.lifted_at is None


async def test_purchase_details_are_dropped_under_a_purchase_registration_ban(
    do_import, sessionmaker
) -> None:
    banned = await add_contact(sessionmaker, email="banned@example.fi")
    await add_contact(sessionmaker, email="open@example.fi")
    async with session_scope(sessionmaker) as session:
        session.add(
            Ban(
                contact_id=banned,
                kind=BanKind.PURCHASE_REGISTRATION,
                channel=BanChannel.ALL,
                source=Source.SELF,
                actor=Actor.STAFF,
            )
        )
    report = await do_import(
        csv_file(
            "email,city,purchase_on,purchase_details",
            'banned@example.fi,Turku,2026-10-01,"{""product"": ""Valmennus"", ""eur"": 490}"',
            "open@example.fi,Turku,2026-10-02,Kirja",
            "new@example.fi,,2026-10-03,Kurssi",
        )
    )
    assert report.refused_by_reason == {"invalid": 1}  # new: no full_name, no legal_basis
    assert (report.updated, report.purchases_recorded, report.purchases_dropped) == (2, 1, 1)
    assert report.dropped_purchases[0].reason == "purchase_registration_ban"
    found = await contacts_by_email(sessionmaker)
    assert found["banned@example.fi"].city == "Turku"  # the rest of the row went in
    assert found["banned@example.fi"].last_service_contact_at is None
    async with sessionmaker() as session:
        purchases = (await session.exec(select(Interaction))).all()
    assert [(p.contact_id, p.details) for p in purchases] == [
        (found["open@example.fi"].id, {"description": "Kirja"})
    ]
    assert str(found["open@example.fi"].last_service_contact_at) == "2026-10-02"


async def test_a_purchase_carries_soft_opt_ins_evidence(do_import, sessionmaker) -> None:
    """The evidence columns go to the purchase, checked as the API checks them;
    a bad cell refuses the row and names its column."""
    report = await do_import(
        csv_file(
            "full_name,email,legal_basis,is_customer,purchase_on,purchase_product_group,"
            "purchase_address_collected,purchase_refusal_offered",
            "Täysi,full@example.fi,customer_relationship,yes,2026-10-01,Valmennus,yes,yes",
            "Kertomatta,untold@example.fi,customer_relationship,yes,2026-10-02,Kirjat,1,0",
            "Ryhmätön,nogroup@example.fi,customer_relationship,yes,2026-10-03,,true,true",
            "Kertoi,told@example.fi,customer_relationship,yes,2026-10-04,Kurssit,no,yes",
            "Ehkä,maybe@example.fi,customer_relationship,yes,2026-10-05,Kurssit,perhaps,",
            "Pitkä,long@example.fi,customer_relationship,yes,2026-10-06," + "x" * 101 + ",,",
        )
    )
    assert (report.created, report.purchases_recorded) == (2, 2)
    assert [(p.line, p.field) for p in report.problems] == [
        (4, "purchase_product_group"),
        (5, "purchase_refusal_offered"),
        (6, "purchase_address_collected"),
        (7, "purchase_product_group"),
    ]
    found = await contacts_by_email(sessionmaker)
    async with sessionmaker() as session:
        purchases = (await session.exec(select(Interaction).order_by(col(Interaction.id)))).all()
    assert [
        (p.contact_id, str(p.occurred_on), p.product_group, p.address_collected, p.refusal_offered)
        for p in purchases
    ] == [
        (found["full@example.fi"].id, "2026-10-01", "Valmennus", True, True),
        (found["untold@example.fi"].id, "2026-10-02", "Kirjat", True, False),
    ]
