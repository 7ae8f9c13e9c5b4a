"""What GDPR Article 15(1)-(2) tells a person besides their data, in English
and Finnish: purposes and legal bases, categories, recipients, transfers,
retention, source, automated decisions, rights and the supervisory authority.

The words follow the privacy notice (§1-2, §4-8, §10-13); the retention
periods are read from service.rules and the settings, never
repeated here, so the export cannot drift from what the rules do.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from service import rules
from service.models import Contact
from service.models.enums import Language
from service.rights import texts
from service.rules import Rule as RetentionRule
from service.settings import Settings

Lang = Literal["fi", "en"]


class Controller(BaseModel):
    register_name: str
    name: str
    business_id: str
    address: str
    privacy_contact: str


class Purpose(BaseModel):
    purpose: str
    legal_basis: str


class Rule(BaseModel):
    rule: str
    text: str


class Right(BaseModel):
    right: str
    text: str


class Authority(BaseModel):
    name: str
    website: str
    text: str


class Article15(BaseModel):
    language: Lang
    controller: Controller
    purposes: list[Purpose]
    your_legal_basis: str
    processors: str
    data_categories: list[str]
    recipients: list[str]
    transfers_outside_eea: str
    retention: list[Rule]
    source: str
    automated_decisions: str
    rights: list[Right]
    how_to_use_your_rights: str
    supervisory_authority: Authority


def language_for(contact: Contact, requested: Language | None) -> Lang:
    """The requested language, else the contact's; Swedish falls back to English."""
    chosen = requested or contact.language
    return "fi" if chosen is Language.FI else "en"


_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def _retention(lang: Lang, contact: Contact, settings: Settings) -> list[Rule]:
    """One text per retention rule, named as the retention plan names them,
    with the periods read from the rules and the settings."""
    last = contact.last_service_contact_at or rules.local_date(contact.recorded_at)
    erase_on = rules.contact_due_on(last)
    years = rules.CONTACT_RETENTION_YEARS
    profile_years = rules.PROFILE_TRANSFER_YEARS
    calendar_years = rules.NO_ACCOUNT_CALENDAR_YEARS
    month, day = rules.NO_ACCOUNT_DEADLINE_MONTH_DAY
    notice = settings.profile_transfer_notice_days
    fi = lang == "fi"
    audit_days = settings.audit_retention_days
    audit_fi = f"{audit_days} päivää kirjauksesta" if audit_days else "toistaiseksi"
    audit_en = f"{audit_days} days after each entry" if audit_days else "kept with no end set"
    vendor = settings.profile_vendor_name or (
        "profiilipalvelun tarjoajalle" if fi else "the profile vendor"
    )
    if fi:
        periods = {
            RetentionRule.CONTACT_5_YEARS: f"Rekisterin tiedot: {years} vuotta viimeisimmästä "
            "palvelukontaktista tai yhteydenotosta; sinun tietosi poistetaan aikaisintaan "
            f"{erase_on:%d.%m.%Y}, ellei uutta yhteyttä ole.",
            RetentionRule.PROFILE_TRANSFER_2_YEARS: "Toimintatyyliprofiilit: enintään "
            f"{profile_years} vuotta laatimisesta, minkä jälkeen ne siirretään säilytettäviksi "
            f"({vendor}) ja oma kopio tuhotaan. Siirrosta ilmoitetaan {notice} päivää ennen, "
            "ja voit kieltää sen; silloin profiili tuhotaan siirtämättä.",
            RetentionRule.PROFILE_NO_ACCOUNT: "Jos sinulla ei ole tiliä profiilipalvelussa, "
            f"profiili säilytetään täyttövuotta seuraavat {calendar_years} kalenterivuotta ja "
            f"poistetaan seuraavan vuoden {day}.{month}. mennessä.",
            RetentionRule.PROFILE_CONSENT_WITHDRAWN: "Jos perut suostumuksesi profilointiin, "
            "profiilisi tuhotaan heti eikä niitä siirretä kenellekään.",
            RetentionRule.ENGAGEMENT_EVENTS: "Avaukset, klikkaukset ja käynnit: "
            f"{settings.engagement_retention_days} päivää.",
            RetentionRule.CALL_LISTS: f"Puhelulistat: {settings.call_list_ttl_days} päivää.",
            RetentionRule.CLOSED_REQUESTS: "Tietosuojapyyntösi: "
            f"{settings.request_retention_days} päivää käsittelyn päättymisestä.",
            RetentionRule.AUDIT_TRAIL: "Kirjausketju siitä, kuka käsitteli tietojasi ja milloin "
            f"(tunnisteita, ei itse tietoja): {audit_fi}; se säilyy tietojesi poistamisen "
            "jälkeen todisteena käsittelystä.",
            "legal_hold": "Oikeudellista vaatimusta varten tarvittavat tiedot säilytetään niin "
            "kauan kuin säilytysvelvoite on voimassa.",
            "suppression": "Jos tietosi poistetaan tai kiellät suoramarkkinoinnin, "
            "sähköpostiosoitteesi ja puhelinnumerosi avainnettu tiiviste (ei luettavissa) "
            "jää estolistalle, jotta sinuun ei oteta uudelleen yhteyttä.",
        }
    else:
        periods = {
            RetentionRule.CONTACT_5_YEARS: f"The register: {years} years from your latest "
            "service contact or contact initiative; your data is erased on "
            f"{erase_on.isoformat()} at the earliest, unless there is a new contact.",
            RetentionRule.PROFILE_TRANSFER_2_YEARS: "Behavioural profiles: at most "
            f"{profile_years} years from completion, then handed to {vendor} for storage and "
            f"our copy destroyed. You are told {notice} days before and may forbid the "
            "transfer; the profile is then destroyed instead.",
            RetentionRule.PROFILE_NO_ACCOUNT: "Without an account at the profile vendor's "
            f"service, a profile is kept for the {calendar_years} calendar years after the "
            f"year of completion and deleted by {day} {_MONTHS[month - 1]} of the year after.",
            RetentionRule.PROFILE_CONSENT_WITHDRAWN: "If you withdraw your consent to "
            "profiling, your profiles are destroyed at once and handed to no one.",
            RetentionRule.ENGAGEMENT_EVENTS: "Opens, clicks and visits: "
            f"{settings.engagement_retention_days} days.",
            RetentionRule.CALL_LISTS: f"Call lists: {settings.call_list_ttl_days} days.",
            RetentionRule.CLOSED_REQUESTS: "Your data-subject requests: "
            f"{settings.request_retention_days} days after they are closed.",
            RetentionRule.AUDIT_TRAIL: "The audit trail of who handled your data and when "
            f"(identifiers, not the data itself): {audit_en}; it outlives the erasure of your "
            "data as proof of the processing.",
            "legal_hold": "Data needed for a legal claim is kept while a legal hold is in force.",
            "suppression": "If you are erased or forbid direct marketing, a keyed hash (not "
            "readable) of your email address and phone number stays on a suppression list, so "
            "that you are not contacted again.",
        }
    return [Rule(rule=str(name), text=text) for name, text in periods.items()]


def information(contact: Contact, settings: Settings, lang: Lang) -> Article15:
    profile_purpose = Purpose(
        purpose=texts.PROFILE_PURPOSE[lang], legal_basis=texts.PROFILE_BASIS[lang]
    )
    return Article15(
        language=lang,
        controller=Controller(
            register_name=texts.REGISTER[lang],
            name=settings.controller_name,
            business_id=settings.controller_business_id,
            address=settings.controller_address,
            privacy_contact=settings.privacy_contact,
        ),
        purposes=[
            *(
                Purpose(purpose=p, legal_basis=texts.GENERAL_BASIS[lang])
                for p in texts.PURPOSES[lang]
            ),
            profile_purpose,
        ],
        your_legal_basis=texts.LEGAL_BASIS[lang][contact.legal_basis],
        processors=texts.PROCESSORS[lang],
        data_categories=texts.CATEGORIES[lang],
        recipients=texts.RECIPIENTS[lang],
        transfers_outside_eea=texts.TRANSFERS[lang],
        retention=_retention(lang, contact, settings),
        source=texts.SOURCE_LEAD[lang].format(source=texts.SOURCES[lang][contact.source]),
        automated_decisions=texts.AUTOMATED[lang],
        rights=[Right(right=name, text=text) for name, text in texts.RIGHTS[lang]],
        how_to_use_your_rights=texts.HOW[lang].format(
            name=settings.controller_name,
            address=settings.controller_address,
            contact=settings.privacy_contact,
        ),
        supervisory_authority=Authority(**texts.AUTHORITY[lang]),
    )


def as_text(info: Article15) -> str:
    """The information as plain text, for the README.txt of the portability zip."""
    fi = info.language == "fi"
    heading = {
        "controller": "Rekisterinpitäjä" if fi else "Controller",
        "purposes": "Käsittelyn tarkoitukset ja perusteet" if fi else "Purposes and legal bases",
        "categories": "Tietoryhmät" if fi else "Categories of data",
        "recipients": "Vastaanottajat" if fi else "Recipients",
        "retention": "Säilytysajat" if fi else "Retention",
        "source": "Tietolähde" if fi else "Source",
        "rights": "Oikeutesi" if fi else "Your rights",
        "authority": "Valvontaviranomainen" if fi else "Supervisory authority",
    }
    c = info.controller
    basis = "Sinun kohdallasi peruste" if fi else "Your legal basis"
    lines = [
        f"{c.register_name} — {c.name}",
        "",
        f"# {heading['controller']}",
        f"{c.name}, {c.business_id}, {c.address}; {c.privacy_contact}",
        "",
        f"# {heading['purposes']}",
        *(f"- {p.purpose} ({p.legal_basis})" for p in info.purposes),
        f"{basis}: {info.your_legal_basis}.",
        info.processors,
        "",
        f"# {heading['categories']}",
        *(f"- {item}" for item in info.data_categories),
        "",
        f"# {heading['recipients']}",
        *(f"- {item}" for item in info.recipients),
        info.transfers_outside_eea,
        "",
        f"# {heading['retention']}",
        *(f"- {rule.text}" for rule in info.retention),
        "",
        f"# {heading['source']}",
        info.source,
        info.automated_decisions,
        "",
        f"# {heading['rights']}",
        *(f"- {right.text}" for right in info.rights),
        info.how_to_use_your_rights,
        "",
        f"# {heading['authority']}",
        f"{info.supervisory_authority.name}, {info.supervisory_authority.website}",
        info.supervisory_authority.text,
        "",
    ]
    return "\n".join(lines)
