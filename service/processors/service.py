"""The processors register: record, change, end, list (GDPR 28, 30(1)(d)-(e)).

``outside_eea`` is derived from the country; a processor outside the EU/EEA
needs its transfer safeguard (GDPR 44-46). The Art. 30 record and the notice
read ``active`` processors from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock, countries
from service.errors import InvalidInput, NotFound
from service.labels import N_
from service.models import Processor
from service.processors.schemas import ProcessorCreate, ProcessorRead, ProcessorUpdate

_REQUIRED = ("name", "service", "country")


async def get(session: AsyncSession, processor_id: int) -> Processor:
    processor = await session.get(Processor, processor_id)
    if processor is None:
        raise NotFound(f"no processor with id {processor_id}")
    return processor


async def create(session: AsyncSession, *, data: ProcessorCreate, user_id: int | None) -> Processor:
    processor = Processor(**data.model_dump(), recorded_by_user_id=user_id)
    _derive_and_check(processor)
    session.add(processor)
    await session.flush()
    return processor


async def update(
    session: AsyncSession, *, processor: Processor, data: ProcessorUpdate
) -> Processor:
    changes = data.model_dump(exclude_unset=True)
    for name in _REQUIRED:
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name} cannot be cleared", fields={name: N_("required")})
    for name, value in changes.items():
        setattr(processor, name, [] if value is None and name == "data_categories" else value)
    _derive_and_check(processor)
    processor.updated_at = clock.now()
    session.add(processor)
    await session.flush()
    return processor


async def end(session: AsyncSession, *, processor: Processor, on: date) -> Processor:
    """The processing ended on ``on``: the processor stays in the register."""
    processor.ended_on = on
    _derive_and_check(processor)
    processor.updated_at = clock.now()
    session.add(processor)
    await session.flush()
    return processor


async def list_(session: AsyncSession, *, active_only: bool = False) -> Sequence[Processor]:
    """Processors by name; ``active_only``: those not ended by today."""
    query = select(Processor)
    if active_only:
        query = query.where(
            or_(col(Processor.ended_on).is_(None), col(Processor.ended_on) > clock.today())
        )
    rows = await session.exec(query.order_by(col(Processor.name), col(Processor.id)))
    return rows.all()


def _derive_and_check(processor: Processor) -> None:
    processor.outside_eea = countries.outside_eea(processor.country)
    fields: dict[str, str] = {}
    if processor.outside_eea and not processor.safeguard:
        fields["safeguard"] = (
            f"required: {processor.country} is outside the EU/EEA; name the transfer's "
            "safeguard (an adequacy decision, standard contractual clauses, …)"
        )
    if (
        processor.ended_on is not None
        and processor.contract_date is not None
        and processor.ended_on < processor.contract_date
    ):
        fields["ended_on"] = "must not be before contract_date"
    if fields:
        raise InvalidInput(N_("the processor cannot be recorded so"), fields=fields)


def is_active(processor: Processor) -> bool:
    return processor.ended_on is None or processor.ended_on > clock.today()


def to_read(processor: Processor) -> ProcessorRead:
    return ProcessorRead(**processor.model_dump(), active=is_active(processor))
