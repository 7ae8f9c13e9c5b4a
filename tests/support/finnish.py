"""A browser test in Finnish: the words come from the Finnish catalog, never
written into the test, and every page the browser loads is kept to be
checked afterwards.

``Words`` looks an English msgid up in ``service/locale/fi`` (the catalog the
running service reads too): while a string is untranslated the lookup gives
the English back and the page shows English, so a test built on it passes
before and after the translations land; ``Words.shown`` asserts the Finnish
is on the page and, when the catalog translates the string, the English is
not. ``Visits`` records each loaded document's address, its ``<html lang>``
and its HTML (``page.content()``, the document as the browser holds it, for
the Nu HTML Checker, tests/support/vnu.py)."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

from playwright.sync_api import Browser, Locator, Page, Response, expect
from playwright.sync_api import Error as PlaywrightError

from service import i18n
from tests.support.consentry_run import RunningService, wait_for
from tests.support.web import check_accessibility

MAIL_TIMEOUT = 30  # s; a worker delivers to the mail catcher within a second or two


Msgid = str | tuple[str, str]  # a plural: (singular, plural)


@dataclass
class Words:
    """The Finnish of English msgids, and the msgids looked up.

    ``strict`` when the catalog translates every msgid the test declares it
    uses (the catalogs are merged): then the pages must show the Finnish
    words everywhere. Before that, a page not yet marked shows English even
    for a word the catalog translates for another page, so elements are found
    by either wording, and ``shown`` proves Finnish where it is used."""

    declared: tuple[Msgid, ...]
    lang: str = "fi"
    looked_up: list[Msgid] = field(default_factory=list)
    strict: bool = field(init=False)

    def __post_init__(self) -> None:
        self.strict = all(self.translated(msgid) for msgid in self.declared)

    def __call__(self, msgid: str, **values: object) -> str:
        """``_(msgid)`` as a page in this language writes it, placeholders filled."""
        self._note(msgid)
        text = i18n.translations(self.lang).gettext(msgid)
        return text % values if values else text

    def n(self, singular: str, plural: str, count: int, **values: object) -> str:
        """A plural as ``{% trans count=n %}`` writes it (``%(count)s`` filled)."""
        self._note((singular, plural))
        text = i18n.translations(self.lang).ngettext(singular, plural, count)
        return text % {"count": count, **values}

    def pattern(self, msgid: str, **values: object) -> re.Pattern[str]:
        """The whole text of an element (a label, a button's name) in Finnish;
        or in English too while the catalogs are not merged."""
        return self._either(self(msgid, **values), msgid % values if values else msgid)

    def label(self, msgid: str) -> re.Pattern[str]:
        """A label beginning with the words (a required field's label goes on
        with "(required)"; a translation's field, "Subject, Swedish", does not match)."""
        whole = self.pattern(msgid)
        return re.compile(whole.pattern.removesuffix(r"\s*$") + r"(?![\w,])")

    def n_pattern(self, singular: str, plural: str, count: int) -> re.Pattern[str]:
        english = (singular if count == 1 else plural) % {"count": count}
        return self._either(self.n(singular, plural, count), english)

    def translated(self, msgid: Msgid) -> bool:
        catalog = i18n.translations(self.lang)
        if isinstance(msgid, tuple):
            return catalog.ngettext(*msgid, 2) != msgid[1]
        return catalog.gettext(msgid) != msgid

    def shown(self, where: Page | Locator, msgid: str, **values: object) -> None:
        """``where`` shows the Finnish of ``msgid``; and when the catalog has a
        Finnish translation, not the English words."""
        locator = where.locator("body") if isinstance(where, Page) else where
        expect(locator).to_contain_text(self(msgid, **values))
        if self.translated(msgid):
            english = msgid % values if values else msgid
            expect(locator).not_to_contain_text(english)

    def _either(self, finnish: str, english: str) -> re.Pattern[str]:
        if self.strict or finnish == english:
            return re.compile(rf"^\s*{re.escape(finnish)}\s*$")
        return re.compile(rf"^\s*(?:{re.escape(finnish)}|{re.escape(english)})\s*$")

    def _note(self, msgid: Msgid) -> None:
        assert msgid in self.declared, f"{msgid!r} is not among the test's declared msgids"
        if msgid not in self.looked_up:
            self.looked_up.append(msgid)


@dataclass(frozen=True)
class Visit:
    url: str
    lang: str
    html: str


@dataclass
class Visits:
    """Every document the pages loaded, as the browser holds it after load
    (``seen``) and as the service sent it (``sent``)."""

    seen: list[Visit] = field(default_factory=list)
    sent: list[Visit] = field(default_factory=list)

    def record(self, page: Page) -> None:
        """The document just loaded (a load event's handler: it runs before
        axe's, while the page is still there)."""
        if not page.url.startswith("http"):
            return
        url = page.url
        try:
            html = page.content()
        except PlaywrightError:  # left before it was read; the walk's list of pages tells
            return
        self.seen.append(Visit(url, _lang(html), html))

    def served(self, response: Response) -> None:
        """A document as the service sent it (a response's handler): the live
        DOM hides what the browser's parser repaired."""
        if (
            response.request.resource_type != "document"
            or response.frame != response.frame.page.main_frame
            or response.status in (301, 302, 303, 307, 308)
            or not response.headers.get("content-type", "").startswith("text/html")
        ):
            return
        try:
            html = response.text()
        except PlaywrightError:  # the body is gone with the next navigation
            return
        self.sent.append(Visit(f"{response.url} (served)", _lang(html), html))

    def snapshot(self, page: Page, note: str) -> None:
        """The page as it is now (after htmx and the editor changed it), kept too."""
        html = page.content()
        self.seen.append(Visit(f"{page.url} ({note})", _lang(html), html))

    def paths(self) -> list[str]:
        """The visited paths, numbers as ``{n}`` and without the query."""
        return [
            re.sub(r"/\d+", "/{n}", visit.url.split("://", 1)[-1].partition("/")[2].split("?")[0])
            for visit in self.seen
        ]


def _lang(html: str) -> str:
    found = re.search(r"<html\b[^>]*\blang=\"([^\"]*)\"", html)
    return found.group(1) if found else ""


def finnish_page(browser: Browser, visits: Visits) -> Page:
    """A page of a browser set to Finnish (Accept-Language: fi-FI), checked by
    axe-core on each load as tests.support.web.new_page does, its documents
    recorded in ``visits``."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="fi-FI", timezone_id="Europe/Helsinki"
    )
    page = context.new_page()
    page.on("response", lambda response: visits.served(response))
    page.on("load", lambda loaded: visits.record(loaded))
    page.on("load", lambda loaded: check_accessibility(loaded))
    return page


def wait_for_mail(
    service: RunningService, what: str, wanted: Callable[[EmailMessage], bool]
) -> EmailMessage:
    """The first message in the mail catcher's outbox ``wanted`` accepts,
    waited for (``what`` names it when none comes)."""
    found: list[EmailMessage] = []

    def arrived() -> bool:
        for path in sorted(service.outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            if wanted(message):
                found.append(message)
                return True
        return False

    wait_for(arrived, what, timeout=MAIL_TIMEOUT)
    return found[0]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None, message["Subject"]
    return str(body.get_content())
