"""The embed snippet: a form's plain HTML, to paste into the company's own
site. It posts form-encoded to ``{PUBLIC_URL}/s/{slug}`` and needs no
JavaScript: the fields, one unticked checkbox per offer (name ``consent``,
value ``CHANNEL.PURPOSE``, the archived words as its label), a hidden
``language`` and the honeypot field, hidden from people and skipped by the
keyboard.

Everything staff wrote is escaped: a text is plain text wherever it is shown.
"""

from __future__ import annotations

from html import escape

from service.forms.schemas import HONEYPOT_FIELD, FormDefinition

# The words of the contact fields, per language (the hosted page may use them too).
FIELD_LABELS: dict[str, dict[str, str]] = {
    "fi": {
        "full_name": "Nimi",
        "nickname": "Kutsumanimi",
        "email": "Sähköposti",
        "phone": "Puhelin",
        "customer_number": "Asiakasnumero",
        "employer": "Työnantaja",
        "education": "Koulutus",
        "position": "Asema",
        "street_address": "Katuosoite",
        "postal_code": "Postinumero",
        "city": "Postitoimipaikka",
        "country": "Maa",
    },
    "sv": {
        "full_name": "Namn",
        "nickname": "Tilltalsnamn",
        "email": "E-post",
        "phone": "Telefon",
        "customer_number": "Kundnummer",
        "employer": "Arbetsgivare",
        "education": "Utbildning",
        "position": "Befattning",
        "street_address": "Gatuadress",
        "postal_code": "Postnummer",
        "city": "Postort",
        "country": "Land",
    },
    "en": {
        "full_name": "Name",
        "nickname": "Nickname",
        "email": "Email",
        "phone": "Phone",
        "customer_number": "Customer number",
        "employer": "Employer",
        "education": "Education",
        "position": "Position",
        "street_address": "Street address",
        "postal_code": "Postal code",
        "city": "City",
        "country": "Country",
    },
}
SUBMIT = {"fi": "Lähetä", "sv": "Skicka", "en": "Send"}
HONEYPOT_LABEL = {
    "fi": "Jätä tämä kenttä tyhjäksi",
    "sv": "Lämna detta fält tomt",
    "en": "Leave this field empty",
}
INPUT_TYPES = {"email": "email", "phone": "tel"}
AUTOCOMPLETE = {
    "full_name": "name",
    "nickname": "nickname",
    "email": "email",
    "phone": "tel",
    "employer": "organization",
    "position": "organization-title",
    "street_address": "street-address",
    "postal_code": "postal-code",
    "city": "address-level2",
    "country": "country-name",
}


def hosted_url(public_url: str, slug: str) -> str:
    return f"{public_url.rstrip('/')}/s/{slug}"


def snippet(form: FormDefinition, language: str, public_url: str) -> str:
    """The form in ``language`` as plain HTML."""
    labels = FIELD_LABELS[language]
    lines = [
        f'<form method="post" action="{escape(hosted_url(public_url, form.slug))}" '
        f'accept-charset="utf-8">',
        f'  <input type="hidden" name="language" value="{escape(language)}">',
    ]
    for field in form.fields:
        kind = INPUT_TYPES.get(field.name, "text")
        extra = f' autocomplete="{AUTOCOMPLETE[field.name]}"' if field.name in AUTOCOMPLETE else ""
        extra += " required" if field.required else ""
        lines.append(
            f"  <p><label>{escape(labels[field.name])}"
            f"{' *' if field.required else ''}<br>"
            f'<input type="{kind}" name="{field.name}"{extra}></label></p>'
        )
    for offer in form.offers:
        value = f"{offer.channel.value}.{offer.purpose.value}"
        words = escape(offer.text[language]).replace("\n", "<br>")
        lines.append(
            f'  <p><label><input type="checkbox" name="consent" value="{value}"> '
            f"{words}</label></p>"
        )
    lines += [
        '  <div style="position:absolute;left:-10000px;top:auto;width:1px;height:1px;'
        'overflow:hidden" aria-hidden="true">',
        f"    <label>{escape(HONEYPOT_LABEL[language])} "
        f'<input type="text" name="{HONEYPOT_FIELD}" value="" tabindex="-1" autocomplete="off">'
        "</label>",
        "  </div>",
        f'  <p><button type="submit">{escape(SUBMIT[language])}</button></p>',
        "</form>",
    ]
    return "\n".join(lines) + "\n"
