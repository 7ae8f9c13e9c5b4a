"""Issue 18 item 5 on the privacy officer's pages: the requests register, a
request, the retention plan, the recipients to tell, the breach register and
the audit trail speak the member's language (Finnish or Swedish), show codes
as words and dates the Finnish way; the words of the tables built in Python
cover every code."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.models.enums import Role
from service.requests import linking
from service.requests import service as requests_service
from service.retention.schemas import Action, SkipReason
from service.web import privacy
from tests.integration.web.conftest import csrf
from tests.integration.web.privacy.support import Staff
from tests.support.factories import add_contact

# 25 February 2026, noon in Helsinki.
NOW = datetime(2026, 2, 25, 10, 0, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def clock_start() -> datetime:
    return NOW


async def _request(api: Any, received_on: str, **fields: object) -> int:
    body = {"type": "erasure", "channel": "email", "received_on": received_on, **fields}
    response = await api.post("/api/v1/requests", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _text(html: str) -> str:
    """The page's words without its tags, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_a_finnish_officer_reads_the_register_and_a_request_in_finnish(
    staff: Staff,
) -> None:
    api = staff.client
    late = await _request(api, "2026-01-10", requester="Maija Myöhä")  # due 10 Feb
    officer = await staff.become(Role.PRIVACY_OFFICER, language="fi")

    register = await officer.get("/app/privacy")
    assert register.status_code == 200, register.text
    assert '<html lang="fi">' in register.text
    words = _text(register.text)
    for expected in (
        "Pyyntörekisteri",  # the tab and the heading
        "Ilmoitettavat vastaanottajat",
        "avoin pyyntö myöhässä",  # one overdue: the singular
        "15 päivää myöhässä",  # the row's flag, plural
        "10.2.2026",  # received, the Finnish way
        "Poistaminen",  # the request's kind, a label
    ):
        assert expected in words, expected
    assert "overdue" not in words and "Requests register" not in words
    assert "2026-01-10" not in words  # no ISO day is shown

    page = await officer.get(f"/app/privacy/requests/{late}")
    words = _text(page.text)
    for expected in (
        "Todenna pyytäjän henkilöllisyys",
        "Sulje pyyntö",
        "ei todennettu",
        "Käsitelty",
    ):
        assert expected in words, expected
    # A request still in time may be extended: by months, with their plural forms.
    fresh = await _request(api, "2026-02-20")
    extendable = (await officer.get(f"/app/privacy/requests/{fresh}")).text
    assert "Pidennä määräaikaa" in extendable
    assert ">1 kuukausi</option>" in extendable and ">2 kuukautta</option>" in extendable
    assert "20.3.2026 · 23 päivää jäljellä" in extendable

    # A refusal is said in Finnish too: the link step without a contact id.
    refused = await officer.post(
        f"/app/privacy/requests/{late}/link", data={"csrf_token": csrf(page)}
    )
    assert refused.status_code == 422
    assert "anna sen kontaktin tunnus, jota pyyntö koskee" in refused.text
    assert "Joitakin kenttiä on korjattava; mitään ei tallennettu." in refused.text


async def test_a_finnish_officer_reads_the_retention_plan_with_finnish_days(
    staff: Staff,
) -> None:
    for last in ("2019-01-01", "2020-06-30"):
        await add_contact(staff.client, email=None, last_service_contact_at=last)
    officer = await staff.become(Role.PRIVACY_OFFICER, language="fi")
    answer = await officer.get("/app/privacy/retention", params={"as_of": "2026-02-25"})
    assert answer.status_code == 200, answer.text
    heading = answer.text.split('id="plan-summary">')[1].split("</h2>")[0]
    assert heading == "Säilytysaikasuunnitelma 25.2.2026: 2 erääntynyt, 0 ohitettu, 2 myöhässä"
    assert "Poista kontakti" in answer.text  # the action, in words
    assert "2 kohdetta" in answer.text

    bad = await officer.get("/app/privacy/retention", params={"as_of": "eilen"})
    assert bad.status_code == 422
    assert "Ei päivämäärä: kirjoita muodossa VVVV-KK-PP." in bad.text
    far = await officer.get("/app/privacy/retention", params={"as_of": "1900-01-01"})
    assert far.status_code == 422 and "Anna päivä väliltä" in far.text


async def test_a_swedish_member_reads_breaches_and_the_audit_trail_in_swedish(
    staff: Staff,
) -> None:
    api = staff.client
    discovered = NOW - timedelta(hours=80)
    response = await api.post(
        "/api/v1/breaches", json={"discovered_at": discovered.isoformat(), "nature": "x"}
    )
    assert response.status_code == 201, response.text
    admin = await staff.become(Role.ADMIN, language="sv")

    breaches = await admin.get("/app/breaches")
    assert breaches.status_code == 200, breaches.text
    words = _text(breaches.text)
    for expected in (
        "Register över personuppgiftsincidenter",
        "incident försenad för anmälan till myndigheten",
        "anmälan till myndigheten försenad med 8 h",
        "Risk",  # the risk's label
        "Inte avslutade",  # the view
    ):
        assert expected in words, expected

    audit = await admin.get("/app/audit")
    words = _text(audit.text)
    assert "<title>Granskningslogg" in audit.text
    assert "den nyaste först, i Helsingforstid" in words
    assert "Administratör" in words  # the staff members' roles, labels
    checked = await admin.post("/app/audit/verify", data={"csrf_token": csrf(audit)})
    assert "Granskningsloggen är intakt" in checked.text


def test_the_tables_of_words_cover_every_code() -> None:
    """A new retention action, reason to skip or request step needs its words."""
    assert set(privacy.PLAN_ACTION_WORDS) == set(Action)
    assert set(privacy.SKIP_WORDS) == set(SkipReason)
    steps = {a.value for a in linking.Action} | {
        requests_service.VERIFIED,
        requests_service.EXTENDED,
        requests_service.CLOSED,
    }
    assert set(privacy.ACTION_WORDS) == steps
