"""``/api/v1/suppressions``: look up an address on the suppression list, and
lift it with a reason (a privacy officer's or an admin's: rights:manage).

The list holds keyed hashes: a look-up hashes the address given and asks
for that one hash; there is no route that lists the entries."""

from __future__ import annotations

from typing import Any

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.crypto import DataCipher
from service.suppressions import service
from service.suppressions.schemas import AddressLift, AddressLookup, SuppressionRead

Session = NamedDependency[AsyncSession]
Cipher = NamedDependency[DataCipher]


def read(kind: Any, entry: service.Entry | None) -> SuppressionRead:
    if entry is None:
        return SuppressionRead(listed=False, kind=kind)
    return SuppressionRead(
        listed=True, kind=entry.kind, reason=entry.reason, created_at=entry.created_at
    )


class SuppressionController(Controller):
    path = "/suppressions"
    tags = ["suppressions"]
    guards = [requires(Permission.RIGHTS_MANAGE)]

    @post("/lookup", status_code=200, opt={"audit": "suppression.lookup"})
    async def lookup(
        self, db_session: Session, cipher: Cipher, data: JSONBody[AddressLookup]
    ) -> SuppressionRead:
        """Whether an address is on the list, and if so why and since when.
        422 when the value is no address of the kind."""
        entry = await service.find(db_session, service.address_hash(cipher, data.kind, data.value))
        trail.annotate(db_session, found=entry is not None)
        return read(data.kind, entry)

    @post("/lift", status_code=200, opt={"audit": "suppression.lift"})
    async def lift(
        self, db_session: Session, cipher: Cipher, data: JSONBody[AddressLift]
    ) -> SuppressionRead:
        """Take an address off the list, saying why (kept in the audit
        trail). 404 when it is not on the list. Mail may then reach it
        again only where the consent gate allows."""
        entry = await service.lift(
            db_session, value_hash=service.address_hash(cipher, data.kind, data.value), why=data.why
        )
        return read(data.kind, entry)
