"""The processors register through the API, and the Art. 30 record and the
notice made from it: outside_eea derived from the country, the safeguard
required outside the EU/EEA, ended processors leaving the texts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Processor
from service.models.enums import Role
from service.notice.render import Document, Format, render
from service.processors import service
from service.settings import Settings
from tests.conftest import TokenFactory

Client = AsyncTestClient[Litestar]
URL = "/api/v1/processors"


def processor(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Mailer Inc.",
        "service": "sending email",
        "country": "us",
        "safeguard": "EU standard contractual clauses 2021/914",
        "contract_date": "2025-11-01",
        "data_categories": ["email", "name"],
    }
    body.update(overrides)
    return body


async def test_create_list_patch_and_end(admin: Client) -> None:
    created = await admin.post(URL, json=processor(outside_eea=False))
    assert created.status_code == 422  # outside_eea is derived, never given
    response = await admin.post(URL, json=processor())
    assert response.status_code == 201, response.text
    mailer = response.json()
    assert (mailer["country"], mailer["outside_eea"], mailer["active"]) == ("US", True, True)
    local = processor(name="Host Oy", service="hosting", country="FI", safeguard=None)
    hosting = (await admin.post(URL, json=local)).json()
    assert hosting["outside_eea"] is False
    fjord = processor(name="Fjord AS", country="NO", safeguard=None)
    norway = (await admin.post(URL, json=fjord)).json()
    assert norway["outside_eea"] is False  # the EEA, not only the EU
    listed = (await admin.get(URL)).json()
    assert [p["name"] for p in listed] == ["Fjord AS", "Host Oy", "Mailer Inc."]

    moved = await admin.patch(f"{URL}/{hosting['id']}", json={"country": "IN"})
    assert moved.status_code == 422 and "safeguard" in moved.json()["fields"]
    ended = await admin.patch(f"{URL}/{norway['id']}", json={"ended_on": "2026-01-01"})
    assert ended.status_code == 200, ended.text
    assert ended.json()["active"] is False
    active = (await admin.get(URL, params={"active": "true"})).json()
    assert [p["name"] for p in active] == ["Host Oy", "Mailer Inc."]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"safeguard": None}, "safeguard"),
        ({"country": "USA"}, "country"),
        ({"country": "1$"}, "country"),
        ({"country": ""}, "country"),
        ({"name": ""}, "name"),
        ({"contract_date": "2999-01-01"}, "contract_date"),
        ({"data_categories": [1, 2]}, "data_categories.0"),
    ],
)
async def test_bad_input_is_refused(
    admin: Client, session: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    response = await admin.post(URL, json=processor(**overrides))
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"]
    assert (await session.exec(select(func.count()).select_from(Processor))).one() == 0


async def test_a_marketer_may_not(client: Client, make_token: TokenFactory) -> None:
    headers = {"Authorization": f"Bearer {await make_token(Role.MARKETER)}"}
    assert (await client.get(URL, headers=headers)).status_code == 403
    assert (await client.post(URL, json=processor(), headers=headers)).status_code == 403


async def test_the_record_and_the_notice_name_the_registers_processors(
    admin: Client, session: AsyncSession, settings: Settings
) -> None:
    for body in (
        processor(),
        processor(name="Host Oy", service="hosting", country="FI", safeguard=None),
        processor(name="Gone Ltd", service="SMS", country="GB", safeguard="adequacy decision"),
    ):
        assert (await admin.post(URL, json=body)).status_code == 201
    gone = (await session.exec(select(Processor).where(Processor.name == "Gone Ltd"))).one()
    await admin.patch(f"{URL}/{gone.id}", json={"ended_on": date.today().isoformat()})
    active = list(await service.list_(session, active_only=True))
    assert [p.name for p in active] == ["Host Oy", "Mailer Inc."]

    record = render(settings, lang="en", document=Document.RECORD, fmt=Format.MARKDOWN,
                    processors=active)  # fmt: skip
    recipients = record[record.index("## 4.") : record.index("## 5.")]
    transfers = record[record.index("## 5.") : record.index("## 6.")]
    assert "- Host Oy: hosting; processed in FI" in recipients
    assert "- Mailer Inc.: sending email; processed in US; agreement of 2025-11-01" in recipients
    assert "Gone Ltd" not in record
    assert (
        "- Mailer Inc.: sending email (US, outside the EU/EEA; safeguard: EU standard "
        "contractual clauses 2021/914)" in transfers
    )
    assert "Host Oy" not in transfers

    notice = render(settings, lang="fi", document=Document.NOTICE, fmt=Format.MARKDOWN,
                    processors=active)  # fmt: skip
    section_8 = notice[notice.index("## 8.") : notice.index("## 9.")]
    assert "- Host Oy: hosting (FI)" in section_8
    assert "Mailer Inc.: sending email (US, EU:n ja ETA:n ulkopuolella" in section_8

    # Nothing outside the EEA: the record says so instead of listing none.
    only_local = [p for p in active if not p.outside_eea]
    record = render(settings, lang="en", document=Document.RECORD, fmt=Format.MARKDOWN,
                    processors=only_local)  # fmt: skip
    assert "No service provider in the processors register processes data outside" in record
    # The register not read: the general words only.
    unread = render(settings, lang="en", document=Document.RECORD, fmt=Format.MARKDOWN)
    assert "processors register" not in unread
