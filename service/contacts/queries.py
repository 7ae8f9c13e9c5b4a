"""Set-based checks of the stored register, for ``consentry status``.

Rows written before issue 13's checks (or put in by hand) may hold what the
validators of service.validation refuse today. The sender fails such a
recipient on its own; these counts let an operator find and rectify them first.
Counts only: no query here returns a value.

Cost: "contains a control character" is no question an index can answer, so
:func:`register_problems` reads every contact once (one sequential scan, all
counts in the same pass) and every tag once: linear in the register's text.
Measured on SQLite with a million contacts (twelve short text fields each,
two tags), on a shared 2-CPU machine under load: about 13 s, nearly all of it
GLOB's per-character class matching (about 1.5 s per text column); a 100,000
contact register takes about 1 s. PostgreSQL runs the same single pass with
its regular expressions (not measured at that size). It runs only for
``consentry status``, which an operator asks for; /metrics and the health
checks never run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, String, case, cast, func, literal, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import run
from service.models import Contact, ContactTag

# Every text column of a contact a person or a file can fill in.
TEXT_COLUMNS = (
    "full_name",
    "nickname",
    "email",
    "phone",
    "customer_number",
    "employer",
    "education",
    "position",
    "street_address",
    "postal_code",
    "city",
    "country",
)
Column = ColumnElement[Any]
CONTACTS = Contact.__table__  # type: ignore[attr-defined]
CONTACT_TAGS = ContactTag.__table__  # type: ignore[attr-defined]
# validation.CONTROL_CHARACTERS in each database's pattern language. NUL cannot
# be in a PostgreSQL text at all, and SQLite's GLOB stops at it: it is found
# in the bytes instead.
_CONTROL_RANGES = "\x01-\x1f\x7f-\x9f\u2028\u2029"
_NUL = b"\x00"


@dataclass(frozen=True)
class RegisterProblems:
    """Contacts by what is wrong with them; one contact may count under several."""

    control_characters: int = 0  # in a text field
    control_characters_in_tags: int = 0
    phone_not_international: int = 0  # letters or other stray characters
    email_malformed: int = 0  # not one "@" with text either side, or spaces, brackets, quotes
    # Not wrong, but deliverable only through a relay that offers SMTPUTF8.
    email_non_ascii_local_part: int = 0


class _Dialect:
    """The few predicates the two databases write differently."""

    def __init__(self, name: str) -> None:
        self.sqlite = name == "sqlite"

    def contains_any(self, column: Column, characters: str) -> ColumnElement[bool]:
        """``column`` holds one of ``characters`` (a bracket expression's contents)."""
        if self.sqlite:
            return column.op("GLOB", is_comparison=True)(literal(f"*[{characters}]*"))
        return column.op("~", is_comparison=True)(literal(f"[{characters}]"))

    def control(self, column: Column) -> ColumnElement[bool]:
        found = self.contains_any(column, _CONTROL_RANGES)
        if self.sqlite:
            nul = func.instr(cast(column, LargeBinary), literal(_NUL, LargeBinary)) > 0
            return or_(found, nul)
        return found

    def local_part(self, email: Column) -> Column:
        if self.sqlite:
            return func.substr(email, 1, func.instr(email, "@") - 1)
        return func.split_part(email, "@", 1)

    def malformed_email(self, email: Column) -> ColumnElement[bool]:
        if self.sqlite:
            shape = or_(
                ~email.op("GLOB", is_comparison=True)("?*@?*"),
                email.op("GLOB", is_comparison=True)("*@*@*"),
            )
        else:
            shape = email.op("!~", is_comparison=True)("^[^@]+@[^@]+$")
        return or_(shape, self.contains_any(email, ' <>",;'))


def _count(condition: ColumnElement[bool]) -> Column:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def register_problems(session: AsyncSession) -> RegisterProblems:
    """What stored contacts would be refused at input today; see the module's note on cost."""
    dialect = _Dialect(session.get_bind().dialect.name)
    columns = [CONTACTS.c[name] for name in TEXT_COLUMNS]
    email, phone = CONTACTS.c.email, CONTACTS.c.phone
    contacts = select(
        _count(or_(*(dialect.control(column) for column in columns))),
        _count(dialect.contains_any(phone, "^+0-9")),
        _count(dialect.malformed_email(email)),
        _count(dialect.contains_any(cast(dialect.local_part(email), String), "^\x01-\x7f")),
    ).select_from(CONTACTS)
    control, phones, malformed, non_ascii = (await run(session, contacts)).one()
    tags = select(func.count(func.distinct(CONTACT_TAGS.c.contact_id))).where(
        dialect.control(CONTACT_TAGS.c.tag)
    )
    return RegisterProblems(
        control_characters=int(control),
        control_characters_in_tags=int((await run(session, tags)).scalar_one()),
        phone_not_international=int(phones),
        email_malformed=int(malformed),
        email_non_ascii_local_part=int(non_ascii),
    )
