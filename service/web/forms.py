"""The signup form pages of ``/app``: the list, a new form, a form's page (its
hosted link, the embed snippet to copy, its texts with their archived
versions and hashes, its version history), the edit form, and a past version.

Every step goes through service.forms.service, as the JSON API does; these
handlers only turn the posted form into its schemas and its answers and
errors into pages.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.errors import Conflict, InvalidInput, NotFound
from service.forms import service
from service.forms.schemas import FORM_FIELDS, FormCreate, FormRead, FormUpdate
from service.i18n import _, gettext, label
from service.labels import N_
from service.models.enums import Channel, Language, Purpose
from service.settings import Settings
from service.web import messages
from service.web.render import Verbatim, page
from service.web.session import redirect, verified_form

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, State]
BASE = "/app/forms"
READ = [requires(Permission.FORMS_READ)]
WRITE = [requires(Permission.FORMS_WRITE)]
# Every pair a form may offer, in the order the edit form lists them.
PAIRS: list[tuple[Channel, Purpose]] = [
    *((channel, Purpose.DIRECT_MARKETING) for channel in Channel),
    (Channel.EMAIL, Purpose.EMAIL_TRACKING),
    *((channel, Purpose.PROFILING_REPORT) for channel in Channel),
]
# Each pair's checkbox on the edit form (whole phrases: word order differs).
PAIR_NAMES: dict[tuple[Channel, Purpose], str] = {
    (Channel.EMAIL, Purpose.DIRECT_MARKETING): N_("Offer email: marketing"),
    (Channel.SMS, Purpose.DIRECT_MARKETING): N_("Offer SMS: marketing"),
    (Channel.PHONE, Purpose.DIRECT_MARKETING): N_("Offer phone: marketing"),
    (Channel.POST, Purpose.DIRECT_MARKETING): N_("Offer post: marketing"),
    (Channel.EMAIL, Purpose.EMAIL_TRACKING): N_("Offer email: open and click tracking"),
    (Channel.EMAIL, Purpose.PROFILING_REPORT): N_("Offer email: profiling report"),
    (Channel.SMS, Purpose.PROFILING_REPORT): N_("Offer SMS: profiling report"),
    (Channel.PHONE, Purpose.PROFILING_REPORT): N_("Offer phone: profiling report"),
    (Channel.POST, Purpose.PROFILING_REPORT): N_("Offer post: profiling report"),
}
# The words for each field a form may ask (FORM_FIELDS).
FIELD_NAMES = {
    "full_name": N_("Full name"),
    "nickname": N_("Nickname"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "customer_number": N_("Customer number"),
    "employer": N_("Employer"),
    "education": N_("Education"),
    "position": N_("Position"),
    "street_address": N_("Street address"),
    "postal_code": N_("Postal code"),
    "city": N_("City"),
    "country": N_("Country"),
}


def _language_names() -> dict[str, str]:
    """Each language a form may speak, in the words of the moment."""
    return {lang.value: label(Language, lang.value) for lang in Language}


def _field_names() -> dict[str, str]:
    return {name: gettext(FIELD_NAMES.get(name, name)) for name in FORM_FIELDS}


def _public_url(request: StaffRequest) -> str:
    settings: Settings = request.app.state.settings
    return settings.public_url


def _text(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _pair(channel: Channel, purpose: Purpose) -> str:
    return f"{channel.value}.{purpose.value}"


def parse(form: dict[str, Any]) -> dict[str, Any]:
    """The posted form as the API's body (without ``slug``). Checkboxes and
    selects have a name each: a posted form keeps one value per name."""
    languages = [lang.value for lang in Language if f"languages.{lang.value}" in form]
    offers = [
        {
            "channel": channel.value,
            "purpose": purpose.value,
            "text": {
                lang: _text(form, f"text.{_pair(channel, purpose)}.{lang}") for lang in languages
            },
        }
        for channel, purpose in PAIRS
        if f"offer.{_pair(channel, purpose)}" in form
    ]
    # "optional" is a bare name, as in the API: an offer's address is made required.
    fields: list[Any] = [
        {"name": name, "required": True} if _text(form, f"field.{name}") == "required" else name
        for name in FORM_FIELDS
        if _text(form, f"field.{name}") in ("optional", "required")
    ]
    origins = [line.strip() for line in _text(form, "origins").splitlines() if line.strip()]
    return {
        "name": _text(form, "name"),
        "languages": languages,
        "offers": offers,
        "fields": fields,
        "notice_version": _text(form, "notice_version") or None,
        "thank_you_url": _text(form, "thank_you_url") or None,
        "confirmed_url": _text(form, "confirmed_url") or None,
        "origins": origins,
        "double_opt_in": "double_opt_in" in form,
        "active": "active" in form,
    }


def form_of(read: FormRead) -> dict[str, str]:
    """A saved form as the edit form's fields (the names the form posts)."""
    form = {
        "slug": read.slug,
        "name": read.name,
        "notice_version": read.notice_version or "",
        "thank_you_url": read.thank_you_url or "",
        "confirmed_url": read.confirmed_url or "",
        "origins": "\n".join(read.origins),
    }
    form.update({f"languages.{lang}": "on" for lang in read.languages})
    form.update({f"field.{f.name}": "required" if f.required else "optional" for f in read.fields})
    for offer in read.offers:
        pair = _pair(offer.channel, offer.purpose)
        form[f"offer.{pair}"] = "on"
        form.update({f"text.{pair}.{lang}": body for lang, body in offer.text.items()})
    form.update({name: "on" for name in ("double_opt_in", "active") if getattr(read, name)})
    return form


def _errors(exc: ValidationError | InvalidInput | Conflict) -> list[tuple[str, str]]:
    if isinstance(exc, ValidationError):
        fields = messages.field_errors(exc, whole="body", join=True)
    else:
        fields = messages.refusal_fields(exc) or {"body": messages.refusal(exc)}
    return [("" if key == "body" else key, message) for key, message in fields.items()]


def _editor(
    request: StaffRequest,
    *,
    title: str,
    action: str,
    form: dict[str, Any],
    errors: list[tuple[str, str]],
    new: bool,
    status: int = 200,
) -> Response[str]:
    return page(
        request,
        "forms/edit",
        title=title,
        status=status,
        action=action,
        form=form,
        errors=errors,
        new=new,
        languages=_language_names(),
        field_names=_field_names(),
        pairs=[(_pair(c, p), gettext(PAIR_NAMES[(c, p)])) for c, p in PAIRS],
    )


def not_found(request: StaffRequest, exc: NotFound) -> Response[str]:
    return page(
        request,
        "forms/missing",
        title=_("Not found"),
        status=404,
        detail=_("There is no such signup form or version."),
    )


class FormPages(Controller):
    path = BASE
    include_in_schema = False
    exception_handlers = {NotFound: not_found}

    @get("/", guards=READ)
    async def list_forms(self, request: StaffRequest, db_session: Session) -> Response[str]:
        forms = await service.list_(db_session, limit=500, offset=0)
        return page(
            request, "forms/list", title=_("Signup forms"), forms=forms, languages=_language_names()
        )

    @get("/new", guards=WRITE)
    async def new_form(self, request: StaffRequest) -> Response[str]:
        defaults = {"languages.fi": "on", "double_opt_in": "on", "active": "on"}
        defaults |= {"field.full_name": "required", "field.email": "required"}
        return _editor(
            request,
            title=_("New signup form"),
            action=f"{BASE}/new",
            form=defaults,
            errors=[],
            new=True,
        )

    @post("/new", guards=WRITE, status_code=200)
    async def create(self, request: StaffRequest, db_session: Session) -> Response[Any]:
        form = await verified_form(request)
        try:
            data = FormCreate.model_validate({"slug": _text(form, "slug"), **parse(form)})
            created = await service.create(db_session, data=data, user_id=request.user.user_id)
        except (ValidationError, Conflict) as exc:
            status = 409 if isinstance(exc, Conflict) else 422
            return _editor(
                request,
                title=_("New signup form"),
                action=f"{BASE}/new",
                form=form,
                errors=_errors(exc),
                new=True,
                status=status,
            )
        trail.note(db_session, request, action="form.create", status_code=303)
        trail.annotate(db_session, form_id=created.id)
        return redirect(f"{BASE}/{created.id}?saved=1")

    @get("/{form_id:int}", guards=READ)
    async def form_page(
        self, request: StaffRequest, db_session: Session, form_id: FromPath[int]
    ) -> Response[str]:
        form = await service.get(db_session, form_id)
        read = await service.read(db_session, form, public_url=_public_url(request))
        history = await service.versions(db_session, form)
        return page(
            request,
            "forms/form",
            title=Verbatim(read.name),
            form=read,
            history=history,
            languages=_language_names(),
            field_names=_field_names(),
            saved=request.query_params.get("saved") == "1",
        )

    @get("/{form_id:int}/edit", guards=WRITE)
    async def edit_form(
        self, request: StaffRequest, db_session: Session, form_id: FromPath[int]
    ) -> Response[str]:
        form = await service.get(db_session, form_id)
        read = await service.read(db_session, form, public_url=_public_url(request))
        return _editor(
            request,
            title=_("Edit %(name)s") % {"name": read.name},
            action=f"{BASE}/{form_id}/edit",
            form=form_of(read),
            errors=[],
            new=False,
        )

    @post("/{form_id:int}/edit", guards=WRITE, status_code=200)
    async def save(
        self, request: StaffRequest, db_session: Session, form_id: FromPath[int]
    ) -> Response[Any]:
        posted = await verified_form(request)
        form = await service.get(db_session, form_id)
        try:
            data = FormUpdate.model_validate(parse(posted))
            await service.update(db_session, form=form, data=data, user_id=request.user.user_id)
        except (ValidationError, InvalidInput) as exc:
            return _editor(
                request,
                title=_("Edit %(name)s") % {"name": form.name},
                action=f"{BASE}/{form_id}/edit",
                form={**posted, "slug": form.slug},
                errors=_errors(exc),
                new=False,
                status=422,
            )
        trail.note(db_session, request, action="form.update", status_code=303)
        trail.annotate(db_session, form_id=form_id, version=form.version)
        return redirect(f"{BASE}/{form_id}?saved=1")

    @get("/{form_id:int}/versions/{version:int}", guards=READ)
    async def version_page(
        self,
        request: StaffRequest,
        db_session: Session,
        form_id: FromPath[int],
        version: FromPath[int],
    ) -> Response[str]:
        form = await service.get(db_session, form_id)
        old = await service.version(db_session, form, version)
        return page(
            request,
            "forms/version",
            title=_("%(name)s, version %(version)s") % {"name": form.name, "version": old.version},
            form_id=form_id,
            current=form.version,
            old=old,
            languages=_language_names(),
            field_names=_field_names(),
        )
