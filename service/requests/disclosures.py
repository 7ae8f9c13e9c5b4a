"""The disclosure log (the notice §8): what was handed to whom, when, why, by whom.

Two disclosures need more than the record itself: the identity code needs a
basis under the Finnish Data Protection Act 1050/2018 § 29, and a recipient
outside the EU/EEA needs a safeguard (GDPR 44-46). Either missing is a 422
naming the field, and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import get_or_404
from service.errors import InvalidInput
from service.labels import N_
from service.models import Contact, Disclosure
from service.requests.schemas import DisclosureCreate, DisclosureRead

# Category names that say the identity code went out, whatever the flag says.
IDENTITY_CODE_CATEGORIES = frozenset({"identity_code", "personal_identity_code", "hetu"})


def check(data: DisclosureCreate) -> None:
    """The rules between fields, each answered with the field to fix."""
    fields: dict[str, str] = {}
    if data.includes_identity_code and data.identity_code_basis is None:
        fields["identity_code_basis"] = (
            "required when the identity code is disclosed (Data Protection Act 1050/2018 § 29)"
        )
    if not data.includes_identity_code and data.identity_code_basis is not None:
        fields["identity_code_basis"] = "only for a disclosure that includes the identity code"
    if not data.includes_identity_code and IDENTITY_CODE_CATEGORIES & set(data.data_categories):
        fields["includes_identity_code"] = "must be true when the identity code is disclosed"
    if data.outside_eea and data.safeguard is None:
        fields["safeguard"] = (
            "required for a recipient outside the EU/EEA, e.g. EU standard contractual "
            "clauses 2021/914"
        )
    if not data.outside_eea and data.safeguard is not None:
        fields["safeguard"] = "only for a recipient outside the EU/EEA"
    if fields:
        raise InvalidInput(N_("the disclosure record is incomplete"), fields=fields)


async def create(
    session: AsyncSession, *, contact_id: int, data: DisclosureCreate, user_id: int | None
) -> Disclosure:
    """404 when there is no such contact. A restricted contact's disclosures are
    still recorded: the log states a fact that happened, and GDPR 18(2) allows
    some disclosures even then."""
    await get_or_404(session, Contact, contact_id, what="contact")
    check(data)
    disclosure = Disclosure(contact_id=contact_id, **data.model_dump(), recorded_by_user_id=user_id)
    session.add(disclosure)
    await session.flush()
    return disclosure


async def list_(session: AsyncSession, *, contact_id: int) -> Sequence[Disclosure]:
    """The contact's disclosures, newest first (also read by the access export);
    404 when there is no such contact."""
    await get_or_404(session, Contact, contact_id, what="contact")
    rows = await session.exec(
        select(Disclosure)
        .where(Disclosure.contact_id == contact_id)
        .order_by(col(Disclosure.disclosed_on).desc(), col(Disclosure.id).desc())
    )
    return rows.all()


def to_read(disclosure: Disclosure) -> DisclosureRead:
    return DisclosureRead.model_validate(disclosure, from_attributes=True)
