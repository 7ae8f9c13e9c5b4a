"""The committed translation catalogs (service/locale) and their check
(service.catalogs, ``scripts/translations check``)."""

from __future__ import annotations

from io import BytesIO

import pytest
from babel.messages.pofile import read_po

from service import catalogs, i18n, labels
from service.models.enums import Purpose, Reason


@pytest.mark.parametrize("lang", catalogs.TRANSLATED)
def test_the_catalog_is_complete_and_valid(lang: str) -> None:
    """Every entry translated, none fuzzy, every placeholder kept."""
    catalog = catalogs.read(lang)
    assert len(catalog) > 100
    assert catalogs.problems(catalog) == []


@pytest.mark.parametrize("lang", catalogs.TRANSLATED)
def test_every_label_is_in_the_catalog(lang: str) -> None:
    catalog = catalogs.read(lang)
    words = {english for table in labels.LABELS.values() for english in table.values()}
    assert sorted(w for w in words if w not in catalog) == []


def test_the_pages_get_the_catalogs_words() -> None:
    i18n.translations.cache_clear()
    with i18n.use("fi"):
        assert i18n.label(Purpose, Purpose.DIRECT_MARKETING) == "Suoramarkkinointi"
        assert i18n.label(Reason, Reason.RESTRICTED) == "Käsittelyä rajoitettu"
        assert i18n.ngettext("%(num)s person", "%(num)s people", 1) == "%(num)s henkilö"
        assert i18n.ngettext("%(num)s person", "%(num)s people", 2) == "%(num)s henkilöä"
    with i18n.use("sv"):
        assert i18n.label(Purpose, Purpose.DIRECT_MARKETING) == "Direktmarknadsföring"
        assert i18n.gettext("Sign out") == "Logga ut"
    with i18n.use("en"):
        assert i18n.label(Purpose, Purpose.DIRECT_MARKETING) == "Direct marketing"


BROKEN = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"

msgid "Save"
msgstr ""

#, fuzzy
msgid "Send"
msgstr "Lähetä kaikille"

msgid "Hello %(name)s"
msgstr "Hei"

msgid "%(num)s person"
msgid_plural "%(num)s people"
msgstr[0] "%(num)s henkilö"
msgstr[1] "%(count)s henkilöä"

msgid "Fine %(name)s"
msgstr "Hyvä %(name)s"
"""


def test_the_check_finds_what_a_translator_must_fix() -> None:
    catalog = read_po(BytesIO(BROKEN.encode()), locale="fi_FI")
    found = catalogs.problems(catalog)
    assert "untranslated: 'Save'" in found
    assert "fuzzy: 'Send'" in found
    assert "placeholders differ: 'Hello %(name)s' -> 'Hei'" in found
    assert "placeholders differ: '%(num)s people' -> '%(count)s henkilöä'" in found
    assert not any("Fine" in line for line in found)


def test_the_check_finds_words_missing_from_a_catalog() -> None:
    catalog = read_po(BytesIO(BROKEN.encode()), locale="fi_FI")
    extracted = read_po(BytesIO(b'msgid "Save"\nmsgstr ""\n\nmsgid "New words"\nmsgstr ""\n'))
    assert catalogs.missing(catalog, extracted) == ["not in the catalog: 'New words'"]
