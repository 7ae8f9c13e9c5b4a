"""Bodies for the Robinson register: an extract, a load's report, the register's state."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class ExtractRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    extract_date: date = Field(description="The day ASML made the extract.")
    loaded_at: datetime
    file_name: str
    number_count: int = Field(description="Distinct numbers loaded.")
    loaded_by_user_id: int | None


class BadLine(BaseModel):
    line: int = Field(description="The line of the file (the first line is 1).")
    message: str = Field(description="What is wrong; never the line's content.")


class LoadReport(BaseModel):
    extract: ExtractRead
    valid_lines: int = Field(description="Lines that held a valid number (repeats included).")
    bad_lines: int = Field(description="Lines that held no valid number; not loaded.")
    problems: list[BadLine] = Field(description="The first bad lines, by line number.")
    replaced_numbers: int = Field(description="Numbers of the previous extract, now removed.")


class RobinsonStatus(BaseModel):
    current: ExtractRead | None = Field(description="The extract phone lists are screened with.")
    age_days: int | None = Field(description="Days since the current extract was made.")
    max_age_days: int = Field(description="CONSENTRY_ROBINSON_MAX_AGE_DAYS.")
    fresh: bool = Field(description="Whether phone call lists may be built now.")
    history: list[ExtractRead] = Field(description="Earlier loads, newest first.")
