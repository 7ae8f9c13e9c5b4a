"""Signup forms, the staff side: define a form, change it (each change a new
version), read it as it is or as it was.

A form's checkbox texts live in the consent texts archive
(service.consent.archive) under ``form:{slug}:{channel}.{purpose}``, one
record per language and version; the form keeps their ids
(``SignupForm.offers`` = ``[{"channel", "purpose", "texts": {lang: text_id}}]``).
Words that did not change keep their archived version; changed words get the
next one. Every change bumps ``SignupForm.version`` and stores the whole
definition in ``form_versions``, so what a person was shown at any version
stays readable.

The public side (service.forms.public, signup) reads forms through
:func:`by_slug` (and :func:`offers_in` for an offer's words in a language)
and the ``SignupForm`` fields directly:

- ``languages``: the language codes the form is shown in, the first the default;
- ``offers``: as above; an offer's value in a submission is ``CHANNEL.PURPOSE``;
- ``fields``: ``{field name: required}`` in the order asked (names from
  service.forms.schemas.FORM_FIELDS);
- ``notice_version``, ``thank_you_url``, ``confirmed_url``, ``origins``
  (``scheme://host[:port]``, lower case), ``double_opt_in``, ``active``,
  ``version``.

Like every service, these functions never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.consent import archive
from service.errors import Conflict, InvalidInput, NotFound
from service.forms.embed import hosted_url, snippet
from service.forms.schemas import (
    ConsentTextRead,
    FieldRead,
    FormCreate,
    FormDefinition,
    FormRead,
    FormUpdate,
    FormVersionRead,
    OfferCreate,
    OfferRead,
)
from service.labels import N_
from service.models import ConsentText, FormVersion, SignupForm

# The parts of a form that make up its definition (what a version snapshots).
DEFINITION = (
    "slug",
    "name",
    "languages",
    "offers",
    "fields",
    "notice_version",
    "thank_you_url",
    "confirmed_url",
    "origins",
    "double_opt_in",
    "active",
)


def text_key(slug: str, channel: str, purpose: str) -> str:
    """The archive key of an offer's checkbox text."""
    return f"form:{slug}:{channel}.{purpose}"


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Pydantic's errors as ``{field: message}``; a rule about the whole form
    under ``body``. Values sent are never echoed."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "body"
        message = str(error["msg"]).removeprefix("Value error, ")
        errors[key] = f"{errors[key]}; {message}" if key in errors else message
    return errors


async def get(session: AsyncSession, form_id: int) -> SignupForm:
    form = await session.get(SignupForm, form_id)
    if form is None:
        raise NotFound(f"no form with id {form_id}")
    return form


async def by_slug(session: AsyncSession, slug: str) -> SignupForm | None:
    """The form at ``/s/{slug}``, active or not (the caller checks ``active``);
    None when there is none."""
    rows = await session.exec(select(SignupForm).where(SignupForm.slug == slug))
    return rows.first()


async def list_(session: AsyncSession, *, limit: int, offset: int) -> Sequence[SignupForm]:
    """Forms, newest first."""
    rows = await session.exec(
        select(SignupForm).order_by(col(SignupForm.id).desc()).limit(limit).offset(offset)
    )
    return rows.all()


async def _archive_offers(
    session: AsyncSession, slug: str, offers: list[OfferCreate], user_id: int | None
) -> list[dict[str, Any]]:
    stored = []
    for offer in offers:
        key = text_key(slug, offer.channel.value, offer.purpose.value)
        texts = {}
        for lang, body in offer.text.items():
            text = await archive.archive(
                session, key=key, language=lang.value, body=body, user_id=user_id
            )
            texts[lang.value] = text.id
        stored.append(
            {"channel": offer.channel.value, "purpose": offer.purpose.value, "texts": texts}
        )
    return stored


def _columns(data: FormCreate, offers: list[dict[str, Any]]) -> dict[str, Any]:
    """A validated definition as the ``signup_forms`` columns."""
    return {
        "slug": data.slug,
        "name": data.name,
        "languages": [lang.value for lang in data.languages],
        "offers": offers,
        "fields": {spec.name: spec.required for spec in data.fields},
        "notice_version": data.notice_version,
        "thank_you_url": data.thank_you_url,
        "confirmed_url": data.confirmed_url,
        "origins": list(data.origins),
        "double_opt_in": data.double_opt_in,
        "active": data.active,
    }


def _snapshot(form: SignupForm) -> dict[str, Any]:
    # Field order is kept as a list: a JSON object's key order is not a promise.
    definition = {name: getattr(form, name) for name in DEFINITION}
    definition["fields"] = [[name, required] for name, required in form.fields.items()]
    return definition


def _add_version(session: AsyncSession, form: SignupForm, user_id: int | None) -> None:
    assert form.id is not None
    session.add(
        FormVersion(
            form_id=form.id,
            version=form.version,
            definition=_snapshot(form),
            created_by_user_id=user_id,
        )
    )


async def create(session: AsyncSession, *, data: FormCreate, user_id: int | None) -> SignupForm:
    """A new form at version 1, its texts archived. A slug in use: 409."""
    if await by_slug(session, data.slug) is not None:
        raise Conflict(
            f"a form at /s/{data.slug} exists already",
            reason="slug_taken",
            fields={"slug": N_("in use by another form")},
        )
    offers = await _archive_offers(session, data.slug, data.offers, user_id)
    form = SignupForm(**_columns(data, offers), version=1, created_by_user_id=user_id)
    session.add(form)
    await session.flush()
    _add_version(session, form, user_id)
    await session.flush()
    return form


async def _as_input(session: AsyncSession, form: SignupForm) -> dict[str, Any]:
    """The form as a create body: what a PATCH is laid over."""
    texts = await archive.many(session, _text_ids(form.offers))
    body = {name: getattr(form, name) for name in DEFINITION}
    body["offers"] = [
        {
            "channel": offer["channel"],
            "purpose": offer["purpose"],
            "text": {lang: texts[text_id].body for lang, text_id in offer["texts"].items()},
        }
        for offer in form.offers
    ]
    body["fields"] = [{"name": n, "required": r} for n, r in form.fields.items()]
    return body


async def update(
    session: AsyncSession, *, form: SignupForm, data: FormUpdate, user_id: int | None
) -> SignupForm:
    """Lay ``data`` over the form and check the result whole. A change makes
    the next version; a PATCH that changes nothing keeps the version."""
    changes = data.model_dump(exclude_unset=True, mode="json")
    slug = changes.pop("slug", form.slug)
    if slug != form.slug:
        raise InvalidInput(
            N_("a form's slug cannot be changed"), fields={"slug": N_("cannot be changed")}
        )
    try:
        merged = FormCreate.model_validate({**await _as_input(session, form), **changes})
    except ValidationError as exc:
        raise InvalidInput(N_("the form is not valid"), fields=field_errors(exc)) from None
    offers = await _archive_offers(session, form.slug, merged.offers, user_id)
    columns = _columns(merged, offers)
    if all(getattr(form, name) == value for name, value in columns.items()) and list(
        form.fields
    ) == list(columns["fields"]):
        return form
    for name, value in columns.items():
        setattr(form, name, value)
    form.version += 1
    form.updated_at = clock.now()
    session.add(form)
    await session.flush()
    _add_version(session, form, user_id)
    await session.flush()
    return form


def _text_ids(offers: list[dict[str, Any]]) -> list[int]:
    return [int(text_id) for offer in offers for text_id in offer["texts"].values()]


def text_read(text: ConsentText) -> ConsentTextRead:
    assert text.id is not None
    return ConsentTextRead(
        id=text.id,
        key=text.key,
        language=text.language,
        version=text.version,
        body=text.body,
        hash=text.hash,
        created_at=text.created_at,
        created_by_user_id=text.created_by_user_id,
    )


async def _definition(
    session: AsyncSession, form_id: int, version: int, snapshot: dict[str, Any]
) -> FormDefinition:
    texts = await archive.many(session, _text_ids(snapshot["offers"]))
    fields = snapshot["fields"]
    pairs = fields.items() if isinstance(fields, dict) else fields
    offers = []
    for offer in snapshot["offers"]:
        own = {lang: texts[int(text_id)] for lang, text_id in offer["texts"].items()}
        offers.append(
            OfferRead(
                channel=offer["channel"],
                purpose=offer["purpose"],
                text={lang: text.body for lang, text in own.items()},
                texts={lang: text_read(text) for lang, text in own.items()},
            )
        )
    return FormDefinition(
        id=form_id,
        version=version,
        **{name: snapshot[name] for name in DEFINITION if name not in ("offers", "fields")},
        offers=offers,
        fields=[FieldRead(name=name, required=required) for name, required in pairs],
    )


async def read(session: AsyncSession, form: SignupForm, *, public_url: str) -> FormRead:
    """The form as the API answers it: its texts with their archived
    versions and hashes, the hosted link and the embed snippets."""
    assert form.id is not None
    definition = await _definition(session, form.id, form.version, _snapshot(form))
    embeds = {lang: snippet(definition, lang, public_url) for lang in definition.languages}
    return FormRead(
        **definition.model_dump(),
        hosted_url=hosted_url(public_url, form.slug),
        embed=embeds[definition.languages[0]],
        embeds=embeds,
        created_at=form.created_at,
        updated_at=form.updated_at,
        created_by_user_id=form.created_by_user_id,
    )


async def versions(session: AsyncSession, form: SignupForm) -> Sequence[FormVersion]:
    """Every version of the form, newest first."""
    rows = await session.exec(
        select(FormVersion)
        .where(FormVersion.form_id == form.id)
        .order_by(col(FormVersion.version).desc())
    )
    return rows.all()


async def version(session: AsyncSession, form: SignupForm, number: int) -> FormVersionRead:
    """The form as it was at version ``number``, its texts as they were then."""
    assert form.id is not None
    row = await session.get(FormVersion, (form.id, number)) if 0 < number < 2**31 else None
    if row is None:
        raise NotFound(f"form {form.id} has no version {number}")
    return FormVersionRead(
        version=row.version,
        created_at=row.created_at,
        created_by_user_id=row.created_by_user_id,
        definition=await _definition(session, form.id, row.version, row.definition),
    )


async def offers_in(
    session: AsyncSession, form: SignupForm, language: str
) -> list[tuple[str, str, ConsentText]]:
    """The form's offers as shown in ``language`` (one of ``form.languages``),
    in order: ``(channel, purpose, archived text)``. For the hosted page and a
    submission, which records the text's id."""
    texts = await archive.many(session, _text_ids(form.offers))
    return [
        (offer["channel"], offer["purpose"], texts[int(offer["texts"][language])])
        for offer in form.offers
        if language in offer["texts"]
    ]


async def consent_texts(
    session: AsyncSession, *, key: str, language: str | None
) -> Sequence[ConsentText]:
    """Every archived version of ``key`` (in ``language``, or all), oldest first."""
    texts = await archive.versions(session, key)
    return [text for text in texts if language is None or text.language == language]
