"""``/app/call-lists``: the phone campaigns' call lists — build, download, expiry.

The handlers call what the API's call-list routes call
(service.campaigns.call_lists), so a download here is recorded exactly as
one there: a ``CallListDownload`` row and a ``call_list.download`` audit row
naming the campaign, the list and its size, never the people on it. The
download is a POST: it writes that record, and nothing of it is in a URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock, i18n, queue
from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.campaigns import call_lists
from service.campaigns import service as campaigns
from service.campaigns.schemas import CallListRead
from service.errors import DomainError, NotFound
from service.i18n import _
from service.models import Campaign
from service.models.enums import CallListStatus, CampaignChannel
from service.robinson import service as robinson
from service.settings import Settings
from service.web import messages
from service.web.render import page
from service.web.session import redirect, verified_form

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, Any]
HOME = "/app/call-lists"
# Campaigns read to find the phone ones: far more than any register runs at once.
CAMPAIGNS_SHOWN = 500


@dataclass(frozen=True, slots=True)
class ListView:
    """A phone campaign and its newest call list, as the page shows them."""

    campaign: Campaign
    call_list: CallListRead | None
    state: str  # none, building, ready, expired, refused
    expires_at: datetime | None  # in Helsinki
    days_left: int | None
    excluded: list[tuple[str, int]]
    refusal: str | None


def aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back the stored UTC moments without their zone.
    if moment is None:
        return None
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


def local_time(moment: datetime | None) -> str:
    """A stored moment as staff read it: Helsinki time, to the minute, the way
    of the language of the moment (service.i18n.format_datetime); "—" for none."""
    shown = aware(moment)
    return i18n.format_datetime(shown) if shown else "—"


def _view(campaign: Campaign, call_list: CallListRead | None) -> ListView:
    if call_list is None:
        return ListView(campaign, None, "none", None, None, [], None)
    expires = aware(call_list.expires_at)
    audience = call_list.audience_at_build or {}
    state = call_list.status
    if state == CallListStatus.READY and expires is not None and expires <= clock.now():
        state = CallListStatus.EXPIRED.value  # the retention run has not swept it yet
    days_left = (
        (expires.astimezone(clock.LOCAL_ZONE).date() - clock.today()).days if expires else None
    )
    excluded = sorted(
        ((str(reason), int(n)) for reason, n in dict(audience.get("excluded") or {}).items()),
        key=lambda pair: (-pair[1], pair[0]),
    )
    refusal = str(audience.get("detail")) if state == CallListStatus.REFUSED else None
    return ListView(
        campaign=campaign,
        call_list=call_list,
        state=str(state),
        expires_at=expires.astimezone(clock.LOCAL_ZONE) if expires else None,
        days_left=days_left if state == CallListStatus.READY else None,
        excluded=excluded,
        refusal=refusal,
    )


async def _views(db_session: AsyncSession) -> list[ListView]:
    views = []
    for campaign in await campaigns.list_(db_session, limit=CAMPAIGNS_SHOWN, offset=0):
        if campaign.channel is not CampaignChannel.PHONE:
            continue
        try:
            newest = await call_lists.latest(db_session, campaign=campaign)
        except NotFound:
            views.append(_view(campaign, None))
            continue
        views.append(_view(campaign, CallListRead.model_validate(newest, from_attributes=True)))
    return views


async def _index(
    request: StaffRequest,
    db_session: AsyncSession,
    *,
    error: str | None = None,
    status: int = 200,
    notice: str | None = None,
) -> Response[str]:
    settings: Settings = request.app.state.settings
    extract = None
    if request.user.can(Permission.ROBINSON_READ):
        extract = await robinson.status(
            db_session, max_age_days=settings.robinson_max_age_days, today=clock.today()
        )
    views = await _views(db_session)
    return page(
        request,
        "call_lists/index",
        title=_("Call lists"),
        status=status,
        views=views,
        building=any(view.state == CallListStatus.BUILDING for view in views),
        robinson=extract,
        ttl_days=settings.call_list_ttl_days,
        error=error,
        notice=notice,
    )


class CallListController(Controller):
    path = HOME
    include_in_schema = False
    guards = [requires(Permission.CALL_LISTS_DOWNLOAD)]

    @get("/")
    async def index(self, request: StaffRequest, db_session: Session) -> Response[str]:
        """Every phone campaign with its newest list: state, size, expiry, who was left out."""
        notice = None
        if request.query_params.get("requested") == "1":
            notice = _("A new call list is being built. This page shows it when it is ready.")
        return await _index(request, db_session, notice=notice)

    @post(
        "/{campaign_id:int}/build",
        guards=[requires(Permission.CAMPAIGNS_SEND)],
        status_code=200,
    )
    async def build(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        """Ask a worker to build a new list (as ``POST …/call-list``); a missing
        or stale Robinson extract is refused here, before anything is queued."""
        await verified_form(request)
        settings: Settings = request.app.state.settings
        redis = request.app.state.queue
        if redis is None:
            return await _index(
                request,
                db_session,
                error=_("No queue is configured (CONSENTRY_REDIS_URL): lists cannot be built."),
                status=503,
            )
        try:
            campaign = await campaigns.get(db_session, campaign_id)
            call_list = await call_lists.request(
                db_session, campaign=campaign, user_id=request.user.user_id, settings=settings
            )
        except DomainError as refusal:
            await db_session.rollback()  # nothing of a refused request is kept
            return await _index(
                request, db_session, error=messages.refusal(refusal), status=refusal.status_code
            )
        assert call_list.id is not None
        trail.note(db_session, request, action="campaign.call_list", status_code=202)
        trail.annotate(db_session, call_list_id=call_list.id)
        # Committed before it is queued: the job must find the list.
        await db_session.commit()
        await queue.enqueue(
            redis,
            queue.BUILD_CALL_LIST,
            call_list.id,
            job_id=queue.call_list_job_id(call_list.id),
        )
        return redirect(f"{HOME}?requested=1")

    @post("/{campaign_id:int}/download", status_code=200)
    async def download(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        """The newest ready list as CSV (name, phone, language), recorded as taken."""
        await verified_form(request)
        try:
            campaign = await campaigns.get(db_session, campaign_id)
            call_list, body = await call_lists.download(
                db_session, campaign=campaign, user_id=request.user.user_id
            )
        except DomainError as refusal:
            await db_session.rollback()
            return await _index(
                request, db_session, error=messages.refusal(refusal), status=refusal.status_code
            )
        # A read of many people at once: which list and how many, not who.
        trail.note(db_session, request, action="call_list.download", status_code=200)
        trail.annotate(db_session, call_list_id=call_list.id, entries=call_list.entry_count)
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="call-list-{call_list.id}.csv"',
                "Cache-Control": "no-store",
            },
        )
