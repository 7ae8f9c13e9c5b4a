"""Reading a Robinson extract file: phone numbers in, keyed hashes out.

Two layouts are accepted: one number per line, or CSV (``,``, ``;`` or tab)
whose header row names a phone column. Every number is normalised to E.164
by the function contacts use, read as Finnish when it has no country code,
and hashed exactly as ``contacts.phone_hash`` is, so the two match.

A line that is not a number is counted and reported by its line number and a
message, never by its content: it may be someone's phone number.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from service.crypto import DataCipher
from service.errors import InvalidInput
from service.labels import N_
from service.validation import InvalidValue, normalize_phone

DEFAULT_REGION = "FI"
PHONE_HEADERS = frozenset({"phone", "phone_number", "number", "puhelin", "puhelinnumero", "numero"})
DELIMITERS = (";", ",", "\t")
# A phone number with spacing and punctuation is well under this; longer is not one.
MAX_NUMBER_LENGTH = 40
# The report lists this many bad lines and counts the rest.
MAX_REPORTED = 100
HASH_KIND = "phone"


@dataclass(frozen=True, slots=True)
class LineProblem:
    line: int
    message: str


@dataclass(slots=True)
class ExtractReader:
    """Iterate ``hashes()`` once; afterwards ``valid``, ``bad`` and ``problems``
    say what was read."""

    lines: Iterable[str]
    cipher: DataCipher
    region: str = DEFAULT_REGION
    valid: int = 0
    bad: int = 0
    problems: list[LineProblem] = field(default_factory=list)

    def hashes(self) -> Iterator[str]:
        try:
            yield from self._read(iter(self.lines))
        except UnicodeDecodeError:
            raise InvalidInput(
                N_("the file is not UTF-8 text"), fields={"file": N_("not UTF-8 text")}
            ) from None
        except csv.Error:
            raise InvalidInput(
                N_("the file is not valid CSV"), fields={"file": N_("not valid CSV")}
            ) from None

    def _read(self, lines: Iterator[str]) -> Iterator[str]:
        numbered = enumerate(lines, start=1)
        line_no, first = next(((n, text) for n, text in numbered if text.strip()), (0, ""))
        if not first:
            return  # nothing but blank lines
        column = _phone_column(first)
        if column is None:
            yield from self._plain(
                itertools.chain([(line_no, first)], enumerate(lines, start=line_no + 1))
            )
            return
        delimiter, index = column
        reader = csv.reader(lines, delimiter=delimiter)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            number = line_no + reader.line_num
            value = row[index].strip() if index < len(row) else ""
            if not value:
                self._problem(number, N_("no phone number in the phone column"))
                continue
            digest = self._hash(number, value)
            if digest is not None:
                yield digest

    def _plain(self, numbered: Iterable[tuple[int, str]]) -> Iterator[str]:
        for number, line in numbered:
            value = line.strip()
            if not value or value.startswith("#"):
                continue
            digest = self._hash(number, value)
            if digest is not None:
                yield digest

    def _hash(self, line: int, value: str) -> str | None:
        if len(value) > MAX_NUMBER_LENGTH:
            self._problem(line, N_("not a valid phone number: too long"))
            return None
        try:
            e164 = normalize_phone(value, self.region)
        except InvalidValue as exc:
            self._problem(line, str(exc))
            return None
        self.valid += 1
        return self.cipher.lookup_hash(HASH_KIND, e164)

    def _problem(self, line: int, message: str) -> None:
        self.bad += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(LineProblem(line=line, message=message))


def _phone_column(first_line: str) -> tuple[str, int] | None:
    """(delimiter, index) of the phone column when the first line is a CSV
    header; None when the file is a plain list of numbers."""
    line = first_line.strip().removeprefix("\ufeff")
    delimiter = next((d for d in DELIMITERS if d in line), None)
    if delimiter is None:
        return (",", 0) if line.strip('"').strip().lower() in PHONE_HEADERS else None
    cells = [cell.strip().lower() for cell in next(csv.reader([line], delimiter=delimiter))]
    for index, cell in enumerate(cells):
        if cell in PHONE_HEADERS:
            return delimiter, index
    raise InvalidInput(
        N_(
            "the first line has several columns but none is named phone: give the "
            "numbers one per line, or a CSV file with a `phone` column"
        ),
        fields={"file": N_("no phone column")},
    )
