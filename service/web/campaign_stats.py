"""The numbers of a campaign under ``/app``: its audience (who the consent gate
lets through now, and why the others are left out, down to the people behind
each count), its progress while sending, and its statistics, drawn as charts
(service.web.charts) with a table saying the same, and the CSV.

The numbers are the JSON API's (service.campaigns.service: ``audience``,
``audience_members``, ``read``; service.campaigns.statistics); this module
only lays them out. It also holds what all campaign pages share, so that
campaigns.py (the composer) and campaign_send.py build on it without
importing each other in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from babel import numbers
from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from service import i18n
from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.campaigns import service, statistics
from service.campaigns.schemas import CampaignRead
from service.errors import NotFound
from service.i18n import _
from service.labels import N_
from service.models import Campaign
from service.models.enums import CampaignChannel, CampaignStatus, FailureReason, Reason
from service.settings import Settings
from service.web import messages
from service.web.charts import WIDTH, charts_of
from service.web.render import page

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, State]
PageNumber = Annotated[int, QueryParameter(name="page")]
BASE = "/app/campaigns"
PAGE_SIZE = 50
MAX_PAGE = 10**9  # past any register; the offset stays within what a database takes
READ = [requires(Permission.CAMPAIGNS_READ)]
PEOPLE = [requires(Permission.CAMPAIGNS_READ), requires(Permission.CONTACTS_READ)]
LIVE = frozenset({CampaignStatus.SCHEDULED, CampaignStatus.SENDING})
STATS = [requires(Permission.STATISTICS_READ)]


# The channel and the address a campaign's explanations name (a table read at
# import time: translated when shown).
_CHANNEL = {
    CampaignChannel.EMAIL: N_("email"),
    CampaignChannel.SMS: N_("text message"),
    CampaignChannel.PHONE: N_("phone"),
}
_ADDRESS = {
    CampaignChannel.EMAIL: N_("email address"),
    CampaignChannel.SMS: N_("mobile number"),
    CampaignChannel.PHONE: N_("phone number"),
}

# What each reason code of the consent gate means, in words a marketer reads.
# %(channel)s and %(address)s follow the campaign.
EXPLANATIONS: dict[Reason, str] = {
    Reason.NO_CONSENT: N_(
        "no consent for %(channel)s marketing and no other lawful basis "
        "(a business contact, or an existing customer offered similar products)"
    ),
    Reason.CONSENT_WITHDRAWN: N_(
        "withdrew their consent to %(channel)s marketing, or opted out of it"
    ),
    Reason.DIRECT_MARKETING_BAN: N_("banned all direct marketing to them"),
    Reason.CHANNEL_BAN: N_("banned direct marketing to them by %(channel)s"),
    Reason.RESTRICTED: N_(
        "the processing of their data is restricted (GDPR art. 18), "
        "e.g. while a request of theirs is handled"
    ),
    Reason.OBJECTED: N_("objected to the processing of their data (GDPR art. 21)"),
    Reason.RETENTION_EXPIRED: N_(
        "the retention period of their data has passed; "
        "they are due for deletion, not for marketing"
    ),
    Reason.SUPPRESSED: N_(
        "their %(address)s is on the suppression list "
        "(it bounced, or belonged to someone erased or objecting)"
    ),
    Reason.NO_ADDRESS: N_("no %(address)s recorded"),
    Reason.ROBINSON_LISTED: N_("their phone number is in the Robinson do-not-call register"),
    Reason.FREQUENCY_CAP: N_(
        "already received the most messages the frequency cap allows in its period"
    ),
    Reason.OUTSIDE_SEGMENT: N_(
        "outside the campaign's segment (its languages, tags or contact types)"
    ),
    Reason.NO_PURCHASE_RECORD: N_(
        "an existing customer without consent, but no purchase is recorded in which "
        "their %(address)s was obtained, so soft opt-in cannot reach them"
    ),
    Reason.UNCONFIRMED: N_(
        "signed up on a form but has not confirmed it from the mail yet "
        "(double opt-in): nothing the signup brought may be used until then"
    ),
    Reason.NO_REFUSAL_NOTICE: N_(
        "an existing customer without consent whose %(address)s was obtained in a "
        "purchase, but nothing records that they were told then that they may refuse "
        "marketing, so soft opt-in cannot reach them"
    ),
    Reason.NO_BUSINESS_ROLE: N_(
        "a business contact with no employer or position recorded, so nothing shows "
        "the %(address)s is targeted for the role: without consent it is treated "
        "like a person's"
    ),
}


def explain(reason: Reason, channel: CampaignChannel) -> str:
    """The reason in words, in the language of the moment."""
    words = i18n.gettext(EXPLANATIONS[reason])
    if "%(" not in words:
        return words
    return words % {
        "channel": i18n.gettext(_CHANNEL[channel]),
        "address": i18n.gettext(_ADDRESS[channel]),
    }


def settings_of(request: StaffRequest) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def is_htmx(request: StaffRequest) -> bool:
    return request.headers.get("hx-request") == "true"


def not_found(request: StaffRequest, exc: NotFound) -> Response[str]:
    return page(
        request, "campaigns/missing", title=_("Not found"), status=404, detail=messages.refusal(exc)
    )


# -- audience and progress -------------------------------------------------------


# Why recipients failed (service.models.enums.FailureReason), for people
# (translated when shown).
FAILURE_WORDS = {
    FailureReason.RENDER_ERROR.value: N_("the template failed for their data"),
    FailureReason.ADDRESS_NOT_DELIVERABLE.value: N_("their address cannot be delivered to"),
    FailureReason.REJECTED.value: N_("refused by the receiving server"),
    FailureReason.TEMPORARY_FAILURES.value: N_('gave up after repeated "try later" answers'),
    FailureReason.UNEXPECTED_ERROR.value: N_("an unexpected error"),
}


@dataclass(frozen=True, slots=True)
class Progress:
    """The send list so far, for the progress bar."""

    status: CampaignStatus
    total: int
    sent: int
    skipped: int
    failed: int
    send_at: datetime | None
    failures: tuple[tuple[str, int], ...] = ()  # (what went wrong, in words; how many)
    complaints: int = 0
    complaint_rate: float = 0.0  # complaints / sent

    @property
    def handled(self) -> int:
        return self.sent + self.skipped + self.failed

    @property
    def live(self) -> bool:
        return self.status in LIVE

    @property
    def complaint_rate_percent(self) -> str:
        return percent(self.complaint_rate, decimals=2)


def percent(rate: float, *, decimals: int) -> str:
    """A rate (0.0075) in per cent with ``decimals`` decimals, the language's
    way (0,75 in Finnish and Swedish, 0.75 in English), without the sign."""
    pattern = "#,##0." + "0" * decimals if decimals else "#,##0"
    locale = i18n.LOCALES[i18n.current()]
    return numbers.format_decimal(rate * 100, format=pattern, locale=locale)


def progress_of(read: CampaignRead) -> Progress:
    counts = read.counts
    return Progress(
        status=read.status,
        total=counts.queued + counts.sent + counts.skipped + counts.failed,
        sent=counts.sent,
        skipped=counts.skipped,
        failed=counts.failed,
        failures=tuple(
            (i18n.gettext(FAILURE_WORDS[reason]) if reason in FAILURE_WORDS else reason, n)
            for reason, n in sorted(read.failures.items())
        ),
        send_at=read.send_at,
        complaints=read.complaints,
        complaint_rate=read.complaint_rate,
    )


async def audience_values(
    db_session: AsyncSession, campaign: Campaign, settings: Settings
) -> dict[str, Any]:
    audience = await service.audience(db_session, campaign=campaign, settings=settings)
    return {
        "audience": audience,
        "reasons": [
            (reason, count, explain(reason, campaign.channel))
            for reason, count in sorted(audience.excluded.items(), key=lambda item: -item[1])
        ],
    }


class StatisticsPages(Controller):
    path = BASE
    include_in_schema = False
    exception_handlers = {NotFound: not_found}

    @get("/{campaign_id:int}/audience", guards=READ)
    async def audience_panel(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[str]:
        """The panel alone: for htmx to refresh, or as a page without it."""
        campaign = await service.get(db_session, campaign_id)
        values = await audience_values(db_session, campaign, settings_of(request))
        name = "campaigns/_audience" if is_htmx(request) else "campaigns/audience"
        read = await service.read(db_session, campaign)
        title = _("Audience of %(name)s") % {"name": campaign.name}
        return page(request, name, title=title, campaign=read, **values)

    @get("/{campaign_id:int}/audience/{reason:str}", guards=PEOPLE)
    async def audience_reason(
        self,
        request: StaffRequest,
        db_session: Session,
        campaign_id: FromPath[int],
        reason: FromPath[str],
        page_number: PageNumber = 1,
    ) -> Response[str]:
        """The people behind one count: names only, each a link to their page."""
        campaign = await service.get(db_session, campaign_id)
        if reason != "eligible" and reason not in {r.value for r in Reason}:
            raise NotFound(_("no audience reason %(reason)s") % {"reason": repr(reason[:40])})
        code = None if reason == "eligible" else Reason(reason)
        number = min(max(page_number, 1), MAX_PAGE)
        people = await service.audience_members(
            db_session,
            campaign=campaign,
            settings=settings_of(request),
            reason=code,
            limit=PAGE_SIZE + 1,
            offset=(number - 1) * PAGE_SIZE,
        )
        trail.note(db_session, request, action="campaign.audience_read", status_code=200)
        trail.annotate(db_session, count=len(people[:PAGE_SIZE]))
        return page(
            request,
            "campaigns/reason",
            title=(
                _("%(name)s: eligible") % {"name": campaign.name}
                if code is None
                else _("%(name)s: %(reason)s")
                % {"name": campaign.name, "reason": i18n.label_of(code)}
            ),
            campaign=await service.read(db_session, campaign),
            code=code,
            explanation=explain(code, campaign.channel) if code else None,
            people=people[:PAGE_SIZE],
            page_number=number,
            more=len(people) > PAGE_SIZE,
        )

    @get("/{campaign_id:int}/statistics", guards=STATS)
    async def statistics_page(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[str]:
        campaign = await service.get(db_session, campaign_id)
        assert campaign.id is not None
        stats = await statistics.of_campaign(db_session, campaign.id)
        return page(
            request,
            "campaigns/statistics",
            title=_("Statistics: %(name)s") % {"name": campaign.name},
            campaign=campaign,
            stats=stats,
            click_through=percent(stats.click_through_rate, decimals=1),
            charts=charts_of(stats),
            width=WIDTH,
        )

    @get("/{campaign_id:int}/statistics.csv", guards=STATS, media_type="text/csv")
    async def statistics_csv(
        self, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[str]:
        """The API's CSV, under /app so that the session cookie reaches it."""
        campaign = await service.get(db_session, campaign_id)
        assert campaign.id is not None
        body = statistics.as_csv(await statistics.of_campaign(db_session, campaign.id))
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="campaign-{campaign.id}.csv"',
                "Cache-Control": "no-store",
            },
        )
