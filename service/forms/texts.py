"""The words of the hosted signup form, its confirmation pages and the
confirmation mail, in fi, sv and en. A form's own words (its name, the text
of each checkbox) are the staff's, archived in ``consent_texts``."""

from __future__ import annotations

LANGUAGES = ("fi", "sv", "en")

# The contact fields a form may ask for, in the order the page shows them.
FIELD_ORDER = (
    "full_name",
    "nickname",
    "email",
    "phone",
    "employer",
    "position",
    "education",
    "street_address",
    "postal_code",
    "city",
    "country",
)

FIELD_LABELS: dict[str, dict[str, str]] = {
    "fi": {
        "full_name": "Nimi",
        "nickname": "Kutsumanimi",
        "email": "Sähköpostiosoite",
        "phone": "Puhelinnumero",
        "employer": "Työnantaja",
        "position": "Asema",
        "education": "Koulutus",
        "street_address": "Katuosoite",
        "postal_code": "Postinumero",
        "city": "Postitoimipaikka",
        "country": "Maa (kaksikirjaiminen koodi, esim. FI)",
    },
    "sv": {
        "full_name": "Namn",
        "nickname": "Tilltalsnamn",
        "email": "E-postadress",
        "phone": "Telefonnummer",
        "employer": "Arbetsgivare",
        "position": "Befattning",
        "education": "Utbildning",
        "street_address": "Gatuadress",
        "postal_code": "Postnummer",
        "city": "Postanstalt",
        "country": "Land (tvåbokstavskod, t.ex. FI)",
    },
    "en": {
        "full_name": "Name",
        "nickname": "Preferred name",
        "email": "Email address",
        "phone": "Phone number",
        "employer": "Employer",
        "position": "Position",
        "education": "Education",
        "street_address": "Street address",
        "postal_code": "Postal code",
        "city": "City",
        "country": "Country (two-letter code, e.g. FI)",
    },
}

PAGE_TEXT: dict[str, dict[str, str]] = {
    "fi": {
        "required_note": "Pakolliset kentät on merkitty sanalla (pakollinen).",
        "required": "(pakollinen)",
        "consents": "Mitä saamme lähettää sinulle? Valitse vähintään yksi.",
        "consents_hint": "Voit perua suostumuksesi milloin tahansa jokaisen viestin linkistä.",
        "submit": "Tilaa",
        "errors_title": "Korjaa seuraavat kohdat:",
        "err_required": "Tämä kenttä on pakollinen.",
        "err_invalid": "Tarkista tämä tieto: se ei kelpaa.",
        "err_consent": "Valitse vähintään yksi vaihtoehto.",
        "privacy": "Henkilötietojesi käsittelystä kertoo tietosuojaseloste; kysymykset:",
        "thanks_title": "Kiitos!",
        "thanks_doi": "Jos osoite on oikea, lähetimme siihen vahvistuslinkin. Tilaus alkaa "
        "vasta, kun vahvistat sen. Linkki on voimassa {days} päivää.",
        "thanks_direct": "Kiitos! Valintasi on vastaanotettu.",
        "confirm_title": "Vahvista tilauksesi",
        "confirm_intro": "Painamalla painiketta annat seuraavat suostumukset:",
        "confirm_button": "Vahvistan tilauksen",
        "confirmed_title": "Tilaus vahvistettu",
        "confirmed": "Kiitos! Tilauksesi on vahvistettu. Voit perua sen milloin tahansa "
        "jokaisen viestin linkistä.",
        "missing_title": "Lomaketta ei löydy",
        "missing": "Tätä lomaketta ei ole, tai se ei ole enää käytössä.",
        "invalid_title": "Linkki ei kelpaa",
        "invalid": "Linkki on vanhentunut tai vioittunut. Voit täyttää lomakkeen uudelleen.",
        "controller": "Rekisterinpitäjä",
        "privacy_contact": "Tietosuoja-asiat",
        "language_nav": "Kieli",
        "honeypot": "Jätä tämä kenttä tyhjäksi",
        "lang_fi": "Suomeksi",
        "lang_sv": "På svenska",
        "lang_en": "In English",
    },
    "sv": {
        "required_note": "Obligatoriska fält är märkta med ordet (obligatoriskt).",
        "required": "(obligatoriskt)",
        "consents": "Vad får vi skicka dig? Välj minst ett alternativ.",
        "consents_hint": "Du kan när som helst återkalla ditt samtycke via länken i varje "
        "meddelande.",
        "submit": "Prenumerera",
        "errors_title": "Rätta följande:",
        "err_required": "Fältet är obligatoriskt.",
        "err_invalid": "Kontrollera uppgiften: den är inte giltig.",
        "err_consent": "Välj minst ett alternativ.",
        "privacy": "Hur vi behandlar dina personuppgifter står i dataskyddsbeskrivningen; frågor:",
        "thanks_title": "Tack!",
        "thanks_doi": "Om adressen är rätt har vi skickat en bekräftelselänk till den. "
        "Prenumerationen börjar först när du bekräftar den. Länken gäller i {days} dagar.",
        "thanks_direct": "Tack! Dina val har tagits emot.",
        "confirm_title": "Bekräfta din prenumeration",
        "confirm_intro": "Genom att trycka på knappen ger du följande samtycken:",
        "confirm_button": "Jag bekräftar prenumerationen",
        "confirmed_title": "Prenumerationen är bekräftad",
        "confirmed": "Tack! Din prenumeration är bekräftad. Du kan avsluta den när som helst "
        "via länken i varje meddelande.",
        "missing_title": "Formuläret hittades inte",
        "missing": "Formuläret finns inte eller används inte längre.",
        "invalid_title": "Länken är ogiltig",
        "invalid": "Länken har gått ut eller är skadad. Du kan fylla i formuläret på nytt.",
        "controller": "Personuppgiftsansvarig",
        "privacy_contact": "Dataskyddsfrågor",
        "language_nav": "Språk",
        "honeypot": "Lämna detta fält tomt",
        "lang_fi": "Suomeksi",
        "lang_sv": "På svenska",
        "lang_en": "In English",
    },
    "en": {
        "required_note": "Required fields are marked with the word (required).",
        "required": "(required)",
        "consents": "What may we send you? Choose at least one.",
        "consents_hint": "You can withdraw your consent at any time from the link in every "
        "message.",
        "submit": "Subscribe",
        "errors_title": "Please correct the following:",
        "err_required": "This field is required.",
        "err_invalid": "Please check this: it is not valid.",
        "err_consent": "Choose at least one option.",
        "privacy": "How we handle your personal data is described in our privacy notice; "
        "questions:",
        "thanks_title": "Thank you!",
        "thanks_doi": "If the address is right, we have sent a confirmation link to it. "
        "Your subscription starts only when you confirm it. The link is valid for {days} days.",
        "thanks_direct": "Thank you! Your choices have been received.",
        "confirm_title": "Confirm your subscription",
        "confirm_intro": "By pressing the button you give the following consents:",
        "confirm_button": "I confirm the subscription",
        "confirmed_title": "Subscription confirmed",
        "confirmed": "Thank you! Your subscription is confirmed. You can end it at any time "
        "from the link in every message.",
        "missing_title": "Form not found",
        "missing": "This form does not exist or is no longer in use.",
        "invalid_title": "This link is not valid",
        "invalid": "The link has expired or is damaged. You can fill in the form again.",
        "controller": "Data controller",
        "privacy_contact": "Privacy matters",
        "language_nav": "Language",
        "honeypot": "Leave this field empty",
        "lang_fi": "Suomeksi",
        "lang_sv": "På svenska",
        "lang_en": "In English",
    },
}

MAIL_TEXT: dict[str, dict[str, str]] = {
    "fi": {
        "subject": "Vahvista tilauksesi",
        "greeting": "Hei,",
        "asked": "Joku (todennäköisesti sinä) täytti lomakkeen ”{form}” tällä osoitteella "
        "ja antoi seuraavat suostumukset:",
        "version": "Tekstin versio {version}, SHA-256 {hash}",
        "confirm": "Vahvista tilaus avaamalla linkki ja painamalla sivun painiketta:",
        "confirm_link": "Vahvista tilaus",
        "valid": "Linkki on voimassa {until} asti ({days} päivää).",
        "not_you": "Jos et täyttänyt lomaketta, älä tee mitään: mitään ei tilata, ja "
        "lähetetyt tiedot poistetaan {days} päivän kuluttua.",
        "controller": "Rekisterinpitäjä",
        "business_id": "Y-tunnus",
    },
    "sv": {
        "subject": "Bekräfta din prenumeration",
        "greeting": "Hej,",
        "asked": "Någon (sannolikt du) fyllde i formuläret ”{form}” med den här adressen "
        "och gav följande samtycken:",
        "version": "Textens version {version}, SHA-256 {hash}",
        "confirm": "Bekräfta prenumerationen genom att öppna länken och trycka på knappen "
        "på sidan:",
        "confirm_link": "Bekräfta prenumerationen",
        "valid": "Länken gäller till {until} ({days} dagar).",
        "not_you": "Om det inte var du, gör ingenting: inget prenumereras, och uppgifterna "
        "raderas efter {days} dagar.",
        "controller": "Personuppgiftsansvarig",
        "business_id": "FO-nummer",
    },
    "en": {
        "subject": "Confirm your subscription",
        "greeting": "Hello,",
        "asked": "Someone (probably you) filled in the form “{form}” with this address "
        "and agreed to the following:",
        "version": "Text version {version}, SHA-256 {hash}",
        "confirm": "To confirm, open the link and press the button on the page:",
        "confirm_link": "Confirm the subscription",
        "valid": "The link is valid until {until} ({days} days).",
        "not_you": "If this was not you, ignore this mail: nothing is subscribed, and "
        "nothing is kept after {days} days.",
        "controller": "Data controller",
        "business_id": "Business ID",
    },
}
