"""Campaigns: compose, read the audience, preview, and move through their statuses.

draft → scheduled (a future ``send_at``) → sending → done, with paused and
cancelled on the side. Sending itself is the workers' (``sending.py``); this
module only decides and records what should happen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.campaigns import authoring, queries, sms
from service.campaigns.schemas import (
    Audience,
    AudienceMember,
    CampaignCreate,
    CampaignRead,
    CampaignUpdate,
    Counts,
    Preview,
    SmsContentIn,
    Translation,
    content_problem,
    missing_content,
)
from service.consent import service as consent_service
from service.consent.queries import FrequencyCap, Gate, GateContext, Segment
from service.db import run
from service.errors import Conflict, InvalidInput, NotFound
from service.labels import N_
from service.mail.render import (
    CampaignRenderer,
    Content,
    Controller,
    Links,
    TemplateProblem,
    check_templates,
)
from service.mail.sandbox import DEFAULT_LIMITS, Limits
from service.mail.templates import check_sms_templates
from service.mail.views import Recipient
from service.models import Campaign, CampaignRecipient, Contact
from service.models.base import utcnow
from service.models.enums import (
    BodyFormat,
    CampaignChannel,
    CampaignStatus,
    Channel,
    Reason,
    RecipientStatus,
)
from service.settings import Settings

EDITABLE = frozenset({CampaignStatus.DRAFT})
PAUSABLE = frozenset({CampaignStatus.SCHEDULED, CampaignStatus.SENDING})
CANCELLABLE = frozenset(
    {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED}
)


def gate_for(campaign: Campaign, settings: Settings, *, today: date, now: datetime) -> Gate:
    """The consent gate as this campaign applies it: its channel, purpose,
    segment and soft opt-in flag, and the frequency cap of the settings."""
    segment = campaign.segment or {}
    cap = None
    if settings.frequency_cap_messages > 0:
        cap = FrequencyCap(
            limit=settings.frequency_cap_messages,
            since=now - timedelta(days=settings.frequency_cap_days),
        )
    return Gate(
        GateContext(
            channel=Channel(campaign.channel.value),
            purpose=campaign.purpose,
            today=today,
            similar_products=campaign.similar_products,
            segment=Segment(
                languages=tuple(segment.get("languages", ())),
                tags=tuple(segment.get("tags", ())),
                contact_types=tuple(segment.get("contact_types", ())),
            ),
            frequency_cap=cap,
        )
    )


def contents(campaign: Campaign) -> tuple[Content, dict[str, Content]]:
    default = Content(campaign.subject, campaign.body_html, campaign.body_text)
    translations = {
        lang: Content(body["subject"], body["body_html"], body["body_text"])
        for lang, body in (campaign.translations or {}).items()
    }
    return default, translations


def renderer_for(campaign: Campaign, settings: Settings) -> CampaignRenderer:
    """The campaign compiled for sending, within the template limits of the
    settings. CPU-bound (it test-renders the templates): in a request, build
    it in a worker thread, as preview does."""
    return _renderer_factory(campaign, settings)()


def _renderer_factory(campaign: Campaign, settings: Settings) -> Callable[[], CampaignRenderer]:
    # Reads the row now, so that the renderer can be built in another thread.
    assert campaign.id is not None
    default, translations = contents(campaign)
    return partial(
        CampaignRenderer,
        campaign_id=campaign.id,
        campaign_name=campaign.name,
        default=default,
        translations=translations,
        controller=Controller.from_settings(settings),
        limits=Limits.from_settings(settings),
        in_layout=campaign.layout_id is not None,
    )


async def _check(campaign: Campaign, limits: Limits) -> None:
    """Refuse templates that would fail at send time (422 naming field and line).

    The check renders the templates, which can take up to the CPU limit: it
    runs in a worker thread, so the event loop goes on answering requests."""
    if campaign.channel is CampaignChannel.SMS:
        text, texts = sms.texts(campaign)
        problems = await asyncio.to_thread(check_sms_templates, text, texts, limits)
    elif campaign.channel is CampaignChannel.EMAIL:
        default, translations = contents(campaign)
        problems = await asyncio.to_thread(check_templates, default, translations, limits)
    else:
        return
    if problems:
        raise InvalidInput(N_("a template cannot be rendered"), fields=problem_fields(problems))


def problem_fields(problems: Sequence[TemplateProblem]) -> dict[str, str]:
    """Template problems as a 422's per-field messages ("line 2: …")."""
    fields: dict[str, str] = {}
    for problem in problems:
        text = f"line {problem.line}: {problem.message}" if problem.line else problem.message
        fields[problem.field] = (
            f"{fields[problem.field]}; {text}" if problem.field in fields else text
        )
    return fields


def _translations(values: Mapping[Any, Translation]) -> dict[str, object]:
    return {str(lang): body.model_dump() for lang, body in values.items()}


def _check_kind(campaign: Campaign, data: CampaignUpdate) -> None:
    """An edit keeps to the campaign's channel: an SMS has a text and no
    subject or HTML; its translations have the text alone, an email's all three."""
    problem = content_problem(
        campaign.channel, campaign.subject, campaign.body_html, campaign.body_text
    )
    if problem is not None:
        raise InvalidInput(problem, fields={"body": problem})
    if data.translations is None:
        return
    sms = campaign.channel is CampaignChannel.SMS
    wrong = [
        str(lang)
        for lang, body in data.translations.items()
        if isinstance(body, SmsContentIn) is not sms
    ]
    if wrong:
        kind = "body_text only" if sms else "subject, body_html and body_text"
        raise InvalidInput(
            f"a {campaign.channel.value} translation has {kind}",
            fields={f"translations.{lang}": f"needs {kind}" for lang in wrong},
        )


# PATCH fields whose null is a value of their own, not "".
_NULLABLE = frozenset({"send_at", "layout_id"})
_NULL_MEANS_DEFAULT: dict[str, object] = {"body_format": BodyFormat.HTML, "text_written": False}


async def create(
    session: AsyncSession,
    *,
    data: CampaignCreate,
    user_id: int | None,
    limits: Limits = DEFAULT_LIMITS,
) -> Campaign:
    text_written = data.text_written
    if text_written is None:
        text_written = bool(data.body_text)
    campaign = Campaign(
        **data.model_dump(exclude={"translations", "segment", "text_written"}),
        text_written=text_written,
        translations=_translations(data.translations),
        segment=data.segment.model_dump(mode="json"),
        created_by_user_id=user_id,
    )
    await authoring.author(session, campaign)
    await _check(campaign, limits)
    session.add(campaign)
    await session.flush()
    return campaign


async def get(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign with id {campaign_id}")
    return campaign


async def list_(session: AsyncSession, *, limit: int, offset: int) -> Sequence[Campaign]:
    rows = await session.exec(
        select(Campaign).order_by(col(Campaign.id).desc()).limit(limit).offset(offset)
    )
    return rows.all()


async def update_draft(
    session: AsyncSession,
    *,
    campaign: Campaign,
    data: CampaignUpdate,
    limits: Limits = DEFAULT_LIMITS,
) -> Campaign:
    _require(campaign, EDITABLE, "edited")
    changes = data.model_dump(exclude_unset=True, exclude={"translations", "segment"})
    if "name" in changes and changes["name"] is None:
        raise InvalidInput(N_("name cannot be cleared"), fields={"name": N_("may not be null")})
    for name, value in changes.items():
        if value is None and name in _NULL_MEANS_DEFAULT:
            value = _NULL_MEANS_DEFAULT[name]
        setattr(campaign, name, value if value is not None or name in _NULLABLE else "")
    _check_kind(campaign, data)
    if data.translations is not None:
        campaign.translations = _translations(data.translations)
    if data.segment is not None:
        campaign.segment = data.segment.model_dump(mode="json")
    if campaign.channel is CampaignChannel.EMAIL:
        missing = missing_content(campaign)
        if missing:
            raise InvalidInput(
                N_("an email campaign needs a subject and a body"),
                fields={f: "may not be empty" for f in missing},
            )
    await authoring.author(session, campaign)
    await _check(campaign, limits)
    campaign.updated_at = utcnow()
    session.add(campaign)
    await session.flush()
    return campaign


async def read(session: AsyncSession, campaign: Campaign) -> CampaignRead:
    assert campaign.id is not None
    counts = await queries.counts(session, campaign.id)
    complaints = await queries.complaints(session, campaign.id) if counts.get("sent") else 0
    return CampaignRead(
        **campaign.model_dump(),
        counts=Counts(**{k: v for k, v in counts.items() if k in Counts.model_fields}),
        failures=await queries.failures(session, campaign.id) if counts.get("failed") else {},
        complaints=complaints,
        complaint_rate=complaints / counts["sent"] if complaints else 0.0,
        bounce_classes=await queries.bounce_classes(session, campaign.id)
        if counts.get("sent") or counts.get("failed")
        else {},
    )


async def audience(session: AsyncSession, *, campaign: Campaign, settings: Settings) -> Audience:
    gate = gate_for(campaign, settings, today=clock.today(), now=clock.now())
    total, eligible, excluded = await queries.audience(session, gate)
    return Audience(total=total, eligible=eligible, excluded=excluded)


async def audience_members(
    session: AsyncSession,
    *,
    campaign: Campaign,
    settings: Settings,
    reason: Reason | None,
    limit: int,
    offset: int,
) -> list[AudienceMember]:
    """The people behind one count of ``audience``: those left out for
    ``reason``, or the eligible when it is None; in id order, a page at a time.
    Empty for a reason this campaign's gate never gives (Robinson for email)."""
    gate = gate_for(campaign, settings, today=clock.today(), now=clock.now())
    rows = await queries.audience_members(session, gate, reason=reason, limit=limit, offset=offset)
    return [AudienceMember(id=contact_id, full_name=name) for contact_id, name in rows]


async def preview(
    session: AsyncSession, *, campaign: Campaign, contact: Contact, settings: Settings
) -> Preview:
    """The message as this contact would get it, and whether they would get it at all."""
    if campaign.channel is CampaignChannel.PHONE:
        raise Conflict(N_("only email campaigns have a message to preview"), reason="not_email")
    recipient = recipient_of(contact)
    gate = gate_for(campaign, settings, today=clock.today(), now=clock.now())
    if campaign.channel is CampaignChannel.SMS:
        make_sms = sms.renderer_factory(campaign, settings)
        url = sms.sample_unsubscribe_url(settings, campaign)
        version, text = await asyncio.to_thread(lambda: make_sms().render(recipient, url))
        eligibility = await consent_service.eligibility(
            session, contact=contact, context=gate.context
        )
        return Preview(
            language=version,
            subject="",
            html="",
            text=text,
            eligible=eligibility.eligible,
            reasons=eligibility.reasons,
            sms=sms.size(text),
        )
    make_renderer = _renderer_factory(campaign, settings)
    links = Links(unsubscribe_url=f"{settings.public_url}/u/PREVIEW")
    rendered = await asyncio.to_thread(lambda: make_renderer().render(recipient, links))
    eligibility = await consent_service.eligibility(session, contact=contact, context=gate.context)
    return Preview(
        language=rendered.language,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        eligible=eligibility.eligible,
        reasons=eligibility.reasons,
    )


def recipient_of(contact: Contact) -> Recipient:
    return Recipient(
        full_name=contact.full_name,
        nickname=contact.nickname,
        language=contact.language.value,
        gender=contact.gender.value,
        employer=contact.employer,
        position=contact.position,
        city=contact.city,
    )


# -- status transitions ---------------------------------------------------------


def _require(campaign: Campaign, allowed: frozenset[CampaignStatus], verb: str) -> None:
    if campaign.status not in allowed:
        raise Conflict(
            f"a {campaign.status.value} campaign cannot be {verb}", reason="wrong_status"
        )


async def request_send(session: AsyncSession, *, campaign: Campaign) -> Campaign:
    """Schedule the campaign, or start it now. The caller commits, then queues
    the start job (``sending.start_job``)."""
    if campaign.channel is CampaignChannel.PHONE:
        raise Conflict(N_("a phone campaign is not sent; build its call list"), reason="not_email")
    _require(campaign, EDITABLE, "sent")
    now = clock.now()
    if campaign.send_at is not None and campaign.send_at > now:
        campaign.status = CampaignStatus.SCHEDULED
    else:
        campaign.status = CampaignStatus.SENDING
        campaign.started_at = now
    campaign.updated_at = now
    session.add(campaign)
    await session.flush()
    return campaign


async def pause(session: AsyncSession, *, campaign: Campaign, reason: str) -> Campaign:
    _require(campaign, PAUSABLE, "paused")
    campaign.status = CampaignStatus.PAUSED
    campaign.pause_reason = reason
    campaign.updated_at = utcnow()
    session.add(campaign)
    await session.flush()
    return campaign


async def resume(session: AsyncSession, *, campaign: Campaign) -> Campaign:
    _require(campaign, frozenset({CampaignStatus.PAUSED}), "resumed")
    now = clock.now()
    if campaign.list_built_at is None and campaign.send_at is not None and campaign.send_at > now:
        campaign.status = CampaignStatus.SCHEDULED
    else:
        campaign.status = CampaignStatus.SENDING
        campaign.started_at = campaign.started_at or now
    campaign.pause_reason = None
    campaign.updated_at = now
    session.add(campaign)
    await session.flush()
    return campaign


async def cancel(session: AsyncSession, *, campaign: Campaign) -> Campaign:
    """Stop for good: recipients not yet mailed are skipped as cancelled."""
    _require(campaign, CANCELLABLE, "cancelled")
    now = utcnow()
    campaign.status = CampaignStatus.CANCELLED
    campaign.finished_at = now
    campaign.updated_at = now
    session.add(campaign)
    await run(
        session,
        update(CampaignRecipient)
        .where(
            col(CampaignRecipient.campaign_id) == campaign.id,
            col(CampaignRecipient.status) == RecipientStatus.QUEUED.value,
        )
        .values(status=RecipientStatus.SKIPPED.value, reason="cancelled", updated_at=now),
    )
    await session.flush()
    return campaign


# -- authoring helpers ------------------------------------------------------------


async def duplicate(session: AsyncSession, *, campaign: Campaign, user_id: int | None) -> Campaign:
    """A new draft with the campaign's content, segment and layout: not its
    send list, schedule, status or history."""
    copy = Campaign(
        name=_copy_name(campaign.name),
        channel=campaign.channel,
        purpose=campaign.purpose,
        subject=campaign.subject,
        body_html=campaign.body_html,
        body_text=campaign.body_text,
        body_format=campaign.body_format,
        body_source=campaign.body_source,
        text_written=campaign.text_written,
        layout_id=campaign.layout_id,
        translations=dict(campaign.translations or {}),
        segment=dict(campaign.segment or {}),
        similar_products=campaign.similar_products,
        created_by_user_id=user_id,
    )
    session.add(copy)
    await session.flush()
    return copy


def _copy_name(name: str) -> str:
    suffix = " (copy)"
    return name[: 200 - len(suffix)] + suffix


async def delete_draft(session: AsyncSession, *, campaign: Campaign) -> None:
    """Delete a draft for good; a campaign that went further stays as proof."""
    _require(campaign, EDITABLE, "deleted")
    await session.delete(campaign)
    await session.flush()
