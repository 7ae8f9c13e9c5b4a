"""The staff interface's languages: Finnish, Swedish and English.

Words are written in English where they are used: ``_("Save")`` in Python,
``{{ _("Save") }}`` or ``{% trans %}…{% endtrans %}`` in a template, and
``ngettext`` (``{% trans count=n %}…{% pluralize %}…{% endtrans %}``) where a
number decides the form. The catalogs ``service/locale/<lang>/LC_MESSAGES/
messages.po`` translate them (Babel extracts the words, see babel.cfg); a .po
file is compiled in memory the first time its language is used, so no
binary catalog is kept in the repository. English needs no catalog.

The language of the moment is a context variable: ``use(lang)`` sets it
around one page, so the same Jinja environment serves every language.
Dates, times, numbers and phone numbers are written the language's way
through the filters ``install`` adds, and codes are shown as words
(``{{ member|label }}``, the labels of service.labels).
"""

from __future__ import annotations

import gettext as stdlib_gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import cache
from io import BytesIO
from pathlib import Path

import jinja2
import phonenumbers
from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from service import labels
from service.clock import LOCAL_ZONE

LANGUAGES = ("fi", "sv", "en")
DEFAULT = "fi"
# Each language's name in itself, for the chooser.
NAMES = {"fi": "suomi", "sv": "svenska", "en": "English"}
# The locales Babel formats with: Finland's conventions in each language.
LOCALES = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_GB"}
SHORT_MOMENT = {"sv": "d.M.y 'kl.' H.mm"}
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_current: ContextVar[str] = ContextVar("staff_language", default=DEFAULT)


def pick(value: str | None) -> str:
    """``value`` if it is one of the languages, else the default."""
    return value if value in LANGUAGES else DEFAULT


def best_match(accept_language: str | None) -> str:
    """The first of the staff languages a browser's Accept-Language names
    (for pages before sign-in), else the default."""
    for part in (accept_language or "").split(","):
        tag = part.split(";", 1)[0].strip().lower()
        if tag[:2] in LANGUAGES:
            return tag[:2]
    return DEFAULT


def current() -> str:
    return _current.get()


@contextmanager
def use(lang: str | None) -> Iterator[str]:
    """Speak ``lang`` (or the default) until the block ends."""
    token = _current.set(pick(lang))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


@cache
def translations(lang: str) -> stdlib_gettext.NullTranslations:
    """The language's catalog, compiled from its .po file once per process."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == "en" or not path.is_file():
        return stdlib_gettext.NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=LOCALES[lang])
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out
    compiled.seek(0)
    return Translations(compiled)


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


_ = gettext


def label(kind: type[StrEnum] | str, value: object) -> str:
    """The words for the code ``value`` of the enum ``kind`` (a class or its
    name: ``label("Purpose", "direct_marketing")``), in the language of the
    moment. A code without a label is shown as it is."""
    if value is None:
        return ""
    english = labels.english(kind, str(value))
    return gettext(english) if english is not None else str(value)


def label_of(value: object, kind: str | None = None) -> str:
    """The ``|label`` filter: ``{{ member|label }}`` for an enum member,
    ``{{ code|label("Purpose") }}`` for a code held as a plain string."""
    if kind is None and isinstance(value, StrEnum):
        return label(type(value), value)
    return label(kind, value) if kind is not None else ("" if value is None else str(value))


def _locale() -> Locale:
    return Locale.parse(LOCALES[_current.get()])


def _aware(moment: datetime) -> datetime:
    """The register stores moments in UTC; SQLite hands them back without
    their zone, which would otherwise be read as the server's local time."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_date(value: date | datetime | None) -> str:
    """A calendar day the language's way (5.12.2026; 5 Dec 2026). A moment
    is first turned into its Helsinki day."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _aware(value).astimezone(LOCAL_ZONE).date()
    return dates.format_date(value, format="medium", locale=_locale())


def format_datetime(value: datetime | None) -> str:
    """A moment in Helsinki time, the language's way."""
    if value is None:
        return ""
    # CLDR writes Finland's Swedish short moment the ISO way (2026-12-06
    # 05:17); Finland-Swedish usage writes it as Finnish does (6.12.2026 5.17).
    pattern = SHORT_MOMENT.get(_current.get(), "short")
    return dates.format_datetime(
        _aware(value).astimezone(LOCAL_ZONE), format=pattern, tzinfo=LOCAL_ZONE, locale=_locale()
    )


def format_number(value: int | float | None) -> str:
    """Digits grouped the language's way (1 234 in Finnish, 1,234 in English)."""
    if value is None:
        return ""
    return numbers.format_decimal(value, locale=_locale())


def format_phone(value: str | None) -> str:
    """A stored E.164 number as people write it: national for Finnish numbers
    (040 1234567), international for the rest (+46 8 123 456 78)."""
    if not value:
        return ""
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if parsed.country_code == 358
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, style)


def install(environment: jinja2.Environment) -> None:
    """Give ``environment`` the i18n extension, bound to the current language,
    and the formatting filters."""
    environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True
    )
    environment.filters.update(
        date=format_date,
        datetime=format_datetime,
        number=format_number,
        phone=format_phone,
        label=label_of,
    )
    environment.globals.update(language=current, languages=NAMES, label=label)
