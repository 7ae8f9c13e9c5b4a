"""The words of the notice for each member of the register's vocabularies.

One text per enum member (legal bases, channels, purposes, sources,
retention rules, recipients, verification methods, roles): the notice walks
the enums, so a member added to the code without a text here stops the
command and fails the tests rather than vanishing from the notice. Periods
are ``{placeholders}`` filled from service.rules and the settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

from service.models.enums import (
    BanKind,
    Channel,
    DisclosureRecipient,
    LegalBasis,
    Purpose,
    Role,
    Source,
    VerificationMethod,
)
from service.rules import Rule

K = TypeVar("K", bound=Enum)
V = TypeVar("V")


class NoticeIncomplete(Exception):
    """The code has something the notice has no words for; the message says what."""


def text_for(table: Mapping[K, V], key: K, what: str) -> V:
    """``table[key]``, or a NoticeIncomplete naming what has no text."""
    try:
        return table[key]
    except KeyError:
        raise NoticeIncomplete(
            f"{what} {key.value!r} has no text in the privacy notice (service/notice/)"
        ) from None


_A6 = {"fi": "tietosuoja-asetuksen 6 artiklan 1 kohdan", "en": "GDPR Article 6(1)"}

LEGAL_BASES: dict[str, dict[LegalBasis, tuple[str, str]]] = {
    "fi": {
        LegalBasis.CUSTOMER_RELATIONSHIP: (
            "asiakassuhde",
            f"sopimuksen täytäntöönpano ja rekisterinpitäjän oikeutettu etu ({_A6['fi']} "
            "b ja f alakohta)",
        ),
        LegalBasis.ASSIGNMENT: (
            "asiakkaan antama toimeksianto",
            f"sopimuksen täytäntöönpano ({_A6['fi']} b alakohta)",
        ),
        LegalBasis.CONSENT: ("rekisteröidyn suostumus", f"suostumus ({_A6['fi']} a alakohta)"),
        LegalBasis.OTHER_CONNECTION: (
            "muu asiallinen yhteys",
            f"rekisterinpitäjän oikeutettu etu ({_A6['fi']} f alakohta)",
        ),
    },
    "en": {
        LegalBasis.CUSTOMER_RELATIONSHIP: (
            "the customer relationship",
            f"performance of a contract and the controller's legitimate interest "
            f"({_A6['en']}(b) and (f))",
        ),
        LegalBasis.ASSIGNMENT: (
            "an assignment given by the customer",
            f"performance of a contract ({_A6['en']}(b))",
        ),
        LegalBasis.CONSENT: ("the person's consent", f"consent ({_A6['en']}(a))"),
        LegalBasis.OTHER_CONNECTION: (
            "another relevant connection",
            f"the controller's legitimate interest ({_A6['en']}(f))",
        ),
    },
}

CHANNELS: dict[str, dict[Channel, str]] = {
    "fi": {
        Channel.EMAIL: "sähköposti",
        Channel.SMS: "tekstiviesti",
        Channel.PHONE: "puhelin",
        Channel.POST: "posti",
    },
    "en": {
        Channel.EMAIL: "email",
        Channel.SMS: "text message",
        Channel.PHONE: "telephone",
        Channel.POST: "post",
    },
}
AND = {"fi": "ja", "en": "and"}

# Direct marketing on the channels where a person must opt in (the consent
# gate's OPT_IN_CHANNELS), and on the others.
DIRECT_MARKETING_OPT_IN = {
    "fi": "Suoramarkkinointi ({channels}): luonnolliselle henkilölle vain hänen ennalta "
    f"antamallaan suostumuksella ({_A6['fi']} a alakohta; sähköisen viestinnän palveluista "
    "annetun lain 200 §:n 1 momentti). Ilman suostumusta vain rekisterinpitäjän omien "
    "samankaltaisten tuotteiden tai palvelujen markkinointi asiakkaalle, joka ei ole kieltänyt "
    "sitä (200 §:n 3 momentti), ja markkinointi yritysten yhteyshenkilöille heidän "
    "tehtäväänsä liittyen, kunnes he kieltävät sen (202 §): yhteyshenkilöstä kirjataan "
    "työnantaja ja asema, ja ilman niitä häntä kohdellaan luonnollisena henkilönä; näissä "
    f"perusteena on oikeutettu etu ({_A6['fi']} f alakohta).",
    "en": "Direct marketing by {channels}: to a natural person only with their prior consent "
    f"({_A6['en']}(a); Finnish Act on Electronic Communications Services, section 200(1)). "
    "Without consent, only offers of the controller's own similar products or services to a "
    "customer who has not forbidden them (section 200(3)), and marketing to the contact "
    "persons of businesses, about their role, until they forbid it (section 202): a contact "
    "person's employer and position are recorded, and one without them is treated as a "
    f"private person; these rest on legitimate interest ({_A6['en']}(f)).",
}
DIRECT_MARKETING_OPT_OUT = {
    "fi": "Suoramarkkinointi ({channels}): rekisterinpitäjän oikeutettu etu "
    f"({_A6['fi']} f alakohta), kunnes rekisteröity kieltää sen (sähköisen viestinnän "
    "palveluista annetun lain 200 §:n 2 momentti).",
    "en": "Direct marketing by {channels}: the controller's legitimate interest "
    f"({_A6['en']}(f)) until the person forbids it (section 200(2) of the same Act).",
}
# Soft opt-in's evidence, as the consent gate asks it (no_purchase_record,
# no_refusal_notice).
SOFT_OPT_IN_EVIDENCE = {
    "fi": "Asiakkaalle ilman suostumusta lähetettävä markkinointi perustuu kirjattuun ostoon "
    "(päivä ja tuoteryhmä), jonka yhteydessä sähköpostiosoite tai puhelinnumero saatiin, ja "
    "kirjaukseen siitä, että asiakkaalle kerrottiin tuolloin hänen oikeudestaan kieltää "
    "markkinointi helposti ja maksutta; ilman näitä kirjauksia markkinointia ei lähetetä.",
    "en": "Marketing to a customer without consent rests on a recorded purchase (its date and "
    "product group) in which their email address or phone number was obtained, and on a "
    "record that they were told then that they may refuse such marketing easily and free of "
    "charge; without these records no such marketing is sent.",
}
ROBINSON = {
    "fi": "Puhelinmarkkinoinnista jätetään pois numerot, jotka on merkitty Suomen "
    "Asiakkuusmarkkinointiliiton Robinson-palvelun kieltorekisteriin.",
    "en": "Telephone marketing leaves out the numbers listed in the do-not-call register of "
    "the Finnish direct marketing association's Robinson service.",
}
# Purposes other than direct marketing: the gate asks for consent, always.
CONSENT_ONLY: dict[str, dict[Purpose, str]] = {
    "fi": {
        Purpose.EMAIL_TRACKING: "Sähköpostiviestien avausten ja linkkien klikkausten "
        "seuranta henkilöittäin sekä verkkosivuston käyntien seuranta: vain suostumuksella "
        f"({_A6['fi']} a alakohta; sähköisen viestinnän palveluista annetun lain 205 §). "
        "Ilman suostumusta viesteissä ei ole henkilökohtaista seurantaa.",
        Purpose.PROFILING_REPORT: "Toimintatyyliraportit (esim. DISC): henkilön antama "
        f"suostumus ennen tietojen luovuttamista ({_A6['fi']} a alakohta).",
    },
    "en": {
        Purpose.EMAIL_TRACKING: "Following the opens of emails and the clicks on their "
        "links person by person, and visits to the website: only with consent "
        f"({_A6['en']}(a); section 205 of the Act). Without consent, messages carry no "
        "personal tracking.",
        Purpose.PROFILING_REPORT: "Working-style reports (e.g. DISC): the person's consent, "
        f"given before the data is handed over ({_A6['en']}(a)).",
    },
}

SOURCES: dict[str, dict[Source, str]] = {
    "fi": {
        Source.SELF: "Rekisteröity itse sekä hänen asiakkuuteensa, palveluiden käyttöön, "
        "viestintään ja asiointiin liittyvät tapahtumat.",
        Source.EMPLOYER: "Rekisteröidyn työnantaja.",
        Source.COACH: "Valmentaja, valmennusorganisaatio, oppilaitos tai vastaava.",
        Source.PARTNER: "Rekisterinpitäjän yhteistyökumppanit (osoite- ja yhteystiedot).",
        Source.PUBLIC_SOURCE: "Yleisesti saatavilla olevat lähteet, esimerkiksi yritysten "
        "verkkosivut ja palveluntarjoajat, sekä julkiset ja yksityiset rekisterit.",
        Source.ACTIVITY: "Nimi-, osoite- ja muiden yhteystietojen päivitykset asiakkaiden ja "
        "heidän yhteisöjensä aktiivisuuden perusteella.",
        Source.IMPORT: "Rekisterinpitäjän muista järjestelmistä tiedostona tuodut tiedot.",
    },
    "en": {
        Source.SELF: "The person, and the events of their customer relationship, service "
        "use, communication and dealings.",
        Source.EMPLOYER: "The person's employer.",
        Source.COACH: "A coach, coaching organisation, school or similar.",
        Source.PARTNER: "The controller's partners (address and contact data).",
        Source.PUBLIC_SOURCE: "Public sources such as company websites and service "
        "providers, and public and private registers.",
        Source.ACTIVITY: "Updates of names, addresses and contact data from the activity of "
        "customers and their organisations.",
        Source.IMPORT: "Data imported as files from the controller's other systems.",
    },
}
BAN_KINDS: dict[str, dict[BanKind, str]] = {
    "fi": {
        BanKind.DIRECT_MARKETING: "suoramarkkinointikielto",
        BanKind.PURCHASE_REGISTRATION: "ostojen rekisteröintikielto",
    },
    "en": {
        BanKind.DIRECT_MARKETING: "a ban on direct marketing",
        BanKind.PURCHASE_REGISTRATION: "a ban on registering purchases",
    },
}

RETENTION: dict[str, dict[Rule, str]] = {
    "fi": {
        Rule.CONTACT_5_YEARS: "Asiakas- ja markkinointirekisterin tiedot säilytetään, kunnes "
        "asiakassuhteen voidaan katsoa päättyneen: {years} vuotta rekisteröidyn viimeisimmästä "
        "palvelukontaktista tai yhteydenotosta (jos sellaista ei ole, tietojen kirjaamisesta). "
        "Sen jälkeen tiedot poistetaan.",
        Rule.PROFILE_TRANSFER_2_YEARS: "Toimintatyyliprofiilit (esim. DISC) kerätään "
        "suostumuksella ja erillään asiakasrekisterin tiedoista. Jos rekisteröidyllä on tili "
        "profiilipalvelussa{vendor}, profiili säilytetään enintään {years} vuotta laatimisesta, "
        "minkä jälkeen se siirretään palveluntarjoajalle säilytettäväksi ja oma kopio tuhotaan "
        "siirron yhteydessä. Jos rekisteröity kieltää siirron tai ilmoitusta ei voida toimittaa "
        "hänelle, profiili tuhotaan siirtämättä.",
        Rule.PROFILE_TRANSFER_NOTICE: "Siirrosta ilmoitetaan rekisteröidylle sähköpostilla "
        "{days} päivää ennen siirtoa, ja hän voi kieltää sen ilmoituksen linkistä. Profiili "
        "luovutetaan salattuna pakettina, jonka vain palveluntarjoajan oma avain avaa, ja "
        "jokainen luovutus kirjataan luovutuslokiin (vastaanottaja, maa ja EU/ETA-alueen "
        "ulkopuolella suojatoimi).",
        Rule.PROFILE_NO_ACCOUNT: "Jos rekisteröidyllä ei ole tiliä profiilipalvelussa eikä "
        "muuta ole sovittu, profiili säilytetään täyttövuotta seuraavat {years} kalenterivuotta "
        "ja poistetaan niitä seuraavan vuoden {deadline} mennessä.",
        Rule.ENGAGEMENT_EVENTS: "Viestien avaukset ja klikkaukset sekä verkkosivuston käynnit: "
        "{days} päivää. Seurantaeväste on voimassa enintään {cookie_days} päivää.",
        Rule.CALL_LISTS: "Puhelinmarkkinoinnin soittolistat: {days} päivää laatimisesta.",
        Rule.CLOSED_REQUESTS: "Tietosuojapyyntöjen käsittelytiedot: {days} päivää pyynnön "
        "käsittelyn päättymisestä.",
        Rule.UNCONFIRMED_SIGNUPS: "Vahvistamattomat tilaukset: jos tilauslomakkeen lähettäjä ei "
        "vahvista tilausta sähköpostiin lähetetystä linkistä, tilaus ja sen tuomat tiedot "
        "poistetaan {days} päivän kuluttua.",
        Rule.PROFILE_CONSENT_WITHDRAWN: "Jos rekisteröity peruu suostumuksensa profilointiin, "
        "hänen profiilinsa tuhotaan heti eikä niitä siirretä palveluntarjoajalle (paitsi "
        "oikeudellisen vaatimuksen tai käsittelyn rajoituksen ajan).",
        Rule.ANONYMOUS_SITE_CONSENTS: "Verkkosivuston evästevalinnat, joita ei ole liitetty "
        "rekisteröityyn (kävijä ei ole tullut sivustolle seurattavan linkin kautta): {days} "
        "päivää, eli suostumusevästeen voimassaoloajan ja {margin} päivää sen jälkeen.",
        Rule.AUDIT_TRAIL: "Kirjausketju (kuka käsitteli tietoja ja milloin) säilytetään "
        "{period}. Siinä on tunnisteita, ei käsiteltyjä tietoja, ja se säilyy henkilön "
        "tietojen poistamisen jälkeen todisteena käsittelystä. Vanhimmat merkinnät "
        "poistetaan niin, että poisto kirjataan ja säilytetty osa voidaan yhä todentaa.",
    },
    "en": {
        Rule.CONTACT_5_YEARS: "The customer and marketing register keeps a person's data until "
        "the customer relationship can be considered ended: {years} years from the person's "
        "latest service contact or contact initiative (with none, from when the data was "
        "recorded). The data is then erased.",
        Rule.PROFILE_TRANSFER_2_YEARS: "Behavioural profiles (e.g. DISC) are made with consent "
        "and kept apart from the customer register. Where the person has an account at the "
        "profile service{vendor}, a profile is kept at most {years} years after it was made, "
        "then transferred to the service provider for storage, and the controller's copy is "
        "destroyed at the transfer. If the person forbids the transfer, or the notice of it "
        "cannot reach them, the profile is destroyed instead.",
        Rule.PROFILE_TRANSFER_NOTICE: "The person is told of the transfer by email {days} days "
        "before it and may forbid it from a link in that notice. The profile is handed over as "
        "an encrypted package only the service provider's own key opens, and each hand-over "
        "is recorded in the disclosures log (recipient, country and, outside the EU/EEA, "
        "safeguard).",
        Rule.PROFILE_NO_ACCOUNT: "Where the person has no account at the profile service and "
        "nothing else was agreed, a profile is kept for the {years} calendar years following "
        "the year it was completed and deleted by {deadline} of the year after.",
        Rule.ENGAGEMENT_EVENTS: "Opens and clicks of messages and visits to the website: "
        "{days} days. The tracking cookie lasts at most {cookie_days} days.",
        Rule.CALL_LISTS: "Telephone marketing call lists: {days} days after they are made.",
        Rule.CLOSED_REQUESTS: "Records of data-subject requests: {days} days after the "
        "request was closed.",
        Rule.UNCONFIRMED_SIGNUPS: "Unconfirmed signups: when whoever sent a signup form does "
        "not confirm it from the link mailed to them, the signup and the data it brought are "
        "deleted after {days} days.",
        Rule.PROFILE_CONSENT_WITHDRAWN: "If the person withdraws their consent to profiling, "
        "their profiles are destroyed at once and never transferred to the service provider "
        "(except while a legal hold or a restriction of processing is in force).",
        Rule.ANONYMOUS_SITE_CONSENTS: "Choices made in the website's cookie banner that were "
        "never linked to a person (the visitor did not arrive through a tracked link): {days} "
        "days, the consent cookie's lifetime and {margin} days after it.",
        Rule.AUDIT_TRAIL: "The audit trail (who handled the data, and when) is kept {period}. "
        "It holds identifiers, not the data handled, and it outlives the erasure of a person "
        "as proof of the processing. Its oldest entries are removed so that the removal is "
        "recorded and the part kept can still be verified.",
    },
}

RECIPIENTS: dict[str, dict[DisclosureRecipient, str]] = {
    "fi": {
        DisclosureRecipient.EMPLOYER: "Rekisteröidyn työnantaja koulutus- tai "
        "kehitysohjelmissa, joihin rekisteröity osallistuu.",
        DisclosureRecipient.COACH: "Rekisteröidyn valmentaja näissä ohjelmissa.",
        DisclosureRecipient.PROGRAMME_PARTICIPANTS: "Ohjelman muut osallistujat yhteistä "
        "käsittelyä varten, kun ohjelman tarkoitus on kehittää ihmisten välistä "
        "vuorovaikutusta tai yhteistyötaitoja.",
        DisclosureRecipient.AUTHORITY: "Viranomaiset, kun laki sitä edellyttää.",
        DisclosureRecipient.OTHER: "Muut vastaanottajat vain sopimuksen, erillisen "
        "suostumuksen tai nimenomaisen säädöksen perusteella.",
    },
    "en": {
        DisclosureRecipient.EMPLOYER: "The person's employer, in training or development "
        "programmes the person takes part in.",
        DisclosureRecipient.COACH: "The person's coach in those programmes.",
        DisclosureRecipient.PROGRAMME_PARTICIPANTS: "The other participants of a programme, "
        "for joint work, where the programme develops interaction or co-operation.",
        DisclosureRecipient.AUTHORITY: "Authorities, where the law requires it.",
        DisclosureRecipient.OTHER: "Others only under a contract, a separate consent or an "
        "express provision of law.",
    },
}

VERIFICATION: dict[str, dict[VerificationMethod, str]] = {
    "fi": {
        VerificationMethod.REGISTERED_EMAIL_REPLY: "vastaus rekisterissä olevaan "
        "sähköpostiosoitteeseen lähetettyyn viestiin",
        VerificationMethod.STRONG_IDENTIFICATION: "vahva sähköinen tunnistautuminen",
        VerificationMethod.IN_PERSON_ID_DOCUMENT: "käynti paikan päällä "
        "henkilöllisyystodistuksen kanssa",
        VerificationMethod.EMAIL_LINK: "kertakäyttöinen linkki rekisterissä olevaan "
        "sähköpostiosoitteeseen (tietosuojasivu)",
    },
    "en": {
        VerificationMethod.REGISTERED_EMAIL_REPLY: "a reply to a message sent to the email "
        "address in the register",
        VerificationMethod.STRONG_IDENTIFICATION: "strong electronic identification",
        VerificationMethod.IN_PERSON_ID_DOCUMENT: "a visit in person with an identity document",
        VerificationMethod.EMAIL_LINK: "a one-time link sent to the email address in the "
        "register (the privacy page)",
    },
}

ROLES: dict[str, dict[Role, str]] = {
    "fi": {
        Role.ADMIN: "ylläpitäjä",
        Role.MARKETER: "markkinoija",
        Role.PRIVACY_OFFICER: "tietosuoja-asioiden hoitaja",
        Role.CALLER: "puhelinmyyjä",
        Role.VIEWER: "katselija",
    },
    "en": {
        Role.ADMIN: "administrator",
        Role.MARKETER: "marketer",
        Role.PRIVACY_OFFICER: "privacy officer",
        Role.CALLER: "caller",
        Role.VIEWER: "viewer",
    },
}
