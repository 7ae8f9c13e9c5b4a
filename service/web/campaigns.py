"""The campaign pages of ``/app``: the list, the composer with its live preview
and audience panel, and the people behind each audience count.

Every step goes through the same service functions as the JSON API
(service.campaigns.service); these handlers only turn forms into its schemas
and its answers and errors into pages. Sending is in campaign_send.py; the
audience panel's routes, the progress and the statistics in campaign_stats.py.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from service import i18n
from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.campaigns import authoring, layouts, proof, service, sms
from service.campaigns.schemas import (
    AudienceMember,
    CampaignCreate,
    CampaignUpdate,
    Preview,
    SmsSizes,
)
from service.contacts import service as contacts_service
from service.errors import Conflict, DomainError, InvalidInput, NotFound
from service.i18n import _
from service.mail.render import TemplateError
from service.mail.sandbox import Limits
from service.models import Campaign, Contact
from service.models.enums import CampaignChannel, CampaignStatus, ContactType, Language
from service.web import messages
from service.web import preview_frames as frames
from service.web.campaign_stats import (
    BASE,
    PAGE_SIZE,
    PEOPLE,
    READ,
    PageNumber,
    Session,
    StaffRequest,
    audience_values,
    explain,
    is_htmx,
    not_found,
    progress_of,
    settings_of,
)
from service.web.render import Verbatim, page
from service.web.session import redirect, verified_form

WRITE = [requires(Permission.CAMPAIGNS_WRITE)]
PICKER_SIZE = 10  # the first eligible contacts offered for the preview
CONTENT = ("subject", "body_html", "body_text")
_TAG_SPLIT = re.compile(r"[\s,]+")
_PREVIEW_QUERY = frozenset({"contact_id", "preview_contact_id", "preview_language"})


def language_names() -> dict[str, str]:
    """The contacts' languages by code, named in the language of the moment."""
    return {lang.value: i18n.label(Language, lang) for lang in Language}


# -- forms ----------------------------------------------------------------------


def form_of(campaign: Campaign) -> dict[str, str]:
    """A saved campaign as the composer form's fields (the names the form posts)."""
    form = {
        "name": campaign.name,
        "purpose": campaign.purpose.value,
        **{field: getattr(campaign, field) for field in CONTENT},
        "body_format": campaign.body_format.value,
        "body_source": campaign.body_source,
        "layout_id": "" if campaign.layout_id is None else str(campaign.layout_id),
    }
    if campaign.text_written:
        form["text_written"] = "on"
    for lang, body in (campaign.translations or {}).items():
        # An SMS's versions have the text alone; one made in a layout is
        # edited as written (body_source).
        form.update({f"translations.{lang}.{field}": body.get(field, "") for field in CONTENT})
        if body.get("body_source"):
            form[f"translations.{lang}.body_html"] = body["body_source"]
    segment = campaign.segment or {}
    form.update({f"segment.languages.{lang}": "on" for lang in segment.get("languages", ())})
    form.update(
        {f"segment.contact_types.{kind}": "on" for kind in segment.get("contact_types", ())}
    )
    form["segment.tags"] = ", ".join(segment.get("tags", ()))
    if campaign.similar_products:
        form["similar_products"] = "on"
    return form


def _text(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def parse(form: dict[str, Any], *, channel: str) -> CampaignCreate:
    """The form as the API's body. Checkboxes have a name each (segment.languages.fi):
    a posted form keeps one value per name. An SMS has a text alone: the
    email fields of the new-campaign form are not read for one."""
    fields = ("body_text",) if channel == "sms" else CONTENT
    translations = {
        lang.value: {field: _text(form, f"translations.{lang}.{field}") for field in fields}
        for lang in Language
        if any(_text(form, f"translations.{lang}.{field}").strip() for field in fields)
    }
    tags = [tag for tag in _TAG_SPLIT.split(_text(form, "segment.tags")) if tag]
    authoring: dict[str, Any] = {}
    if channel == "email" and "body_format" in form:
        layout = _text(form, "layout_id")
        authoring = {
            "body_format": _text(form, "body_format") or "html",
            "body_source": _text(form, "body_source"),
            "layout_id": int(layout) if layout.isdigit() and len(layout) < 12 else None,
        }
        if "text_choice" in form:  # the box is on the form: unticked means "make it"
            authoring["text_written"] = "text_written" in form
    return CampaignCreate.model_validate(
        {
            "name": _text(form, "name"),
            "channel": channel,
            "purpose": _text(form, "purpose") or "direct_marketing",
            **{field: _text(form, field) for field in fields},
            "translations": translations,
            "segment": {
                "languages": [x.value for x in Language if f"segment.languages.{x}" in form],
                "tags": tags,
                "contact_types": [
                    x.value for x in ContactType if f"segment.contact_types.{x}" in form
                ],
            },
            "similar_products": "similar_products" in form,
            **authoring,
        }
    )


def _field_of(loc: tuple[int | str, ...]) -> str:
    """A schema error's location as the form's field name ("" for the whole form)."""
    key = ".".join(str(part) for part in loc if not isinstance(part, int))
    if key.startswith("translations."):  # a whole language version: its subject field
        key = key if key.count(".") == 2 else f"{key}.subject"
    return key


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Pydantic's errors keyed by the form's field names, in the page's language."""
    return messages.field_errors(exc, key=_field_of, join=True)


# -- the composer ---------------------------------------------------------------


async def composer(
    request: StaffRequest,
    db_session: AsyncSession,
    campaign: Campaign,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    preview: dict[str, Any] | None = None,
    **values: Any,
) -> Response[str]:
    """The composer page: the form (or the campaign, read-only), the preview,
    the audience panel and the sending panel."""
    settings = settings_of(request)
    values.setdefault("send_errors", {})
    read = await service.read(db_session, campaign)
    picker: list[AudienceMember] = []
    if request.user.can(Permission.CONTACTS_READ):
        picker = await service.audience_members(
            db_session,
            campaign=campaign,
            settings=settings,
            reason=None,
            limit=PICKER_SIZE,
            offset=0,
        )
        if picker and "result" not in (preview or {}):
            # Names of people are on the page: recorded, as any list of people.
            trail.note(db_session, request, action="campaign.audience_read", status_code=status)
            trail.annotate(db_session, count=len(picker))
    editable = campaign.status is CampaignStatus.DRAFT and request.user.can(
        Permission.CAMPAIGNS_WRITE
    )
    return page(
        request,
        "campaigns/composer",
        title=Verbatim(campaign.name),
        status=status,
        campaign=read,
        form=form if form is not None else form_of(campaign),
        errors=errors or {},
        editable=editable,
        picker=picker,
        preview=preview or {},
        progress=progress_of(read),
        languages=language_names(),
        saved=request.query_params.get("saved") == "1",
        sms_sizes=await _sms_sizes(campaign, settings),
        layouts=await layouts.list_(db_session),
        default_layout_name=layouts.DEFAULT_NAME,
        pixel_warning=authoring.pixel_warning(campaign),
        tested=request.query_params.get("tested") == "1",
        **await audience_values(db_session, campaign, settings),
        **values,
    )


async def _sms_sizes(campaign: Campaign, settings: Any) -> SmsSizes | None:
    """The saved SMS's size per version, shown beside its text; None for
    another channel, or a text that cannot be rendered (its error shows)."""
    if campaign.channel is not CampaignChannel.SMS:
        return None
    try:
        return await sms.sizes(campaign, settings)
    except TemplateError:
        return None


async def render_preview(
    request: StaffRequest, db_session: AsyncSession, campaign: Campaign, form: dict[str, Any]
) -> dict[str, Any]:
    """The preview as the composer shows it: the message for the chosen contact,
    or why there is none. The unsaved form is previewed when it is sent along."""
    typed = _text(form, "preview_contact_id").strip()
    chosen = typed or _text(form, "contact_id")
    language = _text(form, "preview_language")
    values: dict[str, Any] = {"contact_id": chosen, "typed": typed, "language": language}
    if not chosen.isdigit():
        problem = _("Choose a contact to preview the message as they see it.")
        return {**values, "problem": problem}
    if campaign.status is CampaignStatus.DRAFT and "name" in form:
        try:
            data = parse(form, channel=campaign.channel.value)
        except ValidationError as exc:
            return {**values, "problems": list(field_errors(exc).items())}
        campaign = _unsaved(campaign, data)
        try:
            await authoring.author(db_session, campaign)
        except InvalidInput as exc:
            return {**values, "problems": list((messages.problems(exc)).items())}
    try:
        contact = await contacts_service.get(db_session, int(chosen))
        shown = _in_language(contact, language)
        result: Preview = await service.preview(
            db_session, campaign=campaign, contact=shown, settings=settings_of(request)
        )
    except TemplateError as exc:
        problems = [
            (
                p.field,
                _("line %(line)s: %(message)s") % {"line": p.line, "message": p.message}
                if p.line
                else p.message,
            )
            for p in exc.problems
        ]
        return {**values, "problems": problems}
    except (NotFound, Conflict) as exc:
        return {**values, "problem": messages.refusal(exc)}
    trail.note(db_session, request, action="campaign.preview", status_code=200)
    trail.annotate(db_session, contact_id=contact.id)
    explained = [explain(reason, campaign.channel) for reason in result.reasons]
    frame = frames.keep(request.user.user_id, result.html) if result.html else ""
    return {
        **values,
        "frame": frame,
        "campaign_id": campaign.id,
        "result": result,
        "name": contact.full_name,
        "reader_language": shown.language.value,
        "explained": explained,
    }


def _unsaved(campaign: Campaign, data: CampaignCreate) -> Campaign:
    """The form's version of a saved campaign, never added to the session."""
    text_written = data.text_written
    if text_written is None:
        text_written = bool(data.body_text)
    return Campaign(
        id=campaign.id,
        **data.model_dump(exclude={"translations", "segment", "send_at", "text_written"}),
        text_written=text_written,
        translations={str(k): v.model_dump() for k, v in data.translations.items()},
        segment=data.segment.model_dump(mode="json"),
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
    )


def _in_language(contact: Contact, language: str) -> Contact:
    """The contact as if their language were ``language``: to read each version
    as a person of that language gets it. A copy, never added to the session."""
    if language not in {lang.value for lang in Language} or language == contact.language:
        return contact
    return Contact(**{**contact.model_dump(), "language": Language(language)})


class CampaignPages(Controller):
    path = BASE
    include_in_schema = False
    exception_handlers = {NotFound: not_found}

    @get("/", guards=READ)
    async def list_campaigns(
        self, request: StaffRequest, db_session: Session, page_number: PageNumber = 1
    ) -> Response[str]:
        number = max(page_number, 1)
        campaigns = await service.list_(
            db_session, limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE
        )
        rows = [await service.read(db_session, c) for c in campaigns[:PAGE_SIZE]]
        return page(
            request,
            "campaigns/list",
            title=_("Campaigns"),
            campaigns=[(row, progress_of(row)) for row in rows],
            page_number=number,
            more=len(campaigns) > PAGE_SIZE,
        )

    @get("/new", guards=WRITE)
    async def new_form(self, request: StaffRequest, db_session: Session) -> Response[str]:
        return await _new_page(request, db_session, form={"channel": "email"}, errors={})

    @post("/new", guards=WRITE, status_code=200)
    async def create(self, request: StaffRequest, db_session: Session) -> Response[Any]:
        form = await with_layout(request, db_session, await verified_form(request))
        channel = _text(form, "channel")
        try:
            data = parse(form, channel=channel)
            campaign = await service.create(
                db_session,
                data=data,
                user_id=request.user.user_id,
                limits=Limits.from_settings(settings_of(request)),
            )
        except ValidationError as exc:
            return await _new_page(
                request, db_session, form=form, errors=field_errors(exc), status=422
            )
        except InvalidInput as exc:
            return await _new_page(
                request, db_session, form=form, errors=messages.problems(exc), status=422
            )
        trail.note(db_session, request, action="campaign.create", status_code=303)
        trail.annotate(db_session, campaign_id=campaign.id)
        return redirect(f"{BASE}/{campaign.id}?saved=1")

    @get("/{campaign_id:int}", guards=READ)
    async def composer_page(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[str]:
        campaign = await service.get(db_session, campaign_id)
        # The read-only view's preview form is a GET: ids and a language only.
        query = {k: v for k, v in request.query_params.items() if k in _PREVIEW_QUERY}
        preview = None
        if query and request.user.can(Permission.CONTACTS_READ):
            preview = await render_preview(request, db_session, campaign, query)
        return await composer(request, db_session, campaign, preview=preview)

    @post("/{campaign_id:int}", guards=WRITE, status_code=200)
    async def save(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        form = await with_layout(request, db_session, await verified_form(request))
        campaign = await service.get(db_session, campaign_id)
        try:
            data = parse(form, channel=campaign.channel.value)
            dumped = data.model_dump(exclude={"channel", "purpose", "send_at"})
            if dumped["text_written"] is None:
                del dumped["text_written"]
            update = CampaignUpdate.model_validate(dumped)
            await service.update_draft(
                db_session,
                campaign=campaign,
                data=update,
                limits=Limits.from_settings(settings_of(request)),
            )
        except (ValidationError, DomainError) as exc:
            # update_draft may have changed the loaded row before refusing it.
            await db_session.rollback()
            campaign = await service.get(db_session, campaign_id)
            errors = _errors_of(exc)
            status = 422 if not isinstance(exc, DomainError) else exc.status_code
            return await composer(
                request, db_session, campaign, form=form, errors=errors, status=status
            )
        trail.note(db_session, request, action="campaign.update", status_code=303)
        return redirect(f"{BASE}/{campaign_id}?saved=1")

    @post("/{campaign_id:int}/preview", guards=PEOPLE, status_code=200)
    async def preview(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[str]:
        """With htmx the preview fragment; without, the whole composer with it."""
        form = await with_layout(request, db_session, await verified_form(request))
        campaign = await service.get(db_session, campaign_id)
        shown = await render_preview(request, db_session, campaign, form)
        if is_htmx(request):
            return page(
                request,
                "campaigns/_preview",
                title=_("Preview"),
                preview=shown,
                languages=language_names(),
            )
        editable_form = form if "name" in form else None
        return await composer(request, db_session, campaign, form=editable_form, preview=shown)

    @get("/{campaign_id:int}/frame/{name:str}", guards=PEOPLE)
    async def preview_frame(
        self, request: StaffRequest, campaign_id: FromPath[int], name: FromPath[str]
    ) -> Response[str]:
        """The previewed email alone, for the composer's frame: its own
        policy allows the email's inline styles and no script."""
        html = frames.take(request.user.user_id, name)
        if html is None:
            html = "<p>" + _("The preview has expired: press Preview again.") + "</p>"
        return Response(html, media_type="text/html; charset=utf-8", headers=frames.FRAME_HEADERS)

    @post("/{campaign_id:int}/duplicate", guards=WRITE, status_code=200)
    async def duplicate(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        await verified_form(request)
        campaign = await service.get(db_session, campaign_id)
        copy = await service.duplicate(db_session, campaign=campaign, user_id=request.user.user_id)
        trail.note(db_session, request, action="campaign.duplicate", status_code=303)
        trail.annotate(db_session, campaign_id=campaign.id, copy_id=copy.id)
        return redirect(f"{BASE}/{copy.id}?saved=1")

    @get("/{campaign_id:int}/delete", guards=WRITE)
    async def delete_form(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[str]:
        """The confirmation step before a draft is deleted."""
        campaign = await service.get(db_session, campaign_id)
        return page(
            request,
            "campaigns/delete",
            title=_("Delete the draft"),
            campaign=campaign,
            deletable=campaign.status is CampaignStatus.DRAFT,
        )

    @post("/{campaign_id:int}/delete", guards=WRITE, status_code=200)
    async def delete(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        await verified_form(request)
        campaign = await service.get(db_session, campaign_id)
        try:
            await service.delete_draft(db_session, campaign=campaign)
        except Conflict as exc:
            return page(
                request,
                "campaigns/delete",
                title=_("Delete the draft"),
                status=409,
                campaign=campaign,
                deletable=False,
                problem=messages.refusal(exc),
            )
        trail.note(db_session, request, action="campaign.delete", status_code=303)
        trail.annotate(db_session, campaign_id=campaign_id)
        return redirect(f"{BASE}/")

    @post(
        "/{campaign_id:int}/test-send",
        guards=WRITE,
        status_code=200,
        opt={"audit": "campaign.test_send"},
    )
    async def test_send(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[Any]:
        """One copy to the member's own address ("[Test]" in the subject)."""
        form = await verified_form(request)
        campaign = await service.get(db_session, campaign_id)
        language = _text(form, "language")
        try:
            await proof.send_proof(
                campaign=campaign,
                settings=settings_of(request),
                to=request.user.email,
                language=language if language in {x.value for x in Language} else "fi",
            )
        except DomainError as exc:
            return await composer(
                request,
                db_session,
                campaign,
                errors={"test_send": messages.refusal(exc)},
                status=exc.status_code,
            )
        trail.annotate(db_session, campaign_id=campaign.id)
        return redirect(f"{BASE}/{campaign_id}?tested=1")


def _errors_of(exc: ValidationError | DomainError) -> dict[str, str]:
    if isinstance(exc, ValidationError):
        return field_errors(exc)
    return messages.problems(exc)


async def _new_page(
    request: StaffRequest,
    db_session: AsyncSession,
    *,
    form: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response[str]:
    return page(
        request,
        "campaigns/new",
        title=_("New campaign"),
        status=status,
        form=form,
        errors=errors,
        languages=language_names(),
        layouts=await layouts.list_(db_session),
        default_layout_name=layouts.DEFAULT_NAME,
    )


async def with_layout(
    request: StaffRequest, db_session: AsyncSession, form: dict[str, Any]
) -> dict[str, Any]:
    """The form with the bundled default layout, when chosen, saved and named
    by its id (it is added the first time it is chosen)."""
    if form.get("layout_id") != "default":
        return form
    layout = await layouts.ensure_default(db_session, user_id=request.user.user_id)
    return {**form, "layout_id": str(layout.id)}
