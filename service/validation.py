"""Validation and normalisation of a contact's email address, phone number and Finnish
personal identity code (henkilötunnus), and the one check of every text field staff or a
file can fill in: no control characters (:data:`SingleLine`, :data:`MultiLine`).

Every rejection raises :class:`InvalidValue`. Its message never contains the rejected value:
these values are personal data, and error messages end up in logs and API answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BeforeValidator

from service import clock
from service.labels import N_


class InvalidValue(ValueError):
    """A value that fails validation; str(exc) is a short, user-facing English message
    that never contains the rejected value itself (it may be personal data)."""


# C0 controls, DEL and C1 controls (NEL, U+0085, among them), and the Unicode line and
# paragraph separators. Any of them can split a mail header, a CSV record or a log line, and
# none has a place in a name, an address or a tag. NUL cannot even be stored in PostgreSQL.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Free text that is multi-line by nature (notes, consent evidence) keeps tab, CR and LF:
# a browser sends a textarea's lines with CRLF. The rest stays refused.
_CONTROL_EXCEPT_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


def reject_control_characters(value: str, *, multi_line: bool = False) -> str:
    """``value`` unchanged, or InvalidValue when it holds a control character.

    The one check shared by the API, imports, the web forms and the CLI (they all validate
    with the same schemas). The message names the kind of character, never the value."""
    if not multi_line and CONTROL_CHARACTERS.search(value):
        raise InvalidValue(N_("must not contain line breaks or other control characters"))
    if multi_line and _CONTROL_EXCEPT_LINES.search(value):
        raise InvalidValue(
            N_("must not contain control characters other than tabs and line breaks")
        )
    return value


def _single_line(value: object) -> object:
    # Anything but a string is left for the field's own type to refuse.
    return reject_control_characters(value) if isinstance(value, str) else value


def _multi_line(value: object) -> object:
    return reject_control_characters(value, multi_line=True) if isinstance(value, str) else value


# Pydantic markers for Annotated text types. Put them last in the Annotated list: a before
# validator given last runs first, so the raw value is checked before any stripping (which
# would quietly drop a trailing U+2028 and keep a NUL).
SingleLine = BeforeValidator(_single_line)
MultiLine = BeforeValidator(_multi_line)


# RFC 5321 allows 256 octets for a path including its angle brackets, leaving 254.
_MAX_EMAIL_LENGTH = 254


def normalize_email(value: str) -> str:
    """Check the syntax of an email address and return its normalised, lower-cased form.

    Only the syntax is checked, never DNS, so this is fast and works offline. The whole
    address, local part included, is lower-cased because addresses are compared
    case-insensitively for uniqueness. Display-name forms ("Bob <bob@example.fi>") and
    quoted local parts are rejected.

    Non-ASCII local parts ("käyttäjä@example.fi") are accepted: the sender delivers them
    with SMTPUTF8 when the relay offers it and otherwise marks that one recipient failed
    (``address_not_deliverable``). Internationalised domains are kept in their Unicode form,
    so "x@xn--bcher-kva.de" and "x@bücher.de" are one address.
    """
    candidate = value.strip()
    if not candidate:
        raise InvalidValue(N_("not a valid email address: it is empty"))
    if CONTROL_CHARACTERS.search(candidate):
        raise InvalidValue(N_("not a valid email address: it contains a control character"))
    # Checked before email_validator both for a clear message and to bound the work spent
    # on hostile input.
    if len(candidate) > _MAX_EMAIL_LENGTH:
        raise InvalidValue(
            f"not a valid email address: it is longer than {_MAX_EMAIL_LENGTH} characters"
        )
    try:
        # Lower-cased before validating, so that email_validator's length limits apply to
        # the very form that is returned and stored.
        validated = validate_email(candidate.lower(), check_deliverability=False)
    except EmailNotValidError as exc:
        # Not chained: the cause's text may quote part of the address, and tracebacks are logged.
        raise InvalidValue(f"not a valid email address: {_email_reason(exc)}") from None
    return validated.normalized


def _email_reason(exc: EmailNotValidError) -> str:
    reason = str(exc)
    if exc.__cause__ is not None:
        # email_validator appends the text of errors from idna and ipaddress in parentheses,
        # and that text quotes the offending part of the address.
        reason = reason.replace(f" ({exc.__cause__})", "")
    # email_validator writes whole sentences; here the reason follows a colon.
    return reason[:1].lower() + reason[1:].rstrip(".")


_PHONE_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: (
        N_("not a valid phone number: unknown country calling code")
    ),
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: N_(
        "not a valid phone number: too short"
    ),
    phonenumbers.NumberParseException.TOO_SHORT_NSN: N_("not a valid phone number: too short"),
    phonenumbers.NumberParseException.TOO_LONG: N_("not a valid phone number: too long"),
}
_NOT_A_PHONE_NUMBER = N_("not a valid phone number")


def normalize_phone(value: str, default_region: str = "FI") -> str:
    """Parse a phone number and return it in E.164 form ("+358401234567").

    Numbers without a country calling code are read as numbers of ``default_region`` (an
    ISO 3166 code such as "FI"). An unsupported ``default_region`` is the caller's mistake,
    not the user's, so it raises a plain ValueError rather than InvalidValue.
    """
    if default_region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unsupported default region: {default_region!r}")
    reject_control_characters(value)
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue(_PHONE_PARSE_ERRORS.get(exc.error_type, _NOT_A_PHONE_NUMBER)) from exc
    # E.164 has no room for an extension: accepting one would silently drop it.
    if number.extension:
        raise InvalidValue(N_("not a valid phone number: extensions are not supported"))
    # phonenumbers reads vanity letters as digits ("40 ABC" is "40 222") and ignores some
    # stray ones; a register entry with letters is a typing mistake, not a number to guess.
    if any(character.isalpha() for character in value):
        raise InvalidValue(N_("not a valid phone number: letters are not allowed"))
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue(_invalid_phone_reason(number))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _invalid_phone_reason(number: phonenumbers.PhoneNumber) -> str:
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible == phonenumbers.ValidationResult.TOO_SHORT:
        return N_("not a valid phone number: too short")
    if possible == phonenumbers.ValidationResult.TOO_LONG:
        return N_("not a valid phone number: too long")
    # parse() always sets the calling code; the stubs allow None only for a blank PhoneNumber.
    assert number.country_code is not None
    region = phonenumbers.region_code_for_country_code(number.country_code)
    # Non-geographic calling codes (+800 and the like) have no region to name.
    if region not in phonenumbers.SUPPORTED_REGIONS:
        return _NOT_A_PHONE_NUMBER
    return f"not a valid phone number for region {region}"


# The century sign is part of the identity: since 2023 two people may have codes that differ
# only in it ("-" versus "Y"), so signs are never normalised into one another.
_CENTURY_BY_SIGN = {
    "+": 1800,
    **dict.fromkeys("-YXWVU", 1900),
    **dict.fromkeys("ABCDEF", 2000),
}
# Indexed by (DDMMYY followed by the individual number) modulo 31.
_CHECK_CHARACTERS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_IDENTITY_CODE_LENGTH = 11
# DOTALL so that any character in the sign position reaches the century-sign check.
_IDENTITY_CODE_SHAPE = re.compile(r"([0-9]{6})(.)([0-9]{3})(.)", re.DOTALL)
# 000 and 001 are never issued; 900-999 are temporary codes.
_FIRST_INDIVIDUAL_NUMBER = 2
_FIRST_TEMPORARY_NUMBER = 900


@dataclass(frozen=True)
class _IdentityCode:
    code: str
    birth_date: date


def parse_identity_code(
    value: str, *, allow_temporary: bool = False, today: date | None = None
) -> str:
    """Validate a Finnish personal identity code and return its canonical form.

    The canonical form is the stripped, upper-cased code. Temporary codes (individual
    number 900-999) are accepted only with ``allow_temporary``. A birth date after ``today``
    (default: today in Helsinki) is rejected.
    """
    parsed = _check_identity_code(value, allow_temporary=allow_temporary)
    if parsed.birth_date > (today if today is not None else clock.today()):
        raise InvalidValue(N_("not a valid identity code: the birth date is in the future"))
    return parsed.code


def identity_code_birth_date(code: str) -> date:
    """The birth date in an identity code returned by :func:`parse_identity_code`.

    The code is checked again, so a value that is not an identity code raises InvalidValue
    rather than yielding a wrong date. Temporary codes are accepted.
    """
    return _check_identity_code(code, allow_temporary=True).birth_date


def mask_identity_code(code: str) -> str:
    """Hide the individual part of an identity code: "131052-308T" -> "131052-****".

    The code is checked again (temporary codes are accepted), so a value that is not an
    identity code raises InvalidValue instead of being partly shown.
    """
    canonical = _check_identity_code(code, allow_temporary=True).code
    return canonical[:7] + "****"


def _check_identity_code(value: str, *, allow_temporary: bool) -> _IdentityCode:
    code = value.strip()
    if len(code) != _IDENTITY_CODE_LENGTH:
        raise InvalidValue(
            f"not a valid identity code: it must be {_IDENTITY_CODE_LENGTH} characters long"
        )
    # Only ASCII may be upper-cased: str.upper() maps some other letters onto ASCII ones
    # (U+017F LATIN SMALL LETTER LONG S becomes "S", a valid check character).
    match = _IDENTITY_CODE_SHAPE.fullmatch(code.upper()) if code.isascii() else None
    if match is None:
        raise InvalidValue(
            N_(
                "not a valid identity code: expected six digits, a century sign, "
                "three digits and a check character"
            )
        )
    date_digits, sign, individual, check = match.groups()
    century = _CENTURY_BY_SIGN.get(sign)
    if century is None:
        raise InvalidValue(N_("not a valid identity code: unknown century sign"))
    try:
        birth_date = date(
            century + int(date_digits[4:]), int(date_digits[2:4]), int(date_digits[:2])
        )
    except ValueError:
        raise InvalidValue(N_("not a valid identity code: no such birth date")) from None
    number = int(individual)
    if number < _FIRST_INDIVIDUAL_NUMBER:
        raise InvalidValue(N_("not a valid identity code: individual number out of range"))
    if number >= _FIRST_TEMPORARY_NUMBER and not allow_temporary:
        raise InvalidValue(
            N_("not a valid identity code: temporary identity codes are not accepted")
        )
    if check != _CHECK_CHARACTERS[int(date_digits + individual) % len(_CHECK_CHARACTERS)]:
        raise InvalidValue(N_("not a valid identity code: wrong check character"))
    return _IdentityCode(code=match.group(0), birth_date=birth_date)
