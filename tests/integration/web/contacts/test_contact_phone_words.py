"""Issue 18 item 5: phone numbers on the contact pages as people write them
(stored in E.164; Finnish numbers nationally, others internationally)."""

from __future__ import annotations

from service.models.enums import Role
from tests.integration.web.conftest import SignedIn
from tests.integration.web.contacts.conftest import Client
from tests.support.factories import add_phone_contact


async def test_the_list_and_the_page_write_phone_numbers_the_local_way(
    admin: Client, signed_in: SignedIn
) -> None:
    finn = await add_phone_contact(admin, "Aino Aalto", "0401234567")
    swede = await add_phone_contact(admin, "Bo Berg", "+46812345678")
    browser = await signed_in(Role.MARKETER)
    listed = (await browser.get("/app/contacts")).text
    assert "<td>040 1234567</td>" in listed and "<td>+46 8 123 456 78</td>" in listed
    assert "+358401234567" not in listed
    page = (await browser.get(f"/app/contacts/{finn}")).text
    assert "<dt>Phone</dt><dd>040 1234567</dd>" in page
    page = (await browser.get(f"/app/contacts/{swede}")).text
    assert "<dt>Phone</dt><dd>+46 8 123 456 78</dd>" in page
