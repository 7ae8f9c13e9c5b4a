"""The pages of a signup form's public side: the hosted form with its
errors named, the thank-you page, the confirmation pages and the generic
invalid-link page, all through service.public_pages.

Their ``Content-Security-Policy`` lets a form post to itself and, where a
POST is answered with a redirect (the form's ``thank_you_url`` or
``confirmed_url``), to that URL's origin too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar import Response
from sqlmodel.ext.asyncio.session import AsyncSession

from service.consent import archive
from service.forms import submission as submissions
from service.forms.schemas import HONEYPOT_FIELD
from service.forms.texts import FIELD_LABELS, FIELD_ORDER, LANGUAGES, PAGE_TEXT
from service.models import Signup, SignupForm
from service.public_pages import HEADERS, PublicRequest, browser_language, render, settings_of

_AUTOCOMPLETE = {
    "full_name": "name",
    "nickname": "nickname",
    "email": "email",
    "phone": "tel",
    "employer": "organization",
    "position": "organization-title",
    "street_address": "street-address",
    "postal_code": "postal-code",
    "city": "address-level2",
    "country": "country",
}
_INPUT_TYPE = {"email": "email", "phone": "tel"}


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def headers(*redirect_targets: str | None) -> dict[str, str]:
    """The public pages' headers; the form-action also allows where a POST
    redirects to (Chrome enforces form-action on redirects)."""
    origins = sorted({o for o in map(_origin, redirect_targets) if o is not None})
    if not origins:
        return HEADERS
    return {
        **HEADERS,
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
        f"form-action 'self' {' '.join(origins)}",
    }


def page(
    request: PublicRequest,
    name: str,
    lang: str,
    *,
    title: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> Response[str]:
    return render(
        request,
        name,
        lang=lang,
        text=PAGE_TEXT[lang],
        title=title,
        status=status,
        headers=headers,
        **values,
    )


def invalid(request: PublicRequest) -> Response[str]:
    lang = browser_language(request)
    return page(
        request, "confirm_invalid", lang, title=PAGE_TEXT[lang]["invalid_title"], status=400
    )


def missing(request: PublicRequest) -> Response[str]:
    lang = browser_language(request)
    return page(request, "signup_missing", lang, title=PAGE_TEXT[lang]["missing_title"], status=404)


async def _offer_rows(
    session: AsyncSession, form: SignupForm, lang: str, ticked: set[str]
) -> list[dict[str, Any]]:
    offers = submissions.offers_of(form)
    ids = [offer.texts.get(lang) or next(iter(offer.texts.values()), 0) for offer in offers]
    texts = await archive.many(session, [i for i in ids if i])
    return [
        {
            "value": offer.value,
            "id": f"consent-{index}",
            "text": texts[text_id].body if text_id in texts else offer.value,
            "checked": offer.value in ticked,
        }
        for index, (offer, text_id) in enumerate(zip(offers, ids, strict=True))
    ]


def _field_rows(
    form: SignupForm, lang: str, values: dict[str, str], errors: dict[str, str]
) -> list[dict[str, Any]]:
    text = PAGE_TEXT[lang]
    rows = []
    for name in FIELD_ORDER:
        if name not in form.fields:
            continue
        error = errors.get(name)
        rows.append(
            {
                "name": name,
                "id": f"f-{name}",
                "label": FIELD_LABELS[lang][name],
                "required": bool(form.fields[name]),
                "type": _INPUT_TYPE.get(name, "text"),
                "autocomplete": _AUTOCOMPLETE.get(name, "on"),
                "value": values.get(name, "")[:400],
                "error": None
                if error is None
                else text["err_required"]
                if error == "required"
                else text["err_invalid"],
            }
        )
    return rows


async def form_page(
    request: PublicRequest,
    session: AsyncSession,
    form: SignupForm,
    lang: str,
    *,
    values: dict[str, str] | None = None,
    ticked: set[str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response[str]:
    errors = errors or {}
    fields = _field_rows(form, lang, values or {}, errors)
    error_list = [
        {"id": row["id"], "label": row["label"], "message": row["error"]}
        for row in fields
        if row["error"]
    ]
    consent_error = PAGE_TEXT[lang]["err_consent"] if "consent" in errors else None
    if consent_error:
        error_list.append({"id": "consent-0", "label": "", "message": consent_error})
    contact = settings_of(request).privacy_contact
    return page(
        request,
        "signup",
        lang,
        title=form.name,
        status=400 if errors else 200,
        headers=headers(form.thank_you_url),
        form=form,
        fields=fields,
        offers=await _offer_rows(session, form, lang, ticked or set()),
        consent_error=consent_error,
        error_list=error_list,
        languages=[code for code in submissions.languages_of(form) if code in LANGUAGES],
        honeypot=HONEYPOT_FIELD,
        privacy_mail=contact if "@" in contact and " " not in contact.strip() else None,
    )


def confirmed(request: PublicRequest, signup: Signup, form: SignupForm | None) -> Response[Any]:
    url = form.confirmed_url if form is not None else None
    if url:
        return redirect(url)
    lang = signup.language if signup.language in LANGUAGES else "en"
    return page(request, "confirm_done", lang, title=PAGE_TEXT[lang]["confirmed_title"])


def thanks(request: PublicRequest, form: SignupForm, language: str) -> Response[Any]:
    """After a submission: 303 to the form's thank-you URL, else the thank-you page."""
    if form.thank_you_url:
        return redirect(form.thank_you_url)
    text = PAGE_TEXT[language]
    return page(
        request,
        "signup_thanks",
        language,
        title=text["thanks_title"],
        message=text["thanks_doi"].format(days=settings_of(request).doi_expiry_days)
        if form.double_opt_in
        else text["thanks_direct"],
    )


def redirect(url: str) -> Response[Any]:
    """303 to ``url``, whose origin the form-action allows."""
    return Response(None, status_code=303, headers={**headers(url), "Location": url})
