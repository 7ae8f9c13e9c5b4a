"""The staff UI's language machinery (service.i18n): the language of the
moment, catalogs compiled from .po files, and formatting the language's way."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import jinja2
import pytest

from service import i18n

PO = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"

msgid "Save"
msgstr "Tallenna"

msgid "%(num)s person"
msgid_plural "%(num)s people"
msgstr[0] "%(num)s henkilö"
msgstr[1] "%(num)s henkilöä"

#, fuzzy
msgid "Send"
msgstr "Lähetä kaikille"
"""


@pytest.fixture
def catalogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    messages = tmp_path / "fi" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    (messages / "messages.po").write_text(PO, encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    yield tmp_path
    i18n.translations.cache_clear()


def environment() -> jinja2.Environment:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    i18n.install(env)
    return env


def test_a_template_speaks_the_language_of_the_moment(catalogs: Path) -> None:
    template = environment().from_string(
        '{{ _("Save") }} / {% trans num=n %}{{ num }} person{% pluralize %}{{ num }} people'
        "{% endtrans %} / {{ _('Send') }}"
    )
    with i18n.use("fi"):
        assert template.render(n=1) == "Tallenna / 1 henkilö / Send"  # fuzzy: not used
        assert template.render(n=3) == "Tallenna / 3 henkilöä / Send"
    with i18n.use("en"):
        assert template.render(n=3) == "Save / 3 people / Send"
    # Swedish has no catalog here: English words, never an error.
    with i18n.use("sv"):
        assert template.render(n=1) == "Save / 1 person / Send"


def test_the_language_is_set_only_inside_the_block() -> None:
    with i18n.use("sv"):
        assert i18n.current() == "sv"
        with i18n.use("xx"):  # unknown: the default
            assert i18n.current() == i18n.DEFAULT
        assert i18n.current() == "sv"
    assert i18n.current() == i18n.DEFAULT


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("sv-FI,sv;q=0.9,en;q=0.5", "sv"),
        ("de-DE, en-GB;q=0.8", "en"),
        ("EN", "en"),
        ("de", i18n.DEFAULT),
        ("", i18n.DEFAULT),
        (None, i18n.DEFAULT),
    ],
)
def test_a_browser_language_picks_a_staff_language(header: str | None, language: str) -> None:
    assert i18n.best_match(header) == language


def test_dates_numbers_and_phones_are_written_the_languages_way() -> None:
    # 23:30 UTC on 5 December is already the 6th in Helsinki.
    late = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)
    with i18n.use("fi"):
        assert i18n.format_date(date(2026, 12, 5)) == "5.12.2026"
        assert i18n.format_date(late) == "6.12.2026"
        assert i18n.format_number(1234567) == "1\xa0234\xa0567"
        assert i18n.format_phone("+358401234567") == "040 1234567"
        assert i18n.format_datetime(late) == "6.12.2026 1.30"
    with i18n.use("sv"):  # Finland's Swedish writes a moment as Finnish does
        assert i18n.format_datetime(late) == "6.12.2026 kl. 1.30"
    with i18n.use("en"):
        assert i18n.format_date(date(2026, 12, 5)) == "5 Dec 2026"
        assert i18n.format_number(1234567) == "1,234,567"
        assert i18n.format_phone("+46812345678") == "+46 8 123 456 78"
    assert i18n.format_phone("not a number") == "not a number"
    assert i18n.format_date(None) == i18n.format_phone(None) == ""


def test_a_moment_without_its_zone_is_read_as_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite returns a stored UTC moment without its zone; a server whose own
    zone is not UTC must not shift it."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        naive = datetime(2026, 12, 5, 23, 30)
        with i18n.use("fi"):
            assert i18n.format_datetime(naive) == "6.12.2026 1.30"
            assert i18n.format_date(naive) == "6.12.2026"
    finally:
        monkeypatch.undo()
        time.tzset()
