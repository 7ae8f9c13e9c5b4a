"""Profiles in the privacy portal (issue 17 items 2 and 3): withdrawing the
profiling consent on the page destroys the person's profiles at once, and the
download carries the report of a profile still kept."""

from __future__ import annotations

from sqlmodel import select

from service.db import SessionMaker
from service.models import Profile, RetentionAction
from service.models.enums import ProfileState
from tests.integration.portal.conftest import OURS, Client, signed_in
from tests.support.factories import EVIDENCE, add_contact, record_consent, unique_email

REPORT = {"D": 71, "I": 40, "S": 22, "C": 55}


async def person_with_profile(
    admin: Client, client: Client, sessionmaker: SessionMaker
) -> tuple[int, int]:
    contact_id = await add_contact(admin, email=unique_email("profiled"))
    await record_consent(
        admin, contact_id, action="grant", purpose="profiling_report", evidence=EVIDENCE
    )
    created = await admin.post(
        f"/api/v1/contacts/{contact_id}/profiles",
        json={"completed_on": "2026-01-10", "has_vendor_account": True, "content": REPORT},
    )
    assert created.status_code == 201, created.text
    await signed_in(client, sessionmaker, contact_id)
    return contact_id, created.json()["id"]


async def test_the_download_carries_the_report_of_a_kept_profile(
    admin: Client, client: Client, sessionmaker: SessionMaker
) -> None:
    _, profile_id = await person_with_profile(admin, client, sessionmaker)
    mine = (await client.get("/me/export")).json()
    [profile] = mine["profiles"]
    assert (profile["id"], profile["content"]) == (profile_id, REPORT)


async def test_withdrawing_on_the_page_destroys_the_profile(
    admin: Client, client: Client, sessionmaker: SessionMaker
) -> None:
    _, profile_id = await person_with_profile(admin, client, sessionmaker)
    withdrawn = await client.post(
        "/me/consents", data={"email.profiling_report": "withdraw"}, headers=OURS
    )
    assert withdrawn.status_code == 200
    async with sessionmaker() as session:
        profile = await session.get(Profile, profile_id)
        recorded = (await session.exec(select(RetentionAction))).all()
    assert profile is not None and profile.state is ProfileState.DESTROYED
    assert profile.content_encrypted is None
    assert [(r.rule, r.reference) for r in recorded] == [
        ("profile_consent_withdrawn", f"profile {profile_id}")
    ]
    assert (await admin.get(f"/api/v1/profiles/{profile_id}/content")).status_code == 410
    mine = (await client.get("/me/export")).json()
    assert [(p["state"], p["content"]) for p in mine["profiles"]] == [("destroyed", None)]
