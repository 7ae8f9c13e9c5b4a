"""Sending a campaign from ``/app``: send now, schedule, pause, resume, cancel,
and the progress bar the composer polls while workers send.

Each action is the JSON API's (service.campaigns.service, then the same
commit-then-queue start as POST /api/v1/campaigns/{id}/send); a refusal (a
campaign in the wrong status, no queue) re-shows the composer with the reason.

Sending and scheduling take a second look first (service.campaigns.confirmation):
``GET …/send`` and ``GET …/schedule?send_at=`` show the channel, the eligible
count and the excluded counts by reason, with a form carrying the signed
confirmation; the POST without it is refused (400), and with one the campaign
or its audience outgrew is answered by the confirmation page again (409).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock, i18n
from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.campaigns import confirmation, service
from service.campaigns.confirmation import Stale, Unconfirmed
from service.campaigns.controllers import start_sending
from service.campaigns.schemas import CampaignUpdate
from service.errors import DomainError, NotFound
from service.i18n import _
from service.models import Campaign
from service.models.enums import CampaignChannel
from service.tokens import TokenSigner
from service.web import messages
from service.web.campaign_stats import (
    BASE,
    READ,
    Session,
    StaffRequest,
    explain,
    is_htmx,
    not_found,
    progress_of,
    settings_of,
)
from service.web.campaigns import composer
from service.web.render import page
from service.web.session import redirect, verified_form

SEND = [requires(Permission.CAMPAIGNS_SEND)]
SEND_AT = "send_at"
CONFIRMATION = "confirmation"
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


def _signer(request: StaffRequest) -> TokenSigner:
    signer: TokenSigner = request.app.state.signer
    return signer


def _send_at_of(request: StaffRequest, value: object) -> tuple[datetime | None, str]:
    """The schedule field's time, or None and what is wrong with it."""
    send_at = _local_time(value) if isinstance(value, str) else None
    with i18n.use(request.user.language):
        if send_at is None:
            return None, _("Give a date and a time, e.g. 2026-12-01 09:00.")
        if send_at <= clock.now():
            return None, _("Choose a time in the future, or use Send now.")
    return send_at, ""


def _why(request: StaffRequest, exc: Unconfirmed | Stale) -> str:
    """A refused confirmation, in the member's words."""
    with i18n.use(request.user.language):
        return _WHY[exc.why]()


_WHY = {
    "missing": lambda: _("Nothing was sent: confirm the numbers on the confirmation page first."),
    "foreign": lambda: _(
        "Nothing was sent: that confirmation was for another campaign, person or time."
    ),
    "expired": lambda: _("Your confirmation has expired. Look at the numbers again and confirm."),
    "campaign": lambda: _(
        "The campaign has changed since you confirmed. Look at it again and confirm."
    ),
    "audience": lambda: _(
        "Who the campaign reaches has changed since you confirmed. "
        "Look at the new numbers and confirm again."
    ),
}


def channel_words(channel: CampaignChannel) -> str:
    return {
        CampaignChannel.EMAIL: _("email"),
        CampaignChannel.SMS: _("SMS (text message)"),
        CampaignChannel.PHONE: _("phone"),
    }[channel]


async def _second_look(
    request: StaffRequest,
    db_session: AsyncSession,
    campaign: Campaign,
    *,
    send_at: datetime | None,
    send_at_field: str = "",
    status: int = 200,
    problem: str = "",
) -> Response[str]:
    """The confirmation page: what will happen, and the form that makes it so."""
    look = await confirmation.look(
        db_session,
        campaign=campaign,
        settings=settings_of(request),
        signer=_signer(request),
        user_id=request.user.user_id,
        send_at=send_at,
    )
    with i18n.use(request.user.language):
        title = (_("Send %(name)s?") if send_at is None else _("Schedule %(name)s?")) % {
            "name": campaign.name
        }
        channel = channel_words(campaign.channel)
    reasons = [
        (reason, count, explain(reason, campaign.channel))
        for reason, count in sorted(look.audience.excluded.items(), key=lambda item: -item[1])
    ]
    return page(
        request,
        "campaigns/confirm",
        title=title,
        status=status,
        campaign=await service.read(db_session, campaign),
        look=look,
        channel=channel,
        reasons=reasons,
        when=send_at.astimezone(clock.LOCAL_ZONE) if send_at else None,
        send_at_field=send_at_field,
        confirmation_field=CONFIRMATION,
        problem=problem,
    )


async def _confirmed(
    request: StaffRequest,
    db_session: AsyncSession,
    campaign: Campaign,
    form: dict[str, Any],
    *,
    send_at: datetime | None,
    send_at_field: str = "",
) -> Response[str] | None:
    """None when the form carries a valid, current confirmation; otherwise the
    answer: the composer saying why (400), or the confirmation page again with
    today's numbers (409)."""
    token = form.get(CONFIRMATION)
    try:
        await confirmation.check(
            db_session,
            campaign=campaign,
            settings=settings_of(request),
            signer=_signer(request),
            user_id=request.user.user_id,
            token=token if isinstance(token, str) else "",
            send_at=send_at,
        )
    except Stale as exc:
        return await _second_look(
            request,
            db_session,
            campaign,
            send_at=send_at,
            send_at_field=send_at_field,
            status=409,
            problem=_why(request, exc),
        )
    except Unconfirmed as exc:
        assert campaign.id is not None
        return await _refused(request, db_session, campaign.id, _why(request, exc), status=400)
    return None


class SendingPages(Controller):
    path = BASE
    include_in_schema = False
    exception_handlers = {NotFound: not_found}

    @get("/{campaign_id:int}/send", guards=SEND)
    async def confirm_send_now(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        """The second look before sending now."""
        campaign = await service.get(db_session, campaign_id)
        try:
            return await _second_look(request, db_session, campaign, send_at=None)
        except DomainError as exc:
            return await _refused(
                request, db_session, campaign_id, messages.refusal(exc), status=exc.status_code
            )

    @post("/{campaign_id:int}/send", guards=SEND, status_code=200)
    async def send_now(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        form = await verified_form(request)
        campaign = await service.get(db_session, campaign_id)
        try:
            refused = await _confirmed(request, db_session, campaign, form, send_at=None)
            if refused is not None:
                return refused
            # "Now" means now, even if a send time was set through the API.
            if campaign.send_at is not None:
                data = CampaignUpdate(send_at=None)
                campaign = await service.update_draft(db_session, campaign=campaign, data=data)
            campaign = await service.request_send(db_session, campaign=campaign)
            trail.note(db_session, request, action="campaign.send", status_code=303)
            await start_sending(request, db_session, campaign)
        except DomainError as exc:
            return await _refused(
                request, db_session, campaign_id, messages.refusal(exc), status=exc.status_code
            )
        return _done(campaign)

    @get("/{campaign_id:int}/schedule", guards=SEND)
    async def confirm_schedule(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        """The second look before scheduling (the form is a GET: a time only)."""
        campaign = await service.get(db_session, campaign_id)
        value = request.query_params.get(SEND_AT, "")
        send_at, problem = _send_at_of(request, value)
        if send_at is None:
            return await _refused(
                request, db_session, campaign_id, problem, status=422, field=SEND_AT
            )
        try:
            return await _second_look(
                request, db_session, campaign, send_at=send_at, send_at_field=value
            )
        except DomainError as exc:
            return await _refused(
                request, db_session, campaign_id, messages.refusal(exc), status=exc.status_code
            )

    @post("/{campaign_id:int}/schedule", guards=SEND, status_code=200)
    async def schedule(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        form = await verified_form(request)
        campaign = await service.get(db_session, campaign_id)
        value = form.get(SEND_AT)
        send_at, problem = _send_at_of(request, value)
        if send_at is None:
            return await _refused(
                request, db_session, campaign_id, problem, status=422, field=SEND_AT
            )
        try:
            refused = await _confirmed(
                request, db_session, campaign, form, send_at=send_at, send_at_field=str(value)
            )
            if refused is not None:
                return refused
            data = CampaignUpdate(send_at=send_at)
            campaign = await service.update_draft(db_session, campaign=campaign, data=data)
            campaign = await service.request_send(db_session, campaign=campaign)
            trail.note(db_session, request, action="campaign.send", status_code=303)
            await start_sending(request, db_session, campaign)
        except DomainError as exc:
            return await _refused(
                request, db_session, campaign_id, messages.refusal(exc), status=exc.status_code
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
                request, db_session, campaign_id, messages.refusal(exc), status=exc.status_code
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
                request, db_session, campaign_id, messages.refusal(exc), status=exc.status_code
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
                request, db_session, campaign_id, messages.refusal(exc), status=exc.status_code
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
            title=_("Sending"),
            campaign=read,
            progress=progress_of(read),
            send_errors={},
        )
