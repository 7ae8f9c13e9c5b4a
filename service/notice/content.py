"""What the notice says, assembled from the settings and the code.

Everything the templates print that could drift is computed here: the
controller from the settings, the data categories from the tables'
markers, the bases from the consent gate's channels, the retention periods
from service.rules and the settings, the security measures from
what the software does. The templates add the fixed prose around them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from service import clock, rules
from service.consent.queries import OPT_IN_CHANNELS, Gate, GateContext
from service.models import Processor
from service.models.enums import (
    BanKind,
    Channel,
    DisclosureRecipient,
    LegalBasis,
    Purpose,
    Reason,
    Source,
    VerificationMethod,
)
from service.notice import texts
from service.notice.columns import SUBJECT_NAMES, Subjects, listings
from service.notice.measures import join, security_measures
from service.notice.profiling import profiling
from service.notice.texts import text_for
from service.requests.deadlines import ANSWER_MONTHS, MAX_EXTENSION_MONTHS
from service.rights import texts as rights_texts
from service.rules import Rule
from service.settings import DEV_PLACEHOLDER, Settings

LANGUAGES = ("fi", "en")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
# The transfer is described before its notice; the other rules follow in the
# order the retention plan runs them.
_RULES_FIRST = (Rule.CONTACT_5_YEARS, Rule.PROFILE_TRANSFER_2_YEARS, Rule.PROFILE_TRANSFER_NOTICE)

_TEXT = {
    "fi": {
        "api": "Henkilökunta kirjaa tiedot palvelun rajapinnan kautta, ja jokaiseen henkilöön, "
        "suostumukseen ja kieltoon kirjataan sen lähde.",
        "import": "Tiedostosta tuoduista tiedoista kirjataan lähteeksi tuonti sekä tiedoston "
        "nimi ja aika. Tuonti ei koskaan kumoa aiemmin kirjattua kieltoa, suostumuksen "
        "peruutusta, vastustamista eikä estolistaa.",
        "public": "Rekisteröidyn omat valinnat viestien linkeistä: markkinoinnin peruminen, "
        "asetussivu, jolla suostumuksia voi antaa ja perua, ja profiilin siirron kieltäminen.",
        "inbound": "Osoitteeseen {unsubscribe} lähetetty viesti peruu "
        "sähköpostimarkkinoinnin. Palautusosoitteeseen ({bounce}) palaavat toimitusilmoitukset "
        "merkitsevät toimimattomat osoitteet estolistalle (olematon osoite heti; täysi "
        "postilaatikko tai tilapäinen virhe {limit} kerran jälkeen; vastaanottavan palvelimen "
        "käytäntöihin perustuva torjunta ei koskaan).",
        "complaints": "Kun vastaanottaja merkitsee viestimme roskapostiksi ja hänen "
        "sähköpostipalvelunsa ilmoittaa siitä meille, sähköpostimarkkinoinnin suostumus "
        "perutaan ja osoite merkitään estolistalle.",
        "tracking": "Viestien avaukset ja linkkien klikkaukset kirjataan henkilöittäin vain "
        "sähköpostiseurantaan suostuneilta.",
        "site": "Verkkosivuston ({origins}) käynnit kirjataan vain seurantaan suostuneilta ja "
        "vain, kun heidän sivuston evästebannerissa antamansa suostumus analytiikkaevästeisiin "
        "on kirjattu ja voimassa, eikä lainkaan, jos selain pyytää olemaan seuraamatta (Do Not "
        "Track, Global Privacy Control). Evästevalinnat kirjataan suostumuksen todisteeksi: "
        "luokka, valinta, näytetyn tekstin versio, selaimen satunnainen tunniste ja lyhennetty "
        "IP-osoite.",
        "no_site": "Verkkosivuston käyntejä ei kirjata.",
        "robinson": "Suomen Asiakkuusmarkkinointiliiton Robinson-palvelun puhelinmarkkinoinnin "
        "kieltorekisteri: puhelinnumeroiden avainnetut tiivisteet, vain puhelinmarkkinoinnin "
        "estämiseksi.",
        "bans": "{kinds} tallennetaan rekisteröidyn rekisterinpitäjälle tekemistä erillisistä "
        "ilmoituksista.",
        "suppression": "Estolista: kun henkilön tiedot poistetaan tai hän kieltää "
        "suoramarkkinoinnin, hänen sähköpostiosoitteensa ja puhelinnumeronsa avainnettu "
        "tiiviste (ei luettavissa) jää estolistalle, jotta häneen ei oteta uudelleen yhteyttä "
        "eikä häntä tuoda rekisteriin uudelleen.",
        "legal_hold": "Tietoja, joita tarvitaan oikeudellisen vaateen laatimiseen, esittämiseen "
        "tai puolustamiseen, säilytetään niin kauan kuin peruste on voimassa; säilytysaikojen "
        "mukaiset poistot odottavat siihen asti.",
        "backups": "Varmuuskopiot: {days} päivää.",
        "vendor": "Toimintatyyliprofiilit siirretään säilytysajan päätyttyä profiilipalvelun "
        "tarjoajalle{vendor} (kohta 6).",
        "relay": "Sähköpostit lähetetään lähtevän postin palvelimen kautta.",
        "disclosure_log": "Jokainen luovutus kirjataan (vastaanottaja, tiedot, aika ja "
        "tarkoitus), ja luettelo sisältyy rekisteröidyn tarkastusotteeseen.",
        "transfers": "Tietoja ei siirretä EU:n tai Euroopan talousalueen ulkopuolelle, ellei se "
        "ole palvelun toteuttamisen vuoksi tarpeellista. Tällöinkin huolehditaan riittävästä "
        "tietosuojan tasosta, ja jokainen tällainen luovutus kirjataan suojatoimineen.",
        "no_dpo": "Rekisterinpitäjä ei ole nimennyt tietosuojavastaavaa.",
        "processors_lead": "Palveluntarjoajat, jotka käsittelevät tietoja lukuumme "
        "(henkilötietojen käsittelijät):",
        "processor": "{name}: {service} ({country})",
        "processor_record": "{name}: {service}; käsittelymaa {country}{contract}",
        "contract": "; sopimus {date}",
        "outside": "{name}: {service} ({country}, EU:n ja ETA:n ulkopuolella; suojatoimi: "
        "{safeguard})",
        "no_outside": "Mikään käsittelijärekisterin palveluntarjoaja ei käsittele tietoja EU:n "
        "tai ETA:n ulkopuolella.",
        "no_processors": "Käsittelijärekisterissä ei ole palveluntarjoajia.",
    },
    "en": {
        "api": "Staff record data through the service's interface, and every person, consent "
        "and ban is recorded with its source.",
        "import": "Data imported from a file is recorded with the source “import”, the file's "
        "name and the time. An import never overrides a ban, a withdrawal of consent, an "
        "objection or the suppression list recorded before it.",
        "public": "The person's own choices from the links in messages: unsubscribing, the "
        "preference page where consents are given and withdrawn, and forbidding the transfer "
        "of a profile.",
        "inbound": "Mail sent to {unsubscribe} withdraws email marketing. Delivery reports "
        "returning to the bounce address ({bounce}) put addresses that do not work on the "
        "suppression list (an address that does not exist at once; a full mailbox or a "
        "temporary failure after {limit} times; a refusal by the receiving server's policy "
        "never).",
        "complaints": "When a recipient marks our message as spam and their mail provider "
        "tells us so, their consent to email marketing is withdrawn and the address is put on "
        "the suppression list.",
        "tracking": "Opens of messages and clicks on their links are recorded person by "
        "person only for those who consented to email tracking.",
        "site": "Visits to the website ({origins}) are recorded only for those who consented "
        "to tracking, only while their consent to analytics cookies, given in the site's "
        "cookie banner, is on record, and never when the browser asks not to be tracked (Do "
        "Not Track, Global Privacy Control). Cookie choices are recorded as proof of consent: "
        "the category, the choice, the version of the text shown, the browser's random "
        "identifier and a truncated IP address.",
        "no_site": "Visits to the website are not recorded.",
        "robinson": "The do-not-call register of the Finnish direct marketing association's "
        "Robinson service: keyed hashes of phone numbers, only to leave them out of telephone "
        "marketing.",
        "bans": "{kinds} are recorded from the person's separate notices to the controller.",
        "suppression": "The suppression list: when a person's data is erased or they forbid "
        "direct marketing, a keyed hash (not readable) of their email address and phone number "
        "stays on the suppression list, so that they are not contacted or imported again.",
        "legal_hold": "Data needed to establish, exercise or defend a legal claim is kept while "
        "that need lasts; the erasures the retention periods call for wait until then.",
        "backups": "Backups: {days} days.",
        "vendor": "Behavioural profiles are transferred to the profile service provider"
        "{vendor} when their retention ends (section 6).",
        "relay": "Email is sent through the outgoing mail server.",
        "disclosure_log": "Every disclosure is recorded (recipient, data, time and purpose), "
        "and the list is part of the person's access export.",
        "transfers": "Data is not transferred outside the EU or the European Economic Area "
        "unless providing the service requires it. Even then an adequate level of protection "
        "is ensured, and every such disclosure is recorded with its safeguard.",
        "no_dpo": "The controller has not designated a data protection officer.",
        "processors_lead": "Service providers that process data on our behalf (processors):",
        "processor": "{name}: {service} ({country})",
        "processor_record": "{name}: {service}; processed in {country}{contract}",
        "contract": "; agreement of {date}",
        "outside": "{name}: {service} ({country}, outside the EU/EEA; safeguard: {safeguard})",
        "no_outside": "No service provider in the processors register processes data outside "
        "the EU/EEA.",
        "no_processors": "The processors register lists no service providers.",
    },
}


def robinson_screened(today: date) -> bool:
    """Whether the consent gate leaves Robinson-listed numbers out of phone marketing."""
    gate = Gate(GateContext(channel=Channel.PHONE, purpose=Purpose.DIRECT_MARKETING, today=today))
    return Reason.ROBINSON_LISTED in gate.reasons


def soft_opt_in_evidenced(today: date) -> bool:
    """Whether the consent gate's soft opt-in asks for a purchase's evidence
    (the address obtained in it, the person told they may refuse)."""
    context = GateContext(
        channel=Channel.EMAIL, purpose=Purpose.DIRECT_MARKETING, today=today, similar_products=True
    )
    reasons = Gate(context).reasons
    return Reason.NO_PURCHASE_RECORD in reasons and Reason.NO_REFUSAL_NOTICE in reasons


def marketing_bases(lang: str, today: date) -> list[str]:
    """The basis per purpose and channel, as the consent gate applies them."""
    names = texts.CHANNELS[lang]

    def channels(chosen: list[Channel]) -> str:
        return join([text_for(names, channel, "channel") for channel in chosen], lang)

    opt_in = [channel for channel in Channel if channel in OPT_IN_CHANNELS]
    opt_out = [channel for channel in Channel if channel not in OPT_IN_CHANNELS]
    lines = []
    if opt_in:
        lines.append(texts.DIRECT_MARKETING_OPT_IN[lang].format(channels=channels(opt_in)))
        if soft_opt_in_evidenced(today):
            lines.append(texts.SOFT_OPT_IN_EVIDENCE[lang])
    if opt_out:
        lines.append(texts.DIRECT_MARKETING_OPT_OUT[lang].format(channels=channels(opt_out)))
    if robinson_screened(today):
        lines.append(texts.ROBINSON[lang])
    lines += [
        text_for(texts.CONSENT_ONLY[lang], purpose, "purpose")
        for purpose in Purpose
        if purpose is not Purpose.DIRECT_MARKETING
    ]
    return lines


def retention(settings: Settings, lang: str) -> list[str]:
    """One text per rule the retention plan runs, with its period, then the
    periods of what the rules keep on purpose."""
    month, day = rules.NO_ACCOUNT_DEADLINE_MONTH_DAY
    vendor = f" ({settings.profile_vendor_name})" if settings.profile_vendor_name else ""
    values: dict[Rule, dict[str, Any]] = {
        Rule.CONTACT_5_YEARS: {"years": rules.CONTACT_RETENTION_YEARS},
        Rule.PROFILE_TRANSFER_2_YEARS: {"years": rules.PROFILE_TRANSFER_YEARS, "vendor": vendor},
        Rule.PROFILE_TRANSFER_NOTICE: {"days": settings.profile_transfer_notice_days},
        Rule.PROFILE_NO_ACCOUNT: {
            "years": rules.NO_ACCOUNT_CALENDAR_YEARS,
            "deadline": f"{day}.{month}." if lang == "fi" else f"{day} {_MONTHS[month - 1]}",
        },
        Rule.ENGAGEMENT_EVENTS: {
            "days": settings.engagement_retention_days,
            "cookie_days": settings.visit_cookie_days,
        },
        Rule.CALL_LISTS: {"days": settings.call_list_ttl_days},
        Rule.CLOSED_REQUESTS: {"days": settings.request_retention_days},
        Rule.UNCONFIRMED_SIGNUPS: {"days": settings.doi_expiry_days},
        Rule.PROFILE_CONSENT_WITHDRAWN: {},
        Rule.ANONYMOUS_SITE_CONSENTS: {
            "days": settings.visit_cookie_days + rules.SITE_CONSENT_MARGIN_DAYS,
            "margin": rules.SITE_CONSENT_MARGIN_DAYS,
        },
        Rule.AUDIT_TRAIL: {"period": _audit_period(settings.audit_retention_days, lang)},
    }
    order = [*_RULES_FIRST, *(rule for rule in Rule if rule not in _RULES_FIRST)]
    lines = [
        text_for(texts.RETENTION[lang], rule, "retention rule").format(
            **text_for(values, rule, "retention rule")
        )
        for rule in order
    ]
    text = _TEXT[lang]
    lines += [text["suppression"], text["legal_hold"]]
    if settings.backup_time is not None:
        lines.append(text["backups"].format(days=settings.backup_keep_days))
    return lines


def _audit_period(days: int, lang: str) -> str:
    if not days:
        return "toistaiseksi" if lang == "fi" else "for now, with no end set"
    return f"{days} päivää kirjauksesta" if lang == "fi" else f"for {days} days after each entry"


def sources(settings: Settings, lang: str, *, robinson: bool) -> tuple[list[str], list[str]]:
    """Where data comes from (the Source vocabulary), and how it reaches the register."""
    text = _TEXT[lang]
    origins = [text_for(texts.SOURCES[lang], source, "source") for source in Source]
    kinds = [text_for(texts.BAN_KINDS[lang], kind, "ban kind") for kind in BanKind]
    bans = text["bans"].format(kinds=join(kinds, lang))
    origins.append(bans[0].upper() + bans[1:])
    bounce = join(list(dict.fromkeys([settings.mail_from_address, settings.bounce_address])), lang)
    ways = [
        text["api"],
        text["import"],
        text["public"],
        text["inbound"].format(
            unsubscribe=settings.unsubscribe_address,
            bounce=bounce,
            limit=settings.soft_bounce_limit,
        ),
        text["complaints"],
        text["tracking"],
        text["site"].format(origins=", ".join(settings.site_origins))
        if settings.site_origins
        else text["no_site"],
    ]
    if robinson:
        ways.append(text["robinson"])
    return origins, ways


def processor_lines(processors: Sequence[Processor] | None, lang: str) -> dict[str, Any]:
    """The processors register as the notice and the record name it: every
    active processor by service and country, and the transfers outside the
    EU/EEA with their safeguards. ``None``: the register was not read (the
    texts then say only what the law allows in general)."""
    if processors is None:
        return {"known": False, "notice": [], "record": [], "transfers": []}
    text = _TEXT[lang]

    def day(value: date) -> str:
        return f"{value.day}.{value.month}.{value.year}" if lang == "fi" else value.isoformat()

    notice, record, transfers = [], [], []
    for row in processors:
        facts = {"name": row.name, "service": row.service, "country": row.country}
        notice.append(
            text["outside"].format(**facts, safeguard=row.safeguard)
            if row.outside_eea
            else text["processor"].format(**facts)
        )
        contract = text["contract"].format(date=day(row.contract_date)) if row.contract_date else ""
        record.append(text["processor_record"].format(**facts, contract=contract))
        if row.outside_eea:
            transfers.append(text["outside"].format(**facts, safeguard=row.safeguard))
    return {
        "known": True,
        "lead": text["processors_lead"],
        "notice": notice,
        "record": record or [text["no_processors"]],
        "transfers": transfers or [text["no_outside"]],
    }


def placeholders(settings: Settings) -> list[str]:
    """The identity settings still at their dev placeholder."""
    names = {
        "CONSENTRY_CONTROLLER_NAME": settings.controller_name,
        "CONSENTRY_CONTROLLER_BUSINESS_ID": settings.controller_business_id,
        "CONSENTRY_CONTROLLER_ADDRESS": settings.controller_address,
        "CONSENTRY_PRIVACY_CONTACT": settings.privacy_contact,
    }
    return [name for name, value in names.items() if value == DEV_PLACEHOLDER]


def context(
    settings: Settings, lang: str, processors: Sequence[Processor] | None = None
) -> dict[str, Any]:
    """Everything the templates of ``lang`` print; ``processors``: the active
    processors from the register, or None when it was not read."""
    if lang not in LANGUAGES:
        raise ValueError(f"no notice in {lang!r}; choose {' or '.join(LANGUAGES)}")
    today = clock.today()
    text = _TEXT[lang]
    everything = listings(lang, frozenset(Subjects))
    register = [listing for listing in everything if listing.subjects is not Subjects.STAFF]
    origins, ways = sources(
        settings,
        lang,
        robinson=any(listing.subjects is Subjects.ROBINSON for listing in register),
    )
    vendor = f" ({settings.profile_vendor_name})" if settings.profile_vendor_name else ""
    return {
        "today": today,
        "controller": {
            "name": settings.controller_name,
            "business_id": settings.controller_business_id,
            "address": settings.controller_address,
            "privacy_contact": settings.privacy_contact,
        },
        "dpo": settings.dpo_contact or text["no_dpo"],
        "has_dpo": settings.dpo_contact is not None,
        "register_name": rights_texts.REGISTER[lang],
        "legal_bases": [
            text_for(texts.LEGAL_BASES[lang], basis, "legal basis") for basis in LegalBasis
        ],
        "purposes": rights_texts.PURPOSES[lang],
        "profile_purpose": rights_texts.PROFILE_PURPOSE[lang],
        "processors": rights_texts.PROCESSORS[lang],
        "marketing_bases": marketing_bases(lang, today),
        "categories": register,
        "subject_groups": [
            {"name": SUBJECT_NAMES[lang][subjects], "categories": listed}
            for subjects in Subjects
            if (listed := [c for c in everything if c.subjects is subjects])
        ],
        "retention": retention(settings, lang),
        "sources": origins,
        "intake": ways,
        "recipients": [
            text_for(texts.RECIPIENTS[lang], recipient, "disclosure recipient")
            for recipient in DisclosureRecipient
        ],
        "vendor": text["vendor"].format(vendor=vendor),
        "relay": text["relay"],
        "disclosure_log": text["disclosure_log"],
        "transfers": text["transfers"],
        "processor_register": processor_lines(processors, lang),
        "profiling": profiling(settings, lang),
        "security": security_measures(settings, lang),
        "unsubscribe_address": settings.unsubscribe_address,
        "answer_months": ANSWER_MONTHS,
        "extension_months": MAX_EXTENSION_MONTHS,
        "verification": [
            text_for(texts.VERIFICATION[lang], method, "verification method")
            for method in VerificationMethod
        ],
        "authority": rights_texts.AUTHORITY[lang],
    }
