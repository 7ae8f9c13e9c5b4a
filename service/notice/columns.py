"""The notice's data categories, read from the tables' personal-data markers.

Every column a model lists in ``__pii_columns__`` has a name here, in Finnish
and English, and a category. The notice and the record of processing list
the columns the code marks, under these names: a new marked column without a
name here stops ``consentry notice`` (and fails the tests) instead of
silently dropping out of what the company publishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlmodel import SQLModel

import service.models  # noqa: F401  (every table on the metadata)
from service.notice.texts import NoticeIncomplete

Lang = str


class Category(StrEnum):
    """In the order the notice lists them."""

    IDENTITY = "identity"
    CONTACT = "contact"
    RELATIONSHIP = "relationship"
    CHOICES = "choices"
    MESSAGES = "messages"
    ENGAGEMENT = "engagement"
    PROFILES = "profiles"
    ROBINSON = "robinson"
    STAFF = "staff"


class Subjects(StrEnum):
    """Whose data a category is: the register's people, the people of the
    do-not-call register (hashes only), or the staff who use the service."""

    REGISTER = "register"
    ROBINSON = "robinson"
    STAFF = "staff"


SUBJECTS_OF = {
    Category.ROBINSON: Subjects.ROBINSON,
    Category.STAFF: Subjects.STAFF,
}

SUBJECT_NAMES: dict[Lang, dict[Subjects, str]] = {
    "fi": {
        Subjects.REGISTER: "Asiakkaat ja potentiaaliset asiakkaat, asiakas- ja "
        "kumppaniorganisaatioiden yhteyshenkilöt sekä valmennuksiin osallistuvat",
        Subjects.ROBINSON: "Henkilöt, jotka ovat kieltäneet puhelinmarkkinoinnin "
        "Robinson-palvelussa (vain puhelinnumeron avainnettu tiiviste)",
        Subjects.STAFF: "Rekisteriä käyttävä henkilökunta",
    },
    "en": {
        Subjects.REGISTER: "Customers and prospective customers, contact persons of customer "
        "and partner organisations, and participants of coaching programmes",
        Subjects.ROBINSON: "People who have forbidden telephone marketing in the Robinson "
        "service (a keyed hash of the phone number only)",
        Subjects.STAFF: "Staff who use the register",
    },
}

CATEGORY_NAMES: dict[Lang, dict[Category, str]] = {
    "fi": {
        Category.IDENTITY: "Perustiedot",
        Category.CONTACT: "Yhteystiedot",
        Category.RELATIONSHIP: "Asiakassuhde ja käsittelyn tiedot",
        Category.CHOICES: "Suostumukset, kiellot ja oikeuksien käyttö",
        Category.MESSAGES: "Viestit",
        Category.ENGAGEMENT: "Viesteistä ja evästeistä kertyvät tiedot",
        Category.PROFILES: "Toimintatyyliprofiilit",
        Category.ROBINSON: "Puhelinmarkkinoinnin kieltorekisteri (Robinson)",
        Category.STAFF: "Henkilökunnan käyttäjät ja kirjausketju",
    },
    "en": {
        Category.IDENTITY: "Identity and background",
        Category.CONTACT: "Contact details",
        Category.RELATIONSHIP: "The customer relationship and processing metadata",
        Category.CHOICES: "Consents, bans and the use of rights",
        Category.MESSAGES: "Messages",
        Category.ENGAGEMENT: "Data from messages and cookies",
        Category.PROFILES: "Behavioural profiles",
        Category.ROBINSON: "The do-not-call register (Robinson)",
        Category.STAFF: "Staff users and the audit trail",
    },
}

# What a category holds besides marked columns: facts about the person kept in
# columns that are vocabulary or dates (who consented to what, and when).
EXTRAS: dict[Lang, dict[Category, tuple[str, ...]]] = {
    "fi": {
        Category.IDENTITY: ("henkilö vai yrityksen yhteyshenkilö",),
        Category.RELATIONSHIP: (
            "asiakkuus",
            "käsittelyperuste",
            "tietolähde",
            "tietojen kirjaamis- ja muutospäivämäärät",
        ),
        Category.CHOICES: (
            "suostumukset ja kiellot kanavittain ja tarkoituksittain: milloin, miten ja "
            "mistä ne saatiin",
        ),
        Category.MESSAGES: ("lähetetyt viestit, niiden toimitustila ja palautuneet viestit",),
        Category.ENGAGEMENT: ("avauksen, klikkauksen tai käynnin ajankohta ja kohde",),
    },
    "en": {
        Category.IDENTITY: ("person or a business's contact person",),
        Category.RELATIONSHIP: (
            "customer status",
            "legal basis",
            "data source",
            "the dates the data was recorded and changed",
        ),
        Category.CHOICES: (
            "consents and bans per channel and purpose: when, how and where they came from",
        ),
        Category.MESSAGES: ("the messages sent, their delivery status and bounces",),
        Category.ENGAGEMENT: ("the time and target of each open, click or visit",),
    },
}


@dataclass(frozen=True, slots=True)
class Described:
    category: Category
    fi: str
    en: str

    def name(self, lang: Lang) -> str:
        return self.fi if lang == "fi" else self.en


def _d(category: Category, fi: str, en: str) -> Described:
    return Described(category, fi, en)


_ID, _CO, _REL, _CH = Category.IDENTITY, Category.CONTACT, Category.RELATIONSHIP, Category.CHOICES
_MSG, _ENG, _PRO = Category.MESSAGES, Category.ENGAGEMENT, Category.PROFILES
_ROB, _STA = Category.ROBINSON, Category.STAFF
_EMAIL = _d(_CO, "sähköpostiosoite", "email address")
_PHONE = _d(_CO, "puhelinnumero", "phone number")
_HETU = _d(_ID, "henkilötunnus (salattuna)", "personal identity code (encrypted)")
_HOLD = _d(
    _CH,
    "oikeudellisen vaateen vuoksi säilyttämisen perusteet",
    "reasons for keeping data for a legal claim",
)
_RESTRICT = _d(_CH, "käsittelyn rajoittamisen perusteet", "reasons for restricting processing")

# The same name for a column and its keyed hash: the notice lists what is
# known about a person, not how it is stored.
COLUMNS: dict[tuple[str, str], Described] = {
    ("contacts", "full_name"): _d(_ID, "nimi", "name"),
    ("contacts", "nickname"): _d(_ID, "kutsumanimi", "nickname (the name the person goes by)"),
    ("contacts", "identity_code_encrypted"): _HETU,
    ("contacts", "identity_code_hash"): _HETU,
    ("contacts", "customer_number"): _d(_ID, "asiakasnumero", "customer number"),
    ("contacts", "employer"): _d(_ID, "työnantaja", "employer"),
    ("contacts", "education"): _d(_ID, "koulutus", "education"),
    ("contacts", "position"): _d(_ID, "asema", "position"),
    ("contacts", "language"): _d(_ID, "kieli", "language"),
    ("contacts", "gender"): _d(
        _ID,
        "sukupuoli (vain tuotettavan tekstin kieliasun, kuten pronominien, valintaan)",
        "gender (used only to get the language of generated text right, e.g. pronouns)",
    ),
    ("contacts", "email"): _EMAIL,
    ("contacts", "email_hash"): _EMAIL,
    ("contacts", "phone"): _PHONE,
    ("contacts", "phone_hash"): _PHONE,
    ("contacts", "street_address"): _d(_CO, "katuosoite", "street address"),
    ("contacts", "postal_code"): _d(_CO, "postinumero", "postal code"),
    ("contacts", "city"): _d(_CO, "postitoimipaikka", "city"),
    ("contacts", "country"): _d(_CO, "maa", "country"),
    ("contacts", "last_service_contact_at"): _d(
        _REL,
        "viimeisimmän palvelukontaktin tai yhteydenoton päivä",
        "the date of the latest service contact or contact initiative",
    ),
    ("contact_tags", "tag"): _d(_REL, "ryhmittelytunnisteet", "grouping tags"),
    ("interactions", "note"): _d(
        _REL, "asiakassuhteen tapahtumien muistiinpanot", "notes on customer-relationship events"
    ),
    ("interactions", "details"): _d(
        _REL, "ostojen ja palvelukontaktien tiedot", "details of purchases and service contacts"
    ),
    ("interactions", "product_group"): _d(
        _REL, "ostettujen tuotteiden tuoteryhmä", "the product group of a purchase"
    ),
    ("consent_events", "evidence_text"): _d(
        _CH, "suostumusta pyydettäessä näytetty teksti", "the text shown when consent was asked"
    ),
    ("consent_events", "evidence_ip"): _d(
        _CH,
        "verkko, josta suostumus annettiin (lyhennetty IP-osoite)",
        "the network consent was given from (a truncated IP address)",
    ),
    ("consent_events", "submission_ip"): _d(
        _CH,
        "verkko, josta tilauslomake lähetettiin (lyhennetty IP-osoite)",
        "the network a signup form was sent from (a truncated IP address)",
    ),
    ("signups", "submission_ip"): _d(
        _CH,
        "verkko, josta tilauslomake lähetettiin (lyhennetty IP-osoite)",
        "the network a signup form was sent from (a truncated IP address)",
    ),
    ("signups", "confirmation_ip"): _d(
        _CH,
        "verkko, josta tilaus vahvistettiin (lyhennetty IP-osoite)",
        "the network a signup was confirmed from (a truncated IP address)",
    ),
    ("site_consent_events", "visitor"): _d(
        _CH,
        "verkkosivuston evästevalintojen satunnainen tunniste",
        "the random identifier of a website visitor's cookie choices",
    ),
    ("site_consent_events", "ip_network"): _d(
        _CH,
        "verkko, josta evästevalinta tehtiin (lyhennetty IP-osoite)",
        "the network a cookie choice was made from (a truncated IP address)",
    ),
    ("bans", "note"): _d(_CH, "kieltojen lisätiedot", "notes on bans"),
    ("bans", "lift_note"): _d(_CH, "kieltojen lisätiedot", "notes on bans"),
    ("objections", "grounds"): _d(_CH, "vastustamisen perusteet", "grounds of an objection"),
    ("objections", "decision_note"): _d(
        _CH, "vastustamista koskevan päätöksen perustelut", "reasons for deciding an objection"
    ),
    ("restrictions", "reason"): _RESTRICT,
    ("restrictions", "lift_note"): _RESTRICT,
    ("legal_holds", "reason"): _HOLD,
    ("legal_holds", "lift_note"): _HOLD,
    ("data_subject_requests", "requester"): _d(
        _CH, "tietosuojapyynnön esittäjä", "who made a data-subject request"
    ),
    ("data_subject_requests", "description"): _d(
        _CH, "tietosuojapyynnön sisältö", "what a data-subject request asked"
    ),
    ("data_subject_requests", "extension_reason"): _d(
        _CH, "vastausajan pidentämisen peruste", "why the time to answer was extended"
    ),
    ("data_subject_requests", "outcome"): _d(
        _CH, "tietosuojapyynnön ratkaisu", "how a data-subject request was answered"
    ),
    ("disclosures", "recipient_name"): _d(
        _CH, "tietojen luovutusten vastaanottajat", "recipients of disclosures"
    ),
    ("disclosures", "data_categories"): _d(
        _CH, "luovutetut tietoryhmät", "data categories disclosed"
    ),
    ("disclosures", "purpose"): _d(_CH, "luovutusten tarkoitus", "purposes of disclosures"),
    ("recipient_notifications", "recipient_name"): _d(
        _CH,
        "vastaanottajat, joille tietojen oikaisusta, poistosta tai rajoittamisesta ilmoitetaan",
        "recipients told of a rectification, erasure or restriction",
    ),
    ("recipient_notifications", "note"): _d(
        _CH,
        "vastaanottajille ilmoittamisen lisätiedot",
        "notes on telling recipients",
    ),
    ("campaign_recipients", "smtp_reply"): _d(
        _MSG,
        "vastaanottavan palvelimen vastaus viestin toimitukseen",
        "the receiving mail server's reply to a delivery",
    ),
    ("engagement_events", "page"): _d(_ENG, "sivu, jolla käytiin", "the page visited"),
    ("engagement_events", "referrer"): _d(
        _ENG, "sivu, jolta saavuttiin", "the page the visitor came from"
    ),
    ("engagement_events", "next_page"): _d(
        _ENG, "sivu, jolle siirryttiin seuraavaksi", "the page the visitor went to next"
    ),
    ("engagement_events", "ip_network"): _d(
        _ENG, "IP-osoite lyhennettynä verkko-osaansa", "the IP address cut to its network"
    ),
    ("engagement_events", "browser_family"): _d(_ENG, "selaintyyppi", "browser type"),
    ("engagement_events", "browser_major"): _d(_ENG, "selaimen versio", "browser version"),
    ("engagement_events", "os_family"): _d(_ENG, "käyttöjärjestelmä", "operating system"),
    ("profiles", "content_encrypted"): _d(
        _PRO,
        "toimintatyyliprofiili (esim. DISC) ja sen sisältö, salattuna",
        "the behavioural profile (e.g. DISC) and its content, encrypted",
    ),
    ("robinson_numbers", "phone_hash"): _d(
        _ROB,
        "kieltorekisteriin merkittyjen puhelinnumeroiden avainnetut tiivisteet (ei luettavissa)",
        "keyed hashes (not readable) of the phone numbers listed in the register",
    ),
    ("users", "email"): _d(_STA, "käyttäjien sähköpostiosoitteet", "staff users' email addresses"),
    ("login_attempts", "ip_address"): _d(
        _STA, "kirjautumisyritysten IP-osoitteet", "IP addresses of login attempts"
    ),
    ("audit_events", "ip_network"): _d(
        _STA,
        "verkko, josta käsittely tehtiin (lyhennetty IP-osoite)",
        "the network an action came from (a truncated IP address)",
    ),
    ("audit_events", "reason"): _d(
        _STA,
        "henkilötunnuksen näyttämiselle annettu syy",
        "the reason given for showing an identity code",
    ),
    ("robinson_extracts", "file_name"): _d(
        _STA, "ladattujen kieltorekisteritiedostojen nimet", "names of the do-not-call files loaded"
    ),
}


class UndescribedColumns(NoticeIncomplete):
    """Marked personal-data columns with no name in the notice."""

    def __init__(self, columns: list[tuple[str, str]]) -> None:
        self.columns = columns
        listed = ", ".join(f"{table}.{column}" for table, column in columns)
        super().__init__(
            f"personal-data columns without a name in the privacy notice: {listed} "
            "(add them to service/notice/columns.py)"
        )


def _models() -> dict[str, Any]:
    registry: Any = SQLModel._sa_registry
    return {mapper.local_table.name: mapper.class_ for mapper in registry.mappers}


def personal_columns() -> list[tuple[str, str]]:
    """Every (table, column) a model marks as personal data, in table order."""
    models = _models()
    return [
        (table.name, column)
        for table in SQLModel.metadata.sorted_tables
        # A table without a model has no marker (the inventory test flags it).
        for column in getattr(models.get(table.name), "__pii_columns__", ())
    ]


def undescribed() -> list[tuple[str, str]]:
    return [key for key in personal_columns() if key not in COLUMNS]


def stale() -> list[tuple[str, str]]:
    """Names kept here for columns no table marks (any more)."""
    marked = set(personal_columns())
    return [key for key in COLUMNS if key not in marked]


@dataclass(frozen=True, slots=True)
class Listing:
    category: Category
    subjects: Subjects
    name: str
    items: tuple[str, ...]


def listings(lang: Lang, subjects: frozenset[Subjects]) -> list[Listing]:
    """The categories of the given subjects, each with the names of its
    marked columns (in the order above, each name once) and its extras."""
    missing = undescribed()
    if missing:
        raise UndescribedColumns(missing)
    marked = set(personal_columns())
    found = []
    for category in Category:
        whose = SUBJECTS_OF.get(category, Subjects.REGISTER)
        if whose not in subjects:
            continue
        names = [
            described.name(lang)
            for key, described in COLUMNS.items()
            if key in marked and described.category is category
        ]
        items = tuple(dict.fromkeys([*names, *EXTRAS[lang].get(category, ())]))
        if items:
            found.append(Listing(category, whose, CATEGORY_NAMES[lang][category], items))
    return found
