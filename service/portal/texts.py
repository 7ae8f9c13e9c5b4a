"""The words of the privacy portal (``/me``) and its link mail, in fi, sv and en.

The consent choices' labels are the preference centre's
(service.consent.texts.CHOICE_LABELS) plus profiling, so a choice reads the
same wherever the person makes it; each label is archived as the text shown
(service.consent.archive, key ``portal:{channel}.{purpose}``).
"""

from __future__ import annotations

from service.consent.texts import CHOICE_LABELS
from service.models.enums import Channel, Purpose

LANGUAGES = ("fi", "sv", "en")

# Every choice the page offers, in the order shown. Profiling reports need a
# consent on any channel (service.consent.service.granted); the portal
# records its choice on email.
PROFILING = (Channel.EMAIL, Purpose.PROFILING_REPORT)
CHOICES: tuple[tuple[Channel, Purpose], ...] = (*CHOICE_LABELS["en"], PROFILING)

_PROFILING_LABEL = {
    "fi": "Toimintatyyliraportit (esim. DISC): vastauksistani tehty profiili",
    "sv": "Arbetsstilsrapporter (t.ex. DISC): en profil av mina svar",
    "en": "Working-style reports (e.g. DISC): a profile made from my answers",
}


def choice_label(lang: str, pair: tuple[Channel, Purpose]) -> str:
    if pair == PROFILING:
        return _PROFILING_LABEL[lang]
    return CHOICE_LABELS[lang][pair]


PAGE_TEXT: dict[str, dict[str, str]] = {
    "fi": {
        "start_title": "Omat tietosi",
        "start_intro": (
            "Kirjoita sähköpostiosoitteesi. Jos osoite on rekisterissämme, lähetämme siihen "
            "linkin, jolla pääset näkemään tietosi ja muuttamaan suostumuksiasi."
        ),
        "email": "Sähköpostiosoite",
        "website": "Jätä tämä kenttä tyhjäksi",
        "send": "Lähetä linkki",
        "bad_email": "Tarkista sähköpostiosoite: se ei ole kelvollinen.",
        "sent_title": "Katso sähköpostisi",
        "sent": (
            "Jos osoite on rekisterissämme, linkki on matkalla siihen. Linkki toimii kerran "
            "ja 30 minuutin ajan."
        ),
        "open_title": "Avaa omat tietosi",
        "open_intro": "Avaa sivusi painamalla painiketta. Linkki toimii vain kerran.",
        "open": "Avaa oma sivuni",
        "invalid_title": "Linkki ei kelpaa",
        "invalid": "Linkki on vanhentunut tai jo käytetty. Pyydä uusi linkki.",
        "ask_again": "Pyydä uusi linkki",
        "ended": "Istuntosi on päättynyt. Pyydä uusi linkki.",
        "forbidden": "Pyyntöä ei voitu käsitellä. Avaa sivu uudelleen ja yritä uudestaan.",
        "page_title": "Omat tietosi",
        "held": "Sinusta tallennetut tiedot",
        "none": "ei tallennettu",
        "export": "Lataa kaikki tietosi (JSON)",
        "export_note": "Tiedosto sisältää kaiken, mitä meillä on sinusta, ja tietoa käsittelystä.",
        "consents": "Suostumuksesi",
        "consents_intro": (
            "Valitse, miten saamme olla sinuun yhteydessä. Muutos tulee voimaan heti."
        ),
        "yes": "Kyllä",
        "no": "Ei",
        "save": "Tallenna valinnat",
        "saved": "Valintasi on tallennettu.",
        "rights": "Oikeutesi",
        "erasure": "Pyydän tietojeni poistamista",
        "rectification": "Pyydän tietojeni korjaamista",
        "rectification_what": "Mikä tiedoissa on väärin?",
        "restriction": "Pyydän käsittelyn rajoittamista",
        "objection": "Kiellän suoramarkkinoinnin kaikissa kanavissa",
        "objection_done": "Suoramarkkinointikielto on voimassa.",
        "asked": "Pyyntösi on kirjattu. Vastaamme viimeistään {due}.",
        "already": "Sinulla on jo avoin pyyntö: vastaamme viimeistään {due}.",
        "open_requests": "Avoimet pyyntösi",
        "due": "vastaus viimeistään",
        "logout": "Kirjaudu ulos",
        "logged_out": "Olet kirjautunut ulos.",
        "controller": "Rekisterinpitäjä",
        "privacy_contact": "Tietosuoja-asiat",
        "field_full_name": "Nimi",
        "field_nickname": "Kutsumanimi",
        "field_email": "Sähköposti",
        "field_phone": "Puhelin",
        "field_customer_number": "Asiakasnumero",
        "field_employer": "Työnantaja",
        "field_position": "Asema",
        "field_education": "Koulutus",
        "field_address": "Osoite",
        "field_language": "Kieli",
        "field_customer": "Asiakas",
        "type_erasure": "poistaminen",
        "type_rectification": "korjaaminen",
        "type_restriction": "rajoittaminen",
        "type_objection": "vastustaminen",
        "mail_subject": "Linkki omiin tietoihisi",
        "mail_intro": "Pyysit linkkiä, jolla näet sinusta tallennetut tiedot.",
        "mail_link": "Avaa omat tietosi",
        "mail_expiry": "Linkki toimii kerran ja 30 minuutin ajan.",
        "mail_ignore": "Jos et pyytänyt linkkiä, voit jättää tämän viestin huomiotta.",
    },
    "sv": {
        "start_title": "Dina uppgifter",
        "start_intro": (
            "Skriv din e-postadress. Om adressen finns i vårt register skickar vi en länk "
            "dit, där du kan se dina uppgifter och ändra dina samtycken."
        ),
        "email": "E-postadress",
        "website": "Lämna det här fältet tomt",
        "send": "Skicka länken",
        "bad_email": "Kontrollera e-postadressen: den är inte giltig.",
        "sent_title": "Titta i din e-post",
        "sent": (
            "Om adressen finns i vårt register är en länk på väg dit. Länken fungerar en "
            "gång och i 30 minuter."
        ),
        "open_title": "Öppna dina uppgifter",
        "open_intro": "Öppna din sida med knappen. Länken fungerar bara en gång.",
        "open": "Öppna min sida",
        "invalid_title": "Länken är ogiltig",
        "invalid": "Länken har gått ut eller redan använts. Be om en ny länk.",
        "ask_again": "Be om en ny länk",
        "ended": "Din session har gått ut. Be om en ny länk.",
        "forbidden": "Begäran kunde inte behandlas. Öppna sidan igen och försök på nytt.",
        "page_title": "Dina uppgifter",
        "held": "Uppgifter vi har om dig",
        "none": "inte sparat",
        "export": "Ladda ner alla dina uppgifter (JSON)",
        "export_note": "Filen innehåller allt vi har om dig och information om behandlingen.",
        "consents": "Dina samtycken",
        "consents_intro": "Välj hur vi får kontakta dig. Ändringen gäller genast.",
        "yes": "Ja",
        "no": "Nej",
        "save": "Spara valen",
        "saved": "Dina val är sparade.",
        "rights": "Dina rättigheter",
        "erasure": "Jag begär att mina uppgifter raderas",
        "rectification": "Jag begär att mina uppgifter rättas",
        "rectification_what": "Vad är fel i uppgifterna?",
        "restriction": "Jag begär begränsning av behandlingen",
        "objection": "Jag förbjuder direktmarknadsföring i alla kanaler",
        "objection_done": "Förbudet mot direktmarknadsföring gäller.",
        "asked": "Din begäran är registrerad. Vi svarar senast {due}.",
        "already": "Du har redan en öppen begäran: vi svarar senast {due}.",
        "open_requests": "Dina öppna begäranden",
        "due": "svar senast",
        "logout": "Logga ut",
        "logged_out": "Du har loggat ut.",
        "controller": "Personuppgiftsansvarig",
        "privacy_contact": "Dataskyddsfrågor",
        "field_full_name": "Namn",
        "field_nickname": "Tilltalsnamn",
        "field_email": "E-post",
        "field_phone": "Telefon",
        "field_customer_number": "Kundnummer",
        "field_employer": "Arbetsgivare",
        "field_position": "Befattning",
        "field_education": "Utbildning",
        "field_address": "Adress",
        "field_language": "Språk",
        "field_customer": "Kund",
        "type_erasure": "radering",
        "type_rectification": "rättelse",
        "type_restriction": "begränsning",
        "type_objection": "invändning",
        "mail_subject": "Länk till dina uppgifter",
        "mail_intro": "Du bad om en länk där du kan se de uppgifter vi har om dig.",
        "mail_link": "Öppna dina uppgifter",
        "mail_expiry": "Länken fungerar en gång och i 30 minuter.",
        "mail_ignore": "Om du inte bad om länken kan du bortse från detta meddelande.",
    },
    "en": {
        "start_title": "Your data",
        "start_intro": (
            "Type your email address. If it is in our register, we send a link to it where "
            "you can see your data and change your consents."
        ),
        "email": "Email address",
        "website": "Leave this field empty",
        "send": "Send the link",
        "bad_email": "Check the email address: it is not valid.",
        "sent_title": "Check your email",
        "sent": (
            "If this address is in our register, a link is on its way to it. It works once, "
            "for 30 minutes."
        ),
        "open_title": "Open your data",
        "open_intro": "Press the button to open your page. The link works only once.",
        "open": "Open my page",
        "invalid_title": "This link is not valid",
        "invalid": "The link has expired or has been used. Ask for a new one.",
        "ask_again": "Ask for a new link",
        "ended": "Your session has ended. Ask for a new link.",
        "forbidden": "The request could not be handled. Open the page again and retry.",
        "page_title": "Your data",
        "held": "What we hold about you",
        "none": "not recorded",
        "export": "Download all your data (JSON)",
        "export_note": "The file holds everything we have about you and how it is processed.",
        "consents": "Your consents",
        "consents_intro": "Choose how we may contact you. A change takes effect at once.",
        "yes": "Yes",
        "no": "No",
        "save": "Save my choices",
        "saved": "Your choices are saved.",
        "rights": "Your rights",
        "erasure": "I ask you to erase my data",
        "rectification": "I ask you to correct my data",
        "rectification_what": "What is wrong in the data?",
        "restriction": "I ask you to restrict the processing",
        "objection": "I object to direct marketing on every channel",
        "objection_done": "Your objection to direct marketing is in force.",
        "asked": "Your request is recorded. We will answer by {due}.",
        "already": "You already have an open request: we will answer by {due}.",
        "open_requests": "Your open requests",
        "due": "answer by",
        "logout": "Log out",
        "logged_out": "You have logged out.",
        "controller": "Controller",
        "privacy_contact": "Privacy contact",
        "field_full_name": "Name",
        "field_nickname": "Nickname",
        "field_email": "Email",
        "field_phone": "Phone",
        "field_customer_number": "Customer number",
        "field_employer": "Employer",
        "field_position": "Position",
        "field_education": "Education",
        "field_address": "Address",
        "field_language": "Language",
        "field_customer": "Customer",
        "type_erasure": "erasure",
        "type_rectification": "rectification",
        "type_restriction": "restriction",
        "type_objection": "objection",
        "mail_subject": "A link to your data",
        "mail_intro": "You asked for a link to see the data we hold about you.",
        "mail_link": "Open your data",
        "mail_expiry": "The link works once, for 30 minutes.",
        "mail_ignore": "If you did not ask for it, you can ignore this message.",
    },
}
