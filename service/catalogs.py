"""The translation catalogs of the staff pages: extract, update, check.

``scripts/translations update`` extracts the words marked in the code
(``_()``, ``ngettext``, ``N_`` in Python; ``_()`` and ``{% trans %}`` in the
staff templates: babel.cfg) and merges them into each language's catalog,
service/locale/<lang>/LC_MESSAGES/messages.po, new words empty and words
whose English changed a little marked fuzzy. ``scripts/translations check``
reports what a translator must still do and fails when anything is left:
words not yet in a catalog, entries untranslated or fuzzy, and translations
that lose or invent a placeholder (``%(name)s``). docs/translations.md.

service.i18n reads the .po files themselves (fuzzy entries are left out, so
an unchecked guess never reaches a page).
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from service.i18n import LANGUAGES, LOCALE_DIR, LOCALES

ROOT = LOCALE_DIR.parents[1]
TRANSLATED = tuple(lang for lang in LANGUAGES if lang != "en")  # English is the source
# The options every extraction and update uses, so the catalogs diff cleanly:
# no source locations (they churn with every edit), entries in extraction order.
EXTRACT = [
    "-F", str(ROOT / "babel.cfg"), "-k", "N_", "--no-location", "--no-wrap",
    "--add-comments", "TRANSLATORS:", "--project", "Consentry",
]  # fmt: skip
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[sdif]")


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"


def read(lang: str) -> Catalog:
    with catalog_path(lang).open("rb") as source:
        return read_po(source, locale=LOCALES[lang])


def _pybabel(*arguments: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *arguments])  # type: ignore[no-untyped-call]


def extract(template: Path) -> Catalog:
    """Every word marked in the code, as a PO template at ``template``."""
    _pybabel("extract", *EXTRACT, "-o", str(template), str(ROOT))
    with template.open("rb") as source:
        return read_po(source)


def update() -> None:
    """Extract, and merge the words into each language's catalog (made
    when missing); words gone from the code are dropped."""
    with tempfile.TemporaryDirectory() as work:
        template = Path(work) / "messages.pot"
        extract(template)
        for lang in TRANSLATED:
            common = ["-i", str(template), "-d", str(LOCALE_DIR), "-l", lang, "--no-wrap"]
            if catalog_path(lang).is_file():
                _pybabel("update", *common, "--ignore-obsolete", "--ignore-pot-creation-date")
            else:
                _pybabel("init", *common)


def _placeholders(text: str) -> set[str]:
    return {match.group(0) for match in PLACEHOLDER.finditer(text.replace("%%", ""))}


def _forms(message: Message) -> list[tuple[str, str]]:
    """(English, translation) pairs of a message: one, or one per plural form."""
    ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    # Every plural form after the first is compared with the English plural.
    return [(ids[min(index, len(ids) - 1)], text or "") for index, text in enumerate(strings)]


def problems(catalog: Catalog) -> list[str]:
    """What is wrong with a catalog's entries: untranslated, fuzzy, or a
    placeholder lost or invented; and what Babel's own checks find."""
    found: list[str] = []
    for message in catalog:
        if not message.id:
            continue  # the header
        name = message.id[0] if isinstance(message.id, tuple | list) else message.id
        if message.fuzzy:
            found.append(f"fuzzy: {name!r}")
        for english, text in _forms(message):
            if not text.strip():
                found.append(f"untranslated: {name!r}")
                break
            if _placeholders(english) != _placeholders(text):
                found.append(f"placeholders differ: {english!r} -> {text!r}")
    for message, errors in catalog.check():
        for error in errors:
            found.append(f"{message.id!r}: {error}")
    return found


def missing(catalog: Catalog, extracted: Catalog) -> list[str]:
    """Words marked in the code that the catalog does not have yet."""
    return [
        f"not in the catalog: {message.id!r}"
        for message in extracted
        if message.id and message.id not in catalog
    ]


def check() -> list[str]:
    """Everything a translator must still do, per language."""
    report: list[str] = []
    with tempfile.TemporaryDirectory() as work:
        extracted = extract(Path(work) / "messages.pot")
    for lang in TRANSLATED:
        if not catalog_path(lang).is_file():
            report.append(f"{lang}: no catalog (run scripts/translations update)")
            continue
        catalog = read(lang)
        report += [f"{lang}: {line}" for line in missing(catalog, extracted) + problems(catalog)]
    return report


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        update()
        command = "check"
    if command != "check":
        print("usage: scripts/translations [update|check]", file=sys.stderr)
        return 2
    report = check()
    for line in report:
        print(line)
    if report:
        print(f"translations: {len(report)} to do (docs/translations.md)", file=sys.stderr)
        return 1
    print("translations: every word is translated in " + ", ".join(TRANSLATED))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
