"""Column helpers shared by every table."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Dialect, String, TypeDecorator
from sqlmodel import Field, SQLModel

from service import clock


def utcnow() -> datetime:
    return clock.now()


class EnumString(TypeDecorator[StrEnum]):
    """An enum stored as its plain string value: portable across SQLite and
    PostgreSQL and free of ALTER TYPE migrations when a value is added. Values
    come back as enum members, so a loaded row equals a freshly built one."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum = enum
        self.length = length

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)


def enum_field(enum: type[StrEnum], **kwargs: Any) -> Any:
    length = max(len(member.value) for member in enum) + 8
    return Field(sa_type=EnumString(enum, length), **kwargs)


# Named constraints, so later migrations can drop or alter them (SQLite's batch
# mode cannot address an unnamed constraint).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
