"""An import by a role without the permissions of the gate inputs and the
identity code (issue 17): such rows are refused one by one, and the report
never says whether an identity code is registered."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.integration.audit.support import as_role
from tests.support.factories import add_contact

Client = AsyncTestClient[Litestar]
HETU = "131052-308T"


async def _import(admin: Client, text: str, headers: dict[str, str]) -> dict[str, object]:
    response = await admin.post(
        "/api/v1/imports",
        content=text.encode(),
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    report: dict[str, object] = response.json()
    return report


async def test_a_marketer_import_cannot_change_gate_inputs_or_touch_codes(
    admin: Client, make_token: TokenFactory
) -> None:
    known = await add_contact(admin, email="known@example.fi", personal_identity_code=HETU)
    marketer = await as_role(make_token, Role.MARKETER)
    report = await _import(
        admin,
        "full_name,email,legal_basis,is_customer,personal_identity_code\n"
        "Known,known@example.fi,consent,true,\n"
        "Coded,other@example.fi,customer_relationship,false," + HETU + "\n"
        "Fresh,fresh@example.fi,consent,true,\n",
        marketer,
    )
    problems = {p["line"]: p for p in report["problems"]}  # type: ignore[attr-defined]
    assert problems[2]["reason"] == "forbidden" and problems[2]["field"] == "legal_basis"
    assert problems[3]["reason"] == "forbidden"
    assert problems[3]["field"] == "personal_identity_code"
    assert "ambiguous" not in str(report) and "already" not in str(report)
    assert report["created"] == 1  # a new contact: whoever may create sets these
    stored = (await admin.get(f"/api/v1/contacts/{known}")).json()
    assert stored["legal_basis"] == "customer_relationship" and stored["is_customer"] is False


async def test_an_officer_import_may_change_them_and_codes_need_a_basis(
    admin: Client, make_token: TokenFactory
) -> None:
    known = await add_contact(admin, email="known@example.fi")
    officer = await as_role(make_token, Role.PRIVACY_OFFICER)
    report = await _import(
        admin,
        "full_name,email,legal_basis,personal_identity_code,personal_identity_code_basis\n"
        "Known,known@example.fi,consent,,\n"
        "Coded,coded@example.fi,customer_relationship," + HETU + ",\n",
        officer,
    )
    [problem] = report["problems"]  # type: ignore[misc]
    assert (problem["line"], problem["field"]) == (3, "personal_identity_code_basis")
    stored = (await admin.get(f"/api/v1/contacts/{known}")).json()
    assert stored["legal_basis"] == "consent"
