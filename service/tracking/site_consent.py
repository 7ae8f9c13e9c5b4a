"""Website consent, recorded: the site's cookie banner, its archived texts,
and the visitor's decisions (``POST /t/consent``), which decide whether a
page view (``POST /t/v``) may be stored.

**Categories** are a closed vocabulary (``Category``): ``necessary`` (cookies
the site cannot work without; shown in the banner, never a choice, never
recorded), ``analytics`` (the page views Consentry stores) and ``marketing``
(the site's own advertising cookies; recorded as proof, read by nothing here).

**Banner texts.** Staff set the banner's words per language and category
(``PUT /api/v1/site-consent/texts``). Each category's words are archived under
``banner:{category}`` (``service.consent.archive``), and the whole banner of a
language under ``banner``: its body is the JSON of every category's words, so
its version — *the banner version* the site passes with a decision — changes
whenever any of its words change, and its hash proves the whole banner.

**Decisions.** One ``SiteConsentEvent`` per decided category (grant or
withdraw) with the category's text version in that language, the truncated
IP network, the random id of the visitor's consent cookie and, when the
request also carries a valid visitor cookie (a tracked click), the contact. A
browser that sends ``Sec-GPC: 1`` or ``DNT: 1`` has a grant for a category
recorded as a withdrawal: the opt-out signal is the visitor's standing
answer, and page views would not be stored under it anyway.

**Linking.** When a request carries both cookies, the visitor's earlier
decisions recorded without a contact get the contact's id (``link``): the
only update this table allows.

**Page views** are stored only while both the browser's latest ``analytics``
decision (by its consent cookie) and the latest one recorded for the visitor
or the contact (any browser) are grants: a withdrawal made anywhere stops
them, a grant made elsewhere does not start them here (``analytics_grant``,
whose id the stored view names).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock, json_limits
from service.consent import archive
from service.db import run
from service.errors import InvalidInput
from service.models import ConsentText, SiteConsentEvent
from service.models.enums import ConsentAction

COOKIE_NAME = "consentry_consent"
COOKIE_PATH = "/t"
LANGUAGES = ("fi", "sv", "en")
BANNER_KEY = "banner"
# A decision names a language, a version and at most three categories.
MAX_DECISION_BYTES = 1024
_VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{22}")


class Category(StrEnum):
    NECESSARY = "necessary"
    ANALYTICS = "analytics"
    MARKETING = "marketing"


# The categories a visitor chooses; ``necessary`` is only ever shown.
CHOICES = (Category.ANALYTICS, Category.MARKETING)


def text_key(category: Category) -> str:
    return f"{BANNER_KEY}:{category.value}"


class BadDecision(ValueError):
    """The body is not a cookie decision: the message says what is wrong."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Decision:
    language: str
    version: int
    categories: Mapping[Category, bool]


@dataclass(frozen=True, slots=True)
class CategoryText:
    id: int
    version: int
    hash: str
    text: str


@dataclass(frozen=True, slots=True)
class Banner:
    """One language's banner at one version, and the text of each category."""

    id: int
    language: str
    version: int
    hash: str
    categories: Mapping[Category, CategoryText]


# -- the visitor's consent cookie --------------------------------------------------


def new_visitor_id() -> str:
    return secrets.token_urlsafe(16)


def read_visitor_id(value: str | None) -> str | None:
    """The visitor id a consent cookie holds; None when absent or not ours."""
    if value and _VISITOR_ID.fullmatch(value):
        return value
    return None


# -- banner texts (staff) -------------------------------------------------------------


def _banner_body(words: Mapping[Category, str]) -> str:
    return json.dumps(
        {category.value: text for category, text in words.items()},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def check_texts(texts: Any) -> dict[str, dict[Category, str]]:
    """Staff's ``{lang: {category: text}}``; InvalidInput naming what is wrong."""
    if not isinstance(texts, dict) or not texts:
        raise InvalidInput("give the banner's texts as {language: {category: text}}")
    checked: dict[str, dict[Category, str]] = {}
    for language, words in texts.items():
        if language not in LANGUAGES:
            raise InvalidInput(
                f"languages are {', '.join(LANGUAGES)}", fields={language: "unknown language"}
            )
        if not isinstance(words, dict):
            raise InvalidInput("give {category: text}", fields={language: "not an object"})
        one: dict[Category, str] = {}
        for name, text in words.items():
            where = f"{language}.{name}"
            if name not in Category.__members__.values():
                raise InvalidInput(
                    f"categories are {', '.join(Category)}", fields={where: "unknown category"}
                )
            if not isinstance(text, str) or not text.strip():
                raise InvalidInput("a text is needed", fields={where: "empty"})
            if len(text) > archive.MAX_TEXT_LENGTH:
                raise InvalidInput(
                    f"at most {archive.MAX_TEXT_LENGTH} characters", fields={where: "too long"}
                )
            one[Category(name)] = text
        if not any(category in one for category in CHOICES):
            raise InvalidInput(
                "a banner offers at least one choice (analytics or marketing)",
                fields={language: "no choice"},
            )
        checked[language] = dict(sorted(one.items()))
    return checked


async def set_texts(
    session: AsyncSession, texts: Mapping[str, Mapping[Category, str]], *, user_id: int | None
) -> dict[str, Banner]:
    """Archive the banner's words of each language given (languages not given
    keep theirs); the banners now current, by language."""
    for language, words in texts.items():
        for category, text in words.items():
            await archive.archive(
                session, key=text_key(category), language=language, body=text, user_id=user_id
            )
        await archive.archive(
            session, key=BANNER_KEY, language=language, body=_banner_body(words), user_id=user_id
        )
    return await current(session)


async def current(session: AsyncSession) -> dict[str, Banner]:
    """The banner in force in each language that has one."""
    banners: dict[str, Banner] = {}
    for language in LANGUAGES:
        latest = await archive.latest(session, BANNER_KEY, language)
        if latest is not None:
            banners[language] = await _banner(session, latest)
    return banners


async def banner(session: AsyncSession, language: str, version: int) -> Banner | None:
    """One language's banner at one version; None when there is no such version."""
    rows = await session.exec(
        select(ConsentText).where(
            col(ConsentText.key) == BANNER_KEY,
            col(ConsentText.language) == language,
            col(ConsentText.version) == version,
        )
    )
    found = rows.first()
    return None if found is None else await _banner(session, found)


async def _banner(session: AsyncSession, row: ConsentText) -> Banner:
    assert row.id is not None
    words = {Category(name): text for name, text in json.loads(row.body).items()}
    # Each category's words are archived under their own key; the version
    # holding exactly those words is the one shown (the newest, if the words
    # were ever set back to an earlier version's).
    found = await session.exec(
        select(ConsentText).where(
            col(ConsentText.key).in_([text_key(category) for category in words]),
            col(ConsentText.language) == row.language,
            col(ConsentText.hash).in_([archive.text_hash(text) for text in words.values()]),
        )
    )
    texts: dict[Category, CategoryText] = {}
    for text in found.all():
        category = Category(text.key.removeprefix(f"{BANNER_KEY}:"))
        if text.hash != archive.text_hash(words[category]) or text.id is None:
            continue
        kept = texts.get(category)
        if kept is None or kept.version < text.version:
            texts[category] = CategoryText(text.id, text.version, text.hash, text.body)
    return Banner(row.id, row.language, row.version, row.hash, dict(sorted(texts.items())))


# -- decisions (the public route) ---------------------------------------------------


def parse_decision(body: bytes) -> Decision:
    """Read a decision's JSON body; raise BadDecision saying what is wrong."""
    if len(body) > MAX_DECISION_BYTES:
        raise BadDecision(f"a decision is at most {MAX_DECISION_BYTES} bytes")
    try:
        data = json_limits.loads(body)
    except json_limits.BadJson as exc:
        raise BadDecision(str(exc)) from None
    if not isinstance(data, dict):
        raise BadDecision(json_limits.NOT_AN_OBJECT)
    unknown = sorted(set(data) - {"language", "version", "categories"})
    if unknown:
        raise BadDecision(f"unknown field {unknown[0]!r}", unknown[0])
    language = data.get("language")
    if language not in LANGUAGES:
        raise BadDecision(f"must be one of {', '.join(LANGUAGES)}", "language")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 0 < version < 2**31:
        raise BadDecision("must be the banner version shown (a positive whole number)", "version")
    categories = data.get("categories")
    if not isinstance(categories, dict):
        raise BadDecision("must be an object {category: true|false}", "categories")
    decided: dict[Category, bool] = {}
    for name, value in categories.items():
        if name not in Category.__members__.values():
            raise BadDecision(f"unknown category {name!r}", "categories")
        if not isinstance(value, bool):
            raise BadDecision(f"{name} must be true or false", "categories")
        if name == Category.NECESSARY:
            if not value:
                raise BadDecision("necessary cookies are not a choice", "categories")
            continue
        decided[Category(name)] = value
    if not decided:
        raise BadDecision("no choice (analytics or marketing) in the decision", "categories")
    return Decision(language=language, version=version, categories=decided)


async def record(
    session: AsyncSession,
    *,
    decision: Decision,
    visitor: str,
    contact_id: int | None,
    opted_out: bool,
    ip_network: str | None,
) -> dict[Category, ConsentAction]:
    """Record one event per decided category; the action recorded for each.

    Raises BadDecision when the version is not one of the banner in that
    language, or names a category that banner did not offer."""
    shown = await banner(session, decision.language, decision.version)
    if shown is None:
        raise BadDecision(
            f"no banner version {decision.version} in {decision.language!r}", "version"
        )
    missing = [c.value for c in decision.categories if c not in shown.categories]
    if missing:
        raise BadDecision(
            f"banner version {decision.version} offers no {missing[0]!r}", "categories"
        )
    if contact_id is not None:
        await link(session, visitor=visitor, contact_id=contact_id)
    now = clock.now()
    recorded: dict[Category, ConsentAction] = {}
    for category, granted in decision.categories.items():
        action = ConsentAction.GRANT if granted and not opted_out else ConsentAction.WITHDRAW
        session.add(
            SiteConsentEvent(
                visitor=visitor,
                contact_id=contact_id,
                category=category.value,
                action=action,
                text_id=shown.categories[category].id,
                language=decision.language,
                ip_network=ip_network,
                occurred_at=now,
            )
        )
        recorded[category] = action
    await session.flush()
    return recorded


async def link(session: AsyncSession, *, visitor: str, contact_id: int) -> int:
    """Give the visitor's decisions recorded without a contact this contact's
    id; how many. The one update ``site_consent_events`` allows."""
    statement = (
        update(SiteConsentEvent)
        .where(col(SiteConsentEvent.visitor) == visitor, col(SiteConsentEvent.contact_id).is_(None))
        .values(contact_id=contact_id)
    )
    result = await run(session, statement)
    return int(result.rowcount)


async def analytics_grant(session: AsyncSession, *, visitor: str, contact_id: int) -> int | None:
    """The analytics grant a page view of this browser (its consent cookie)
    and this contact (its visitor cookie) may be stored under: the id of the
    browser's latest ``analytics`` decision when it is a grant and so is the
    latest one recorded for the browser or the contact anywhere; None
    otherwise. The view names it (``EngagementEvent.site_consent_event_id``).
    One statement, two index look-ups."""
    analytics = col(SiteConsentEvent.category) == Category.ANALYTICS.value
    newest = col(SiteConsentEvent.id).desc()
    of_anyone = (
        core_select(col(SiteConsentEvent.action))
        .where(
            and_(
                analytics,
                or_(
                    col(SiteConsentEvent.visitor) == visitor,
                    col(SiteConsentEvent.contact_id) == contact_id,
                ),
            )
        )
        .order_by(newest)
        .limit(1)
        # Of the whole table, not of the row the outer query reads.
        .correlate(None)
        .scalar_subquery()
    )
    # The browser's latest decision, with the latest of anyone's beside it.
    query = (
        core_select(col(SiteConsentEvent.id), col(SiteConsentEvent.action), of_anyone)
        .where(analytics, col(SiteConsentEvent.visitor) == visitor)
        .order_by(newest)
        .limit(1)
    )
    row = (await run(session, query)).first()
    if row is None:
        return None
    event_id, browser_action, anyone_action = row
    if _action(browser_action) is ConsentAction.GRANT and _action(anyone_action) is (
        ConsentAction.GRANT
    ):
        return int(event_id)
    return None


async def allows_analytics(session: AsyncSession, *, visitor: str, contact_id: int) -> bool:
    """Whether a page view of this browser and this contact may be stored
    (``analytics_grant`` names the grant)."""
    return await analytics_grant(session, visitor=visitor, contact_id=contact_id) is not None


def _action(value: Any) -> ConsentAction | None:
    if value is None:
        return None
    return ConsentAction(value.value if isinstance(value, ConsentAction) else value)
