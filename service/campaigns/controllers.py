"""HTTP routes for campaigns: compose, audience, preview, send, pause, call lists."""

from __future__ import annotations

from typing import Annotated, Any

from arq.connections import ArqRedis
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from service import queue
from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.campaigns import call_lists, layouts, proof, service, sms, statistics
from service.campaigns.layouts import LayoutIn, LayoutUpdate
from service.campaigns.schemas import (
    Audience,
    AudienceMembers,
    CallListRead,
    CampaignCreate,
    CampaignRead,
    CampaignUpdate,
    LayoutRead,
    Preview,
    PreviewRequest,
    ProofRequest,
    SmsSizes,
)
from service.campaigns.statistics import Statistics
from service.contacts import service as contacts_service
from service.contacts.schemas import ELIGIBLE
from service.errors import DomainError, InvalidInput, NotFound
from service.mail.render import TemplateError
from service.mail.sandbox import Limits
from service.models import Campaign
from service.models.enums import Reason
from service.settings import Settings

Session = NamedDependency[AsyncSession]
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
# Beyond a 64-bit integer the database refuses the OFFSET itself (a 5xx otherwise).
Offset = Annotated[int, QueryParameter(ge=0, le=2**63 - 1)]
StaffRequest = Request[Principal, Any, State]
READ = [requires(Permission.CAMPAIGNS_READ)]
WRITE = [requires(Permission.CAMPAIGNS_WRITE)]
SEND = [requires(Permission.CAMPAIGNS_SEND)]
STATS = [requires(Permission.STATISTICS_READ)]
# Names of people behind an audience count. One permission per route (the
# route table's rule): every role with campaigns:read also reads contacts
# (service.auth.permissions; tests/integration/campaigns/test_audience_members.py).
PEOPLE = READ


class QueueUnavailable(DomainError):
    status_code = 503


def _settings(request: StaffRequest) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _limits(request: StaffRequest) -> Limits:
    return Limits.from_settings(_settings(request))


def _queue(request: StaffRequest) -> ArqRedis:
    redis: ArqRedis | None = request.app.state.queue
    if redis is None:
        raise QueueUnavailable("no queue is configured (CONSENTRY_REDIS_URL)")
    return redis


async def start_sending(
    request: StaffRequest, db_session: AsyncSession, campaign: Campaign
) -> None:
    """Commit the status change first, then queue the start: a job must never
    see a campaign that is not yet marked as sending. Should queueing fail,
    the worker's sweep finds the campaign and starts it."""
    assert campaign.id is not None
    await db_session.commit()
    defer = campaign.send_at if campaign.status.value == "scheduled" else None
    await queue.enqueue(
        _queue(request),
        queue.START_CAMPAIGN,
        campaign.id,
        job_id=queue.start_campaign_job_id(campaign.id, defer),
        defer_until=defer,
    )


class CampaignController(Controller):
    path = "/campaigns"
    tags = ["campaigns"]

    @post("/", guards=WRITE, status_code=201)
    async def create_campaign(
        self, request: StaffRequest, db_session: Session, data: JSONBody[CampaignCreate]
    ) -> CampaignRead:
        """Compose a campaign (a draft). Templates are checked now: an error is a
        422 naming the field and the line."""
        campaign = await service.create(
            db_session, data=data, user_id=request.user.user_id, limits=_limits(request)
        )
        return await service.read(db_session, campaign)

    @get("/", guards=READ)
    async def list_campaigns(
        self, db_session: Session, limit: Limit = 50, offset: Offset = 0
    ) -> list[CampaignRead]:
        """Campaigns, newest first."""
        campaigns = await service.list_(db_session, limit=limit, offset=offset)
        return [await service.read(db_session, campaign) for campaign in campaigns]

    @get("/{campaign_id:int}", guards=READ)
    async def get_campaign(self, db_session: Session, campaign_id: FromPath[int]) -> CampaignRead:
        """A campaign with its status and counts (queued, sent, failed, skipped)."""
        return await service.read(db_session, await service.get(db_session, campaign_id))

    @patch("/{campaign_id:int}", guards=WRITE)
    async def update_campaign(
        self,
        request: StaffRequest,
        db_session: Session,
        campaign_id: FromPath[int],
        data: JSONBody[CampaignUpdate],
    ) -> CampaignRead:
        """Edit a draft. Templates are checked again, as when composing."""
        campaign = await service.get(db_session, campaign_id)
        campaign = await service.update_draft(
            db_session, campaign=campaign, data=data, limits=_limits(request)
        )
        return await service.read(db_session, campaign)

    @delete("/{campaign_id:int}", guards=WRITE, status_code=204)
    async def delete_campaign(self, db_session: Session, campaign_id: FromPath[int]) -> None:
        """Delete a draft (409 for a campaign past draft: it stays as proof)."""
        campaign = await service.get(db_session, campaign_id)
        await service.delete_draft(db_session, campaign=campaign)

    @post("/{campaign_id:int}/duplicate", guards=WRITE, status_code=201)
    async def duplicate_campaign(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> CampaignRead:
        """A new draft with this campaign's content, segment and layout (not its send list)."""
        campaign = await service.get(db_session, campaign_id)
        copy = await service.duplicate(db_session, campaign=campaign, user_id=request.user.user_id)
        return await service.read(db_session, copy)

    @post(
        "/{campaign_id:int}/test-send",
        guards=WRITE,
        status_code=202,
        opt={"audit": "campaign.test_send"},
    )
    async def test_send(
        self,
        request: StaffRequest,
        db_session: Session,
        campaign_id: FromPath[int],
        data: JSONBody[ProofRequest],
    ) -> dict[str, str]:
        """Send one copy, "[Test]" before the subject, to the caller's own
        address, rendered for a sample contact in ``language``. Not counted,
        not tracked; recorded in the audit trail."""
        campaign = await service.get(db_session, campaign_id)
        await proof.send_proof(
            campaign=campaign,
            settings=_settings(request),
            to=request.user.email,
            language=data.language.value,
        )
        trail.annotate(db_session, campaign_id=campaign.id)
        return {"sent_to": request.user.email}

    @get("/{campaign_id:int}/audience", guards=READ)
    async def get_audience(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Audience:
        """Who would get this campaign now, and how many are left out for each reason."""
        campaign = await service.get(db_session, campaign_id)
        return await service.audience(db_session, campaign=campaign, settings=_settings(request))

    @get(
        "/{campaign_id:int}/audience/{reason:str}",
        guards=PEOPLE,
        opt={"audit": "campaign.audience_read"},
    )
    async def get_audience_members(
        self,
        request: StaffRequest,
        db_session: Session,
        campaign_id: FromPath[int],
        reason: FromPath[str],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> AudienceMembers:
        """The people behind one count of the audience: ``eligible``, or those
        left out for a reason code; id and name, in id order. 404 for a word
        that is neither. Every read is recorded, as any list of people."""
        campaign = await service.get(db_session, campaign_id)
        if reason != ELIGIBLE and reason not in set(Reason):
            raise NotFound(f"no audience reason of that name: {ELIGIBLE} or a reason code")
        members = await service.audience_members(
            db_session,
            campaign=campaign,
            settings=_settings(request),
            reason=None if reason == ELIGIBLE else Reason(reason),
            limit=limit + 1,
            offset=offset,
        )
        trail.annotate(db_session, audience_reason=reason, count=len(members[:limit]))
        return AudienceMembers(
            reason=reason,
            items=members[:limit],
            limit=limit,
            offset=offset,
            more=len(members) > limit,
        )

    @get("/{campaign_id:int}/statistics", guards=STATS)
    async def get_statistics(self, db_session: Session, campaign_id: FromPath[int]) -> Statistics:
        """Sent, opens and clicks (automated fetches left out), unique ones,
        click-through rate, unsubscribes and bounces, by browser, OS and hour."""
        campaign = await service.get(db_session, campaign_id)
        assert campaign.id is not None
        return await statistics.of_campaign(db_session, campaign.id)

    @get("/{campaign_id:int}/statistics.csv", guards=STATS, media_type="text/csv")
    async def get_statistics_csv(
        self, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[str]:
        """The same as CSV: section, key, value (opens), clicks."""
        campaign = await service.get(db_session, campaign_id)
        assert campaign.id is not None
        body = statistics.as_csv(await statistics.of_campaign(db_session, campaign.id))
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="campaign-{campaign.id}.csv"'},
        )

    @post("/{campaign_id:int}/preview", guards=READ, status_code=200)
    async def preview(
        self,
        request: StaffRequest,
        db_session: Session,
        campaign_id: FromPath[int],
        data: JSONBody[PreviewRequest],
    ) -> Preview:
        """The message as a chosen contact would see it, in their language, and
        whether the gate would let it through."""
        campaign = await service.get(db_session, campaign_id)
        contact = await contacts_service.get(db_session, data.contact_id)
        trail.annotate(db_session, contact_id=contact.id)
        try:
            return await service.preview(
                db_session, campaign=campaign, contact=contact, settings=_settings(request)
            )
        except TemplateError as exc:  # this contact's data, or a limit (422, not 500)
            raise InvalidInput(
                "the message cannot be rendered for this contact",
                fields=service.problem_fields(exc.problems),
            ) from exc

    @get("/{campaign_id:int}/sms-segments", guards=READ)
    async def get_sms_segments(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> SmsSizes:
        """An SMS campaign's versions as a sample contact gets them, opt-out
        line included: GSM-7 or UCS-2, and how many segments each is sent in
        (160/153 GSM-7 characters, 70/67 UCS-2). 409 for another channel."""
        campaign = await service.get(db_session, campaign_id)
        try:
            return await sms.sizes(campaign, _settings(request))
        except TemplateError as exc:
            raise InvalidInput(
                "the text cannot be rendered", fields=service.problem_fields(exc.problems)
            ) from exc

    @post("/{campaign_id:int}/send", guards=SEND, status_code=202)
    async def send(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> CampaignRead:
        """Send an email or SMS campaign now, or at its ``send_at``. Workers do the sending."""
        campaign = await service.get(db_session, campaign_id)
        campaign = await service.request_send(db_session, campaign=campaign)
        await start_sending(request, db_session, campaign)
        return await service.read(db_session, campaign)

    @post("/{campaign_id:int}/pause", guards=SEND, status_code=200)
    async def pause(self, db_session: Session, campaign_id: FromPath[int]) -> CampaignRead:
        """Stop sending after the messages in flight; resume continues where it stopped."""
        campaign = await service.get(db_session, campaign_id)
        campaign = await service.pause(db_session, campaign=campaign, reason="paused by staff")
        return await service.read(db_session, campaign)

    @post("/{campaign_id:int}/resume", guards=SEND, status_code=202)
    async def resume(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> CampaignRead:
        campaign = await service.get(db_session, campaign_id)
        campaign = await service.resume(db_session, campaign=campaign)
        await start_sending(request, db_session, campaign)
        return await service.read(db_session, campaign)

    @post("/{campaign_id:int}/cancel", guards=SEND, status_code=200)
    async def cancel(self, db_session: Session, campaign_id: FromPath[int]) -> CampaignRead:
        """Stop for good; recipients not yet mailed are skipped as cancelled."""
        campaign = await service.get(db_session, campaign_id)
        campaign = await service.cancel(db_session, campaign=campaign)
        return await service.read(db_session, campaign)

    @post(
        "/{campaign_id:int}/call-list",
        guards=SEND,
        status_code=202,
    )
    async def build_call_list(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> CallListRead:
        """Build the call list of a phone campaign (a worker does it)."""
        campaign = await service.get(db_session, campaign_id)
        call_list = await call_lists.request(
            db_session, campaign=campaign, user_id=request.user.user_id, settings=_settings(request)
        )
        assert call_list.id is not None
        await db_session.commit()
        await queue.enqueue(
            _queue(request),
            queue.BUILD_CALL_LIST,
            call_list.id,
            job_id=queue.call_list_job_id(call_list.id),
        )
        return CallListRead.model_validate(call_list, from_attributes=True)

    @get("/{campaign_id:int}/call-list", guards=READ)
    async def get_call_list(self, db_session: Session, campaign_id: FromPath[int]) -> CallListRead:
        """The newest call list's status, size, expiry and audience at build."""
        campaign = await service.get(db_session, campaign_id)
        call_list = await call_lists.latest(db_session, campaign=campaign)
        return CallListRead.model_validate(call_list, from_attributes=True)

    @get(
        "/{campaign_id:int}/call-list.csv",
        guards=[requires(Permission.CALL_LISTS_DOWNLOAD)],
        media_type="text/csv",
        opt={"audit": "call_list.download"},
    )
    async def download_call_list(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[str]:
        """Name, phone and language of everyone who may be called. Every
        download is recorded."""
        campaign = await service.get(db_session, campaign_id)
        call_list, body = await call_lists.download(
            db_session, campaign=campaign, user_id=request.user.user_id
        )
        # A read of many people at once: which list and how many, not who.
        trail.annotate(db_session, call_list_id=call_list.id, entries=call_list.entry_count)
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="call-list-{call_list.id}.csv"',
                "Cache-Control": "no-store",
            },
        )


class LayoutController(Controller):
    path = "/layouts"
    tags = ["campaigns"]

    @get("/", guards=READ)
    async def list_layouts(self, db_session: Session) -> list[LayoutRead]:
        """Saved layouts by name."""
        return [LayoutRead.of(layout) for layout in await layouts.list_(db_session)]

    @post("/", guards=WRITE, status_code=201)
    async def create_layout(
        self, request: StaffRequest, db_session: Session, data: JSONBody[LayoutIn]
    ) -> LayoutRead:
        """Save a layout written in MJML; it is compiled now (an MJML error, or
        no ``{{ content }}``, is a 422 on the field ``mjml``)."""
        layout = await layouts.create(db_session, data=data, user_id=request.user.user_id)
        return LayoutRead.of(layout)

    @post("/default", guards=WRITE, status_code=200)
    async def default_layout(self, request: StaffRequest, db_session: Session) -> LayoutRead:
        """The responsive default layout, added on first use."""
        layout = await layouts.ensure_default(db_session, user_id=request.user.user_id)
        return LayoutRead.of(layout)

    @get("/{layout_id:int}", guards=READ)
    async def get_layout(self, db_session: Session, layout_id: FromPath[int]) -> LayoutRead:
        return LayoutRead.of(await layouts.get(db_session, layout_id))

    @patch("/{layout_id:int}", guards=WRITE)
    async def update_layout(
        self, db_session: Session, layout_id: FromPath[int], data: JSONBody[LayoutUpdate]
    ) -> LayoutRead:
        """Rename or rewrite a layout; the drafts in it are made again."""
        layout = await layouts.get(db_session, layout_id)
        return LayoutRead.of(await layouts.update(db_session, layout=layout, data=data))

    @delete("/{layout_id:int}", guards=WRITE, status_code=204)
    async def delete_layout(self, db_session: Session, layout_id: FromPath[int]) -> None:
        """Delete a layout no campaign uses (409 otherwise)."""
        await layouts.delete(db_session, layout=await layouts.get(db_session, layout_id))
