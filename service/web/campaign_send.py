"""Sending a campaign from ``/app``: send now, schedule, pause, resume, cancel,
and the progress bar the composer polls while workers send.

Each action is the JSON API's (service.campaigns.service, then the same
commit-then-queue start as POST /api/v1/campaigns/{id}/send); a refusal (a
campaign in the wrong status, no queue) re-shows the composer with the reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.campaigns import service
from service.campaigns.controllers import start_sending
from service.campaigns.schemas import CampaignUpdate
from service.errors import DomainError, NotFound
from service.models import Campaign
from service.web.campaign_stats import (
    BASE,
    READ,
    Session,
    StaffRequest,
    is_htmx,
    not_found,
    progress_of,
)
from service.web.campaigns import composer
from service.web.render import page
from service.web.session import redirect, verified_form

SEND = [requires(Permission.CAMPAIGNS_SEND)]
SEND_AT = "send_at"
_SEND_AT_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


def _local_time(value: str) -> datetime | None:
    """A ``datetime-local`` field's value, read as Helsinki time (the register's
    calendar, service.clock): the browser sends no time zone."""
    for pattern in _SEND_AT_FORMATS:
        try:
            return datetime.strptime(value.strip(), pattern).replace(tzinfo=clock.LOCAL_ZONE)
        except ValueError:
            continue
    return None


async def _refused(
    request: StaffRequest,
    db_session: AsyncSession,
    campaign_id: int,
    problem: str,
    *,
    status: int,
    field: str = "",
) -> Response[str]:
    """The composer again, saying why: nothing of the refused step is kept."""
    await db_session.rollback()
    campaign = await service.get(db_session, campaign_id)
    return await composer(
        request, db_session, campaign, status=status, send_errors={field: problem}
    )


def _done(campaign: Campaign) -> Response[Any]:
    return redirect(f"{BASE}/{campaign.id}#sending")


class SendingPages(Controller):
    path = BASE
    include_in_schema = False
    exception_handlers = {NotFound: not_found}

    @post("/{campaign_id:int}/send", guards=SEND, status_code=200)
    async def send_now(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        await verified_form(request)
        campaign = await service.get(db_session, campaign_id)
        try:
            # "Now" means now, even if a send time was set through the API.
            if campaign.send_at is not None:
                data = CampaignUpdate(send_at=None)
                campaign = await service.update_draft(db_session, campaign=campaign, data=data)
            campaign = await service.request_send(db_session, campaign=campaign)
            trail.note(db_session, request, action="campaign.send", status_code=303)
            await start_sending(request, db_session, campaign)
        except DomainError as exc:
            return await _refused(
                request, db_session, campaign_id, exc.detail, status=exc.status_code
            )
        return _done(campaign)

    @post("/{campaign_id:int}/schedule", guards=SEND, status_code=200)
    async def schedule(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        form = await verified_form(request)
        campaign = await service.get(db_session, campaign_id)
        value = form.get(SEND_AT)
        send_at = _local_time(value) if isinstance(value, str) else None
        if send_at is None:
            problem = "Give a date and a time, e.g. 2026-12-01 09:00."
            return await _refused(
                request, db_session, campaign_id, problem, status=422, field=SEND_AT
            )
        if send_at <= clock.now():
            problem = "Choose a time in the future, or use Send now."
            return await _refused(
                request, db_session, campaign_id, problem, status=422, field=SEND_AT
            )
        try:
            data = CampaignUpdate(send_at=send_at)
            campaign = await service.update_draft(db_session, campaign=campaign, data=data)
            campaign = await service.request_send(db_session, campaign=campaign)
            trail.note(db_session, request, action="campaign.send", status_code=303)
            await start_sending(request, db_session, campaign)
        except DomainError as exc:
            return await _refused(
                request, db_session, campaign_id, exc.detail, status=exc.status_code
            )
        return _done(campaign)

    @post("/{campaign_id:int}/pause", guards=SEND, status_code=200)
    async def pause(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        await verified_form(request)
        campaign = await service.get(db_session, campaign_id)
        try:
            campaign = await service.pause(db_session, campaign=campaign, reason="paused by staff")
        except DomainError as exc:
            return await _refused(
                request, db_session, campaign_id, exc.detail, status=exc.status_code
            )
        trail.note(db_session, request, action="campaign.pause", status_code=303)
        return _done(campaign)

    @post("/{campaign_id:int}/resume", guards=SEND, status_code=200)
    async def resume(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        await verified_form(request)
        campaign = await service.get(db_session, campaign_id)
        try:
            campaign = await service.resume(db_session, campaign=campaign)
            trail.note(db_session, request, action="campaign.resume", status_code=303)
            await start_sending(request, db_session, campaign)
        except DomainError as exc:
            return await _refused(
                request, db_session, campaign_id, exc.detail, status=exc.status_code
            )
        return _done(campaign)

    @post("/{campaign_id:int}/cancel", guards=SEND, status_code=200)
    async def cancel(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        await verified_form(request)
        campaign = await service.get(db_session, campaign_id)
        try:
            campaign = await service.cancel(db_session, campaign=campaign)
        except DomainError as exc:
            return await _refused(
                request, db_session, campaign_id, exc.detail, status=exc.status_code
            )
        trail.note(db_session, request, action="campaign.cancel", status_code=303)
        return _done(campaign)

    @get("/{campaign_id:int}/progress", guards=READ)
    async def progress(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        """The sending panel alone, for htmx to poll; it stops polling by
        answering without a trigger once the campaign is no longer sending."""
        campaign = await service.get(db_session, campaign_id)
        if not is_htmx(request):
            return _done(campaign)
        read = await service.read(db_session, campaign)
        return page(
            request,
            "campaigns/_sending",
            title="Sending",
            campaign=read,
            progress=progress_of(read),
            send_errors={},
        )
