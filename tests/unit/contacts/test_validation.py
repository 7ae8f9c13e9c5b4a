"""Unit tests for service.validation."""

from __future__ import annotations

from datetime import date

import pytest

from service.validation import (
    InvalidValue,
    identity_code_birth_date,
    mask_identity_code,
    normalize_email,
    normalize_phone,
    parse_identity_code,
    reject_control_characters,
)

# A fixed "today", so that the future-date rule does not depend on when the tests run.
TODAY = date(2024, 6, 1)

_CHECK_CHARACTERS = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def with_check(stem: str) -> str:
    """Append the check character to "DDMMYY" + century sign + "ZZZ".

    Written from the published rule rather than imported, so that the tests do not
    share a mistake with the code under test.
    """
    assert len(stem) == 10
    return stem + _CHECK_CHARACTERS[int(stem[:6] + stem[7:]) % 31]


def parse(value: str, *, allow_temporary: bool = False) -> str:
    return parse_identity_code(value, allow_temporary=allow_temporary, today=TODAY)


def assert_not_echoed(message: str, value: str) -> None:
    candidate = value.strip()
    if candidate:
        assert candidate not in message
        assert candidate.lower() not in message.lower()


# --- identity codes -------------------------------------------------------------------


def test_helper_agrees_with_a_published_example() -> None:
    assert with_check("131052-308") == "131052-308T"


@pytest.mark.parametrize(
    ("sign", "yy", "year"),
    [
        ("+", "94", 1894),
        ("-", "94", 1994),
        ("Y", "94", 1994),
        ("X", "94", 1994),
        ("W", "94", 1994),
        ("V", "94", 1994),
        ("U", "94", 1994),
        ("A", "04", 2004),
        ("B", "04", 2004),
        ("C", "04", 2004),
        ("D", "04", 2004),
        ("E", "04", 2004),
        ("F", "04", 2004),
    ],
)
def test_every_century_sign_is_accepted(sign: str, yy: str, year: int) -> None:
    code = with_check(f"0105{yy}{sign}123")
    assert parse(code) == code
    assert identity_code_birth_date(code) == date(year, 5, 1)


def test_published_example_is_valid() -> None:
    assert parse("131052-308T") == "131052-308T"
    assert identity_code_birth_date("131052-308T") == date(1952, 10, 13)


@pytest.mark.parametrize(
    ("stem", "born"),
    [
        ("290200A123", date(2000, 2, 29)),  # 2000 is a leap year (divisible by 400)
        ("290296-123", date(1996, 2, 29)),
        ("290204A123", date(2004, 2, 29)),
        ("290296+123", date(1896, 2, 29)),
        ("311299-123", date(1999, 12, 31)),
    ],
)
def test_real_dates_are_accepted(stem: str, born: date) -> None:
    code = with_check(stem)
    assert parse(code) == code
    assert identity_code_birth_date(code) == born


def test_plus_sign_means_the_1800s() -> None:
    code = with_check("010180+123")
    assert parse(code) == code
    assert identity_code_birth_date(code) == date(1880, 1, 1)


def test_century_sign_is_part_of_the_identity() -> None:
    dash = with_check("010594-123")
    y = with_check("010594Y123")
    # Same digits, so the same check character: only the sign tells them apart.
    assert dash[-1] == y[-1]
    assert parse(dash) == dash
    assert parse(y) == y
    assert parse(dash) != parse(y)
    assert identity_code_birth_date(dash) == identity_code_birth_date(y)


def test_lowercase_letters_are_upper_cased() -> None:
    code = with_check("010504A123")
    assert code[-1].isalpha()  # premise: both the sign and the check character are letters
    assert parse(code.lower()) == code


def test_lowercase_y_sign_stays_y() -> None:
    code = with_check("010594Y123")
    assert parse(code.lower()) == code


def test_surrounding_whitespace_is_trimmed() -> None:
    assert parse("  131052-308T\n") == "131052-308T"


@pytest.mark.parametrize("individual", ["002", "899"])
def test_ordinary_individual_number_bounds(individual: str) -> None:
    code = with_check(f"100190-{individual}")
    assert parse(code) == code


@pytest.mark.parametrize("individual", ["900", "999"])
def test_temporary_codes_need_allow_temporary(individual: str) -> None:
    code = with_check(f"100190Y{individual}")
    with pytest.raises(InvalidValue, match="temporary identity codes are not accepted"):
        parse(code)
    assert parse(code, allow_temporary=True) == code


@pytest.mark.parametrize("individual", ["000", "001"])
def test_individual_numbers_000_and_001_are_never_valid(individual: str) -> None:
    code = with_check(f"100190-{individual}")
    with pytest.raises(InvalidValue, match="individual number out of range"):
        parse(code, allow_temporary=True)


def _with_wrong_check(stem: str) -> str:
    right = with_check(stem)[-1]
    return stem + ("1" if right == "0" else "0")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "must be 11 characters long"),
        ("   ", "must be 11 characters long"),
        ("131052-308", "must be 11 characters long"),
        ("131052-308TT", "must be 11 characters long"),
        ("131052 - 308T", "must be 11 characters long"),
        ("13105X-308T", "expected six digits, a century sign"),
        ("131052-3O8T", "expected six digits, a century sign"),
        ("131052-308\u017f", "expected six digits, a century sign"),  # long s upper-cases to S
        ("\u0661\u0663\u0661\u0660\u0665\u0662-308T", "expected six digits"),  # Arabic digits
        ("131052G308T", "unknown century sign"),
        ("131052Z308T", "unknown century sign"),
        ("131052*308T", "unknown century sign"),
        ("131052 308T", "unknown century sign"),
        (with_check("290200-123"), "no such birth date"),  # 1900 is not a leap year
        (with_check("290201A123"), "no such birth date"),
        (with_check("290200+123"), "no such birth date"),  # neither is 1800
        (with_check("310404A123"), "no such birth date"),
        (with_check("311152-123"), "no such birth date"),
        (with_check("001052-123"), "no such birth date"),
        (with_check("131352-123"), "no such birth date"),
        (with_check("130052-123"), "no such birth date"),
        (with_check("131052-000"), "individual number out of range"),
        (with_check("131052-001"), "individual number out of range"),
        (with_check("131052-900"), "temporary identity codes are not accepted"),
        ("131052-308U", "wrong check character"),
        (_with_wrong_check("010594Y123"), "wrong check character"),
        ("131052-308G", "wrong check character"),  # G is not in the check alphabet
        (with_check("131052A308"), "birth date is in the future"),
        (with_check("020624A123"), "birth date is in the future"),
    ],
)
def test_identity_code_errors(value: str, words: str) -> None:
    with pytest.raises(InvalidValue, match=words) as excinfo:
        parse(value)
    message = str(excinfo.value)
    assert message.startswith("not a valid identity code: ")
    assert_not_echoed(message, value)
    assert_not_echoed(message, value[:6])  # not even the birth date


def test_born_today_is_not_in_the_future() -> None:
    code = with_check("010624A123")
    assert parse(code) == code


def test_future_check_defaults_to_the_real_today() -> None:
    # Born in 2052: in the future until then.
    with pytest.raises(InvalidValue, match="future"):
        parse_identity_code("131052A308T")
    assert parse_identity_code("131052-308T") == "131052-308T"


def test_invalid_value_is_a_value_error() -> None:
    assert issubclass(InvalidValue, ValueError)


def test_birth_date_of_a_temporary_code() -> None:
    assert identity_code_birth_date(with_check("100190Y999")) == date(1990, 1, 10)


def test_birth_date_rejects_a_non_code() -> None:
    with pytest.raises(InvalidValue, match="wrong check character"):
        identity_code_birth_date("131052-308U")


@pytest.mark.parametrize(
    ("code", "masked"),
    [
        ("131052-308T", "131052-****"),
        (" 131052-308t ", "131052-****"),
        (with_check("010594Y123"), "010594Y****"),
        (with_check("010504a123"), "010504A****"),
        (with_check("100190Y999"), "100190Y****"),
    ],
)
def test_mask_identity_code(code: str, masked: str) -> None:
    assert mask_identity_code(code) == masked


def test_mask_rejects_a_non_code() -> None:
    with pytest.raises(InvalidValue, match="wrong check character") as excinfo:
        mask_identity_code("131052-308U")
    assert_not_echoed(str(excinfo.value), "131052-308U")


# --- phone numbers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("040 123 4567", "FI", "+358401234567"),
        ("0401234567", "FI", "+358401234567"),
        ("040-123 4567", "FI", "+358401234567"),
        ("+358 40 123 4567", "FI", "+358401234567"),
        ("00358 40 123 4567", "FI", "+358401234567"),
        ("  +358401234567 ", "FI", "+358401234567"),
        ("09 123 4567", "FI", "+35891234567"),  # Helsinki landline
        ("+46 70 123 45 67", "FI", "+46701234567"),
        ("070-123 45 67", "SE", "+46701234567"),
        ("+358 40 123 4567", "SE", "+358401234567"),
    ],
)
def test_normalize_phone(value: str, region: str, expected: str) -> None:
    assert normalize_phone(value, region) == expected


def test_default_region_is_finland() -> None:
    assert normalize_phone("040 123 4567") == "+358401234567"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "not a valid phone number"),
        ("hello", "not a valid phone number"),
        ("+", "not a valid phone number"),
        ("123", "not a valid phone number: too short"),
        ("+358 1", "not a valid phone number: too short"),
        ("00", "not a valid phone number: too short"),
        ("0401234567890123", "not a valid phone number: too long"),
        ("1" * 300, "not a valid phone number: too long"),
        ("+28 1234567", "not a valid phone number: unknown country calling code"),
        ("040 123", "not a valid phone number for region FI"),
        ("+46 70 123 45 678", "not a valid phone number for region SE"),
        ("+800 0222 2222", "not a valid phone number"),  # non-geographic: no region to name
        ("040 123 4567 ext. 12", "not a valid phone number: extensions are not supported"),
        # phonenumbers would read these as +358402221234 and +358401234567.
        ("+358 40 ABC 1234", "not a valid phone number: letters are not allowed"),
        ("040 123 4567x", "not a valid phone number: letters are not allowed"),
        ("040 123\n4567", "must not contain line breaks or other control characters"),
    ],
)
def test_normalize_phone_errors(value: str, message: str) -> None:
    with pytest.raises(InvalidValue) as excinfo:
        normalize_phone(value)
    assert str(excinfo.value) == message
    assert_not_echoed(str(excinfo.value), value)


def test_unsupported_default_region_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unsupported default region") as excinfo:
        normalize_phone("040 123 4567", "XX")
    assert not isinstance(excinfo.value, InvalidValue)


# --- email addresses ------------------------------------------------------------------

# 64 + 1 + 189 characters: the longest address allowed.
LONGEST_EMAIL = "a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 58]) + ".fi"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bob@example.fi", "bob@example.fi"),
        ("Foo.Bar@Example.COM", "foo.bar@example.com"),
        ("  Bob@Example.fi\n", "bob@example.fi"),
        ("\u00c4\u00c4kk\u00f6nen@Esimerkki.fi", "\u00e4\u00e4kk\u00f6nen@esimerkki.fi"),
        ("bob@EX\u00c4MPLE.fi", "bob@ex\u00e4mple.fi"),
        ("bob+tag@example.fi", "bob+tag@example.fi"),
        # Non-ASCII local parts are accepted: delivered with SMTPUTF8 (docs/web-contacts.md).
        ("K\u00e4ytt\u00e4j\u00e4@example.fi", "k\u00e4ytt\u00e4j\u00e4@example.fi"),
        ("\u00c5sa@example.se", "\u00e5sa@example.se"),
        # An internationalised domain is one address in either spelling.
        ("bob@xn--bcher-kva.de", "bob@b\u00fccher.de"),
        ("bob@B\u00fccher.de", "bob@b\u00fccher.de"),
        (LONGEST_EMAIL, LONGEST_EMAIL),
    ],
)
def test_normalize_email(value: str, expected: str) -> None:
    assert normalize_email(value) == expected


def test_longest_email_is_254_characters() -> None:
    assert len(LONGEST_EMAIL) == 254


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "it is empty"),
        (" \t\n", "it is empty"),
        ("bob.example.fi", "must have an @-sign"),
        ("a..b@example.fi", "two periods in a row"),
        ("bob@example..fi", "two periods in a row"),
        (".bob@example.fi", "period"),
        ("@example.fi", "something before the @-sign"),
        ("bob@", "something after the @-sign"),
        ("bob@example", "should have a period"),
        ("bob smith@example.fi", "invalid characters before the @-sign"),
        ("Bob <bob@example.fi>", "display name"),
        ('"Bob Smith" <bob@example.fi>', "display name"),
        ("<bob@example.fi>", "display name"),
        ('"bob"@example.fi', "quoting"),
        ("bob@[192.0.2.1]", "bracketed IP address"),
        ("bob\x00@example.fi", "control character"),
        ("bob\r\nBcc: eve@example.fi", "control character"),
        ("bob\x85@example.fi", "control character"),
        ("bob@exam\u2028ple.fi", "control character"),
        (LONGEST_EMAIL + "x", "longer than 254 characters"),
        ("b" * 300 + "@example.fi", "longer than 254 characters"),
    ],
)
def test_normalize_email_errors(value: str, words: str) -> None:
    with pytest.raises(InvalidValue, match=words) as excinfo:
        normalize_email(value)
    message = str(excinfo.value)
    assert message.startswith("not a valid email address: ")
    assert not message.endswith(".")
    assert_not_echoed(message, value)


@pytest.mark.parametrize(
    ("value", "words", "hidden"),
    [
        # idna's own message quotes the decoded label.
        ("bob@xn--ls8h.la", "not valid IDNA", "\U0001f4a9"),
        ("bob@xn--a-ecp.ru", "not valid IDNA", "a\u2488"),
        # ipaddress's own message quotes the address.
        ("bob@[192.0.2.999]", "not an IPv4 address", "192.0.2.999"),
    ],
)
def test_email_errors_drop_quoted_detail_from_other_libraries(
    value: str, words: str, hidden: str
) -> None:
    with pytest.raises(InvalidValue, match=words) as excinfo:
        normalize_email(value)
    message = str(excinfo.value)
    assert hidden not in message
    assert_not_echoed(message, value)
    # Not chained: a logged traceback would show the original text.
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__suppress_context__


# --- control characters in text fields -------------------------------------------------

HOSTILE = ["\x00", "\x1b", "\r\n", "\n", "\x0b", "\x7f", "\x85", "\x9f", "\u2028", "\u2029"]


@pytest.mark.parametrize("character", HOSTILE)
def test_a_single_line_field_refuses_control_characters(character: str) -> None:
    value = f"Maija{character}Meik\u00e4l\u00e4inen"
    with pytest.raises(InvalidValue) as excinfo:
        reject_control_characters(value)
    assert str(excinfo.value) == "must not contain line breaks or other control characters"
    assert_not_echoed(str(excinfo.value), value)


@pytest.mark.parametrize("character", ["\t", "\r\n"])
def test_a_single_line_field_refuses_tabs_and_line_breaks_a_multi_line_one_keeps(
    character: str,
) -> None:
    value = f"Shown on the form:{character}I agree."
    with pytest.raises(InvalidValue):
        reject_control_characters(value)
    assert reject_control_characters(value, multi_line=True) == value


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x0b", "\x7f", "\x85", "\u2028"])
def test_a_multi_line_field_refuses_the_other_control_characters(character: str) -> None:
    with pytest.raises(InvalidValue, match="control characters other than tabs"):
        reject_control_characters(f"one{character}two", multi_line=True)


@pytest.mark.parametrize(
    "value",
    [
        "Maija Meik\u00e4l\u00e4inen",
        "\u00c5sa \u00d6berg-\u0160\u0161",
        "\u738b\u5c0f\u660e",
        "\u00a0x",
    ],
)
def test_ordinary_text_passes(value: str) -> None:
    assert reject_control_characters(value) == value
