"""The public pages' choices point at the archived words the person saw:
the preference centre (``preferences:{channel}.{purpose}``) and the
unsubscribe page (``unsubscribe:{scope}``), in the page's language. A
one-click unsubscribe shows no words and records none."""

from __future__ import annotations

import hashlib

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.consent.texts import CHOICE_LABELS, PAGE_TEXT
from service.models import ConsentEvent, ConsentText
from service.models.enums import Channel, Purpose
from service.tokens import TokenSigner
from tests.conftest import TEST_SECRET
from tests.support.factories import MARKETING, add_contact, grant

Client = AsyncTestClient[Litestar]
SIGNER = TokenSigner(TEST_SECRET)
ANONYMOUS = {"Authorization": ""}


async def events(session: AsyncSession, contact_id: int) -> list[ConsentEvent]:
    rows = await session.exec(
        select(ConsentEvent)
        .where(ConsentEvent.contact_id == contact_id)
        .order_by(col(ConsentEvent.id))
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def test_preference_centre_choices_carry_the_archived_label(
    admin: Client, session: AsyncSession
) -> None:
    contact_id = await add_contact(admin, consent=MARKETING, phone="0401234567", language="sv")
    token = SIGNER.sign("preferences", contact_id)
    form = {"sms:direct_marketing": "grant", "phone:direct_marketing": "withdraw"}
    response = await admin.post(f"/p/{token}", data=form, headers=ANONYMOUS)
    assert response.status_code == 200, response.text
    recorded = (await events(session, contact_id))[1:]
    assert len(recorded) == 2
    for event in recorded:
        assert event.text_id is not None and event.language == "sv"
        text = await session.get(ConsentText, event.text_id)
        assert text is not None
        pair = (Channel(event.channel), Purpose(event.purpose))
        assert text.key == f"preferences:{event.channel}.{event.purpose}"
        assert text.body == CHOICE_LABELS["sv"][pair] and text.language == "sv"
        assert text.hash == hashlib.sha256(text.body.encode()).hexdigest()
        assert event.evidence_text is not None
        assert event.evidence_text.startswith(text.body)  # as before: label and answer
    # The same words later: the same archived version.
    sms_text = next(e.text_id for e in recorded if e.channel == "sms")
    again = await admin.post(
        f"/p/{token}", data={"sms:direct_marketing": "withdraw"}, headers=ANONYMOUS
    )
    assert again.status_code == 200
    latest = (await events(session, contact_id))[-1]
    assert (latest.channel, latest.action, latest.text_id) == ("sms", "withdraw", sms_text)


async def test_the_unsubscribe_page_choices_carry_their_archived_words(
    admin: Client, session: AsyncSession
) -> None:
    contact_id = await add_contact(admin, consent=MARKETING, language="fi")
    await grant(admin, contact_id, purpose="email_tracking")
    token = SIGNER.sign("unsubscribe", contact_id, 3)
    form = {"via": "page", "scope": ["email", "tracking"]}
    response = await admin.post(f"/u/{token}", data=form, headers=ANONYMOUS)
    assert response.status_code == 200, response.text
    withdrawals = [e for e in await events(session, contact_id) if e.action == "withdraw"]
    assert {e.purpose for e in withdrawals} == {"direct_marketing", "email_tracking"}
    for event in withdrawals:
        scope = "email" if event.purpose == "direct_marketing" else "tracking"
        assert event.text_id is not None and event.language == "fi"
        text = await session.get(ConsentText, event.text_id)
        assert text is not None
        assert (text.key, text.body) == (f"unsubscribe:{scope}", PAGE_TEXT["fi"][f"scope_{scope}"])
        assert event.evidence_text is None  # unchanged: the page never wrote one


async def test_one_click_has_no_text(admin: Client, session: AsyncSession) -> None:
    contact_id = await add_contact(admin, consent=MARKETING)
    token = SIGNER.sign("unsubscribe", contact_id, 3)
    response = await admin.post(
        f"/u/{token}", data={"List-Unsubscribe": "One-Click"}, headers=ANONYMOUS
    )
    assert response.status_code == 200
    withdrawal = (await events(session, contact_id))[-1]
    assert withdrawal.action == "withdraw" and withdrawal.method == "one_click"
    assert withdrawal.text_id is None and withdrawal.language is None
    assert (await session.exec(select(ConsentText))).all() == []
