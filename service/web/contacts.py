"""``/app/contacts``: the list (filters, a name or email search, pages of 50);
one contact's page is service.web.contact_page, the forms that change
something service.web.contact_actions.

The list is the JSON API's ``GET /contacts`` (service.contacts.service.list_)
with the same filters. Filters that say nothing about a person (tag,
language, consent state, reason, page) travel in the query string; a name or
email typed into the search goes in a POST body and its answer is rendered
directly, so the text never lands in a URL, a log or the browser's history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Response, get, post
from litestar.params import FromPath
from sqlmodel.ext.asyncio.session import AsyncSession

from service import i18n
from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.contacts import service as contacts_service
from service.contacts.schemas import (
    ELIGIBLE,
    MAX_SEARCH,
    ConsentFilter,
    ContactFilters,
    parse_reason,
)
from service.crypto import DataCipher
from service.i18n import _
from service.models.enums import Channel, Language, Reason
from service.validation import CONTROL_CHARACTERS
from service.web.contact_page import (
    BASE,
    OPTIONS,
    Cipher,
    Session,
    StaffRequest,
    contact_page,
    receipt_page,
)
from service.web.render import page
from service.web.session import verified_form

PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class Filters:
    """The list's filters as the page carries them; none of them names a
    person. ``reason`` is a gate reason code or "eligible", judged for
    ``channel`` like ``consent``."""

    tag: str | None = None
    language: Language | None = None
    channel: Channel = Channel.EMAIL
    consent: ConsentFilter | None = None
    reason: str | None = None
    page: int = 1

    def params(self, **changes: Any) -> dict[str, str]:
        """The filters as query parameters, defaults left out."""
        chosen = replace(self, **changes)
        pairs = {
            "tag": chosen.tag,
            "language": chosen.language,
            "channel": chosen.channel if chosen.channel is not Channel.EMAIL else None,
            "consent": chosen.consent,
            "reason": chosen.reason,
            "page": chosen.page if chosen.page != 1 else None,
        }
        return {name: str(value) for name, value in pairs.items() if value is not None}

    def link(self, **changes: Any) -> str:
        params = self.params(**changes)
        return f"{BASE}?{urlencode(params)}" if params else BASE

    def used(self) -> list[str]:
        return [name for name in self.params() if name != "page"]

    def of_service(self, q: str | None) -> ContactFilters:
        """The filters as the service (and the API) takes them."""
        return ContactFilters(
            tag=self.tag,
            language=self.language,
            channel=self.channel,
            consent=self.consent,
            reason=parse_reason(self.reason) if self.reason else None,
            q=q,
        )


def parse_filters(values: Mapping[str, Any]) -> tuple[Filters, list[str]]:
    """The filters of a query string or a search form, and what was wrong with
    them: a bad value is dropped and named, rather than failing the page."""
    problems: list[str] = []

    def text(name: str) -> str | None:
        value = values.get(name)
        return (value.strip()[:MAX_SEARCH] or None) if isinstance(value, str) else None

    def choice(name: str, allowed: set[str]) -> str | None:
        value = text(name)
        if value is not None and value not in allowed:
            problems.append(
                _("The %(name)s filter %(value)s is unknown; it was left out.")
                % {"name": name, "value": repr(value)}
            )
            return None
        return value

    language = choice("language", set(Language))
    consent = choice("consent", set(ConsentFilter))
    page_number = text("page") or "1"
    tag = (text("tag") or "").lower() or None
    if tag is not None and CONTROL_CHARACTERS.search(tag):
        problems.append(_("The tag filter holds a control character; it was left out."))
        tag = None
    filters = Filters(
        tag=tag,
        language=Language(language) if language else None,
        channel=Channel(choice("channel", set(Channel)) or Channel.EMAIL),
        consent=ConsentFilter(consent) if consent else None,
        reason=choice("reason", {ELIGIBLE, *Reason}),
        page=int(page_number) if page_number.isdigit() and len(page_number) < 7 else 1,
    )
    return replace(filters, page=max(filters.page, 1)), problems


async def _list_page(
    request: StaffRequest,
    db_session: AsyncSession,
    cipher: DataCipher,
    values: Mapping[str, Any],
    *,
    q: str | None = None,
) -> Response[str]:
    filters, problems = parse_filters(values)
    reasons = contacts_service.list_reasons(filters.channel)
    if filters.reason not in (None, ELIGIBLE) and filters.reason not in reasons:
        problems.append(
            _("The reason %(reason)s never applies to %(channel)s.")
            % {"reason": filters.reason, "channel": i18n.label(Channel, filters.channel)}
        )
        filters = replace(filters, reason=None)
    if q is not None and CONTROL_CHARACTERS.search(q):
        problems.append(_("The search text holds a control character; it was left out."))
        q = None
    wanted = filters.of_service(q)
    offset = (filters.page - 1) * PAGE_SIZE
    rows, total = await contacts_service.list_(
        db_session, filters=wanted, limit=PAGE_SIZE, offset=offset
    )
    last = max((total - 1) // PAGE_SIZE + 1, 1)
    if filters.page > last:  # past the end: the last page instead
        filters = replace(filters, page=last)
        offset = (last - 1) * PAGE_SIZE
        rows, total = await contacts_service.list_(
            db_session, filters=wanted, limit=PAGE_SIZE, offset=offset
        )
    found = await contacts_service.page(
        db_session, rows, total, limit=PAGE_SIZE, offset=offset, cipher=cipher
    )
    # The shape of the search, never its text; a page of one is a read of that person.
    trail.note(db_session, request, action="contact.list", status_code=200)
    trail.annotate(
        db_session,
        contact_id=found.items[0].id if len(found.items) == 1 else None,
        filters=filters.used() + (["q"] if q else []),
        page=filters.page,
        returned=len(found.items),
    )
    return page(
        request,
        "contacts/list",
        title=_("Contacts"),
        found=found,
        filters=filters,
        q=q or "",
        reasons=[reason.value for reason in reasons],
        problems=problems,
        pages=(total - 1) // PAGE_SIZE + 1 if total else 1,
        options=OPTIONS,
        done=request.query_params.get("done", ""),
    )


class ContactPagesController(Controller):
    path = BASE
    include_in_schema = False
    guards = [requires(Permission.CONTACTS_READ)]

    @get("/")
    async def list_contacts(
        self, request: StaffRequest, db_session: Session, cipher: Cipher
    ) -> Response[str]:
        return await _list_page(request, db_session, cipher, request.query_params)

    @post("/search", status_code=200)
    async def search(
        self, request: StaffRequest, db_session: Session, cipher: Cipher
    ) -> Response[str]:
        """A name or email fragment, with the filters of the page it came from;
        answered directly, so the text stays out of every URL."""
        form = await verified_form(request)
        q = form.get("q")
        q = q.strip()[:MAX_SEARCH] if isinstance(q, str) else ""
        return await _list_page(request, db_session, cipher, form, q=q or None)

    @get("/{contact_id:int}")
    async def show(
        self, request: StaffRequest, db_session: Session, cipher: Cipher, contact_id: FromPath[int]
    ) -> Response[str]:
        return await contact_page(request, db_session, cipher, contact_id)

    @get("/{contact_id:int}/consents/{event_id:int}/receipt")
    async def receipt(
        self,
        request: StaffRequest,
        db_session: Session,
        cipher: Cipher,
        contact_id: FromPath[int],
        event_id: FromPath[int],
    ) -> Response[str]:
        return await receipt_page(request, db_session, cipher, contact_id, event_id)
