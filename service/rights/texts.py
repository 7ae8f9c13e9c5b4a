"""The fixed words of the Article 15 information, in Finnish and English,
taken from the privacy notice (§1, §4-5, §7-8, §10-13). service.rights.article15
puts them together with the contact's own facts and the retention periods."""

from __future__ import annotations

from service.models.enums import LegalBasis, Source

REGISTER = {"fi": "Asiakas- ja markkinointirekisteri", "en": "Customer and marketing register"}

GENERAL_BASIS = {
    "fi": "asiakassuhde, asiakkaan antama toimeksianto, rekisteröidyn suostumus tai muu "
    "asiallinen yhteys",
    "en": "the customer relationship, an assignment given by the customer, your consent, "
    "or another relevant connection",
}
PROFILE_BASIS = {
    "fi": "henkilön antama suostumus ennen tietojen luovuttamista",
    "en": "your consent, given before the data is handed over",
}
PURPOSES = {
    "fi": [
        "Asiakassuhteen, asiakaspalvelun ja niihin liittyvän viestinnän ja markkinoinnin "
        "hoitaminen, toteuttaminen ja seuranta.",
        "Asiakassuhteiden analysointi, ryhmittely ja raportointi, asiakasohjelman toteuttaminen "
        "sekä muut kokonaisasiakkuuden ja liiketoiminnan kehittämiseen liittyvät tarkoitukset.",
        "Asiakaspalautteen ja asiakkaan tyytyväisyystietojen kerääminen ja käsittely.",
        "Markkinointi, kuten puhelinmarkkinointi, sähköpostimarkkinointi ja muu sähköinen "
        "markkinointiviestintä.",
    ],
    "en": [
        "Managing, carrying out and following up the customer relationship, customer service "
        "and the communication and marketing around them.",
        "Analysing, grouping and reporting customer relationships, running customer programmes "
        "and developing the customer relationship as a whole and the business.",
        "Collecting and processing customer feedback and satisfaction data.",
        "Marketing: telephone marketing, email marketing and other electronic marketing.",
    ],
}
PROFILE_PURPOSE = {
    "fi": "Henkilön tai useiden henkilöiden toimintatyyliä tai yhteistoimintaa kuvaavien "
    "raporttien (esim. DISC) tuottaminen henkilön vastauksista kysymyksiin tai toteamuksiin.",
    "en": "Producing reports that describe one or more persons' working style or co-operation "
    "(behavioural profiles such as DISC) from the person's answers to questions or statements.",
}
LEGAL_BASIS = {
    "fi": {
        LegalBasis.CUSTOMER_RELATIONSHIP: "asiakassuhde",
        LegalBasis.ASSIGNMENT: "asiakkaan antama toimeksianto",
        LegalBasis.CONSENT: "antamasi suostumus",
        LegalBasis.OTHER_CONNECTION: "muu asiallinen yhteys",
    },
    "en": {
        LegalBasis.CUSTOMER_RELATIONSHIP: "the customer relationship",
        LegalBasis.ASSIGNMENT: "an assignment given by the customer",
        LegalBasis.CONSENT: "your consent",
        LegalBasis.OTHER_CONNECTION: "another relevant connection",
    },
}
PROCESSORS = {
    "fi": "Käsittelytehtäviä voidaan ulkoistaa palveluntarjoajille (henkilötietojen "
    "käsittelijöille) tietosuojalainsäädännön mukaisesti ja sen rajoissa.",
    "en": "Processing may be outsourced to service providers (processors) within the limits "
    "of data protection law.",
}
CATEGORIES = {
    "fi": [
        "Nimi, kutsumanimi, henkilötunnus, asiakasnumero, työnantaja, koulutus, asema, osoite, "
        "puhelinnumero, sähköpostiosoite, kieli, sukupuoli (vain raporttien kieliasua varten).",
        "Käsittelytiedot: tallennuspäivä, tietolähde, oikeusperuste.",
        "Suostumukset ja kiellot näyttöineen, lähetetyt viestit, asiakassuhteen tapahtumat.",
        "Evästetiedot: IP-osoitteen verkko, selaintyyppi, käyttöjärjestelmä, sivu jolta "
        "saavuttiin ja jolle siirryttiin, käynnin aika, klikkaukset.",
        "Itse tuottamasi sisältö, kuten toimintatyyliraportit.",
    ],
    "en": [
        "Name, nickname, personal identity code, customer number, employer, education, "
        "position, address, phone number, email address, language, gender (used only for "
        "the wording of reports).",
        "Processing data: the date recorded, the source, the legal basis.",
        "Consents and bans with their evidence, messages sent, customer-relationship events.",
        "Cookie data: the network of the IP address, browser type, operating system, the page "
        "you came from and went to, time of visit, clicks.",
        "Content you produced yourself, such as working-style reports.",
    ],
}
RECIPIENTS = {
    "fi": [
        "Sinun lisäksesi työnantajasi tai valmentajasi koulutus- tai kehitysohjelmissa, joihin "
        "osallistut; kun ohjelman tarkoitus on kehittää vuorovaikutusta tai yhteistyötä, myös "
        "ohjelman muut osallistujat ohjelman luonteen mukaisesti.",
        "Muutoin tietoja ei luovuteta rekisterinpitäjän ja sen lukuun toimivien "
        "palveluntarjoajien ulkopuolelle muuten kuin sopimuksen, erillisen suostumuksen tai "
        "lain perusteella.",
        "Sinusta tehdyt luovutukset on lueteltu tässä otteessa (disclosures).",
    ],
    "en": [
        "Besides you, your employer or coach in training or development programmes you take "
        "part in; where a programme develops interaction or co-operation, also the other "
        "participants, as the programme requires.",
        "Otherwise data is not disclosed outside the controller and the service providers "
        "acting for it except under a contract, a separate consent or the law.",
        "The disclosures made about you are listed in this export (disclosures).",
    ],
}
TRANSFERS = {
    "fi": "Tietoja ei siirretä EU:n tai ETA:n ulkopuolelle, ellei palvelun toteuttaminen sitä "
    "edellytä, ja silloinkin vain riittävin suojatoimin. Tällaiset luovutukset on lueteltu "
    "suojatoimineen luovutuksissa.",
    "en": "Data is not transferred outside the EU/EEA unless providing the service requires "
    "it, and then only with adequate safeguards. Any such disclosure is listed with its "
    "safeguard among the disclosures.",
}
SOURCES = {
    "fi": {
        Source.SELF: "sinulta itseltäsi",
        Source.EMPLOYER: "työnantajaltasi",
        Source.COACH: "valmentajalta, valmennusorganisaatiolta, oppilaitokselta tai vastaavalta",
        Source.PARTNER: "rekisterinpitäjän yhteistyökumppanilta (osoite- ja yhteystiedot)",
        Source.PUBLIC_SOURCE: "yleisesti saatavilla olevista lähteistä, kuten yritysten "
        "verkkosivuilta, palveluntarjoajilta ja rekistereistä",
        Source.ACTIVITY: "asiakkaiden ja heidän yhteisöjensä aktiivisuuden perusteella",
        Source.IMPORT: "rekisterinpitäjän toisesta järjestelmästä siirrettynä",
    },
    "en": {
        Source.SELF: "you yourself",
        Source.EMPLOYER: "your employer",
        Source.COACH: "a coach, coaching organisation, school or similar",
        Source.PARTNER: "a partner of the controller (address and contact data)",
        Source.PUBLIC_SOURCE: "public sources such as company websites, business information "
        "providers and registers",
        Source.ACTIVITY: "updates from the activity of customers and their organisations",
        Source.IMPORT: "an import from another system of the controller",
    },
}
SOURCE_LEAD = {
    "fi": "Tietosi saatiin {source}. Lisäksi tietoja kertyy asiakassuhteen tapahtumista, "
    "viestinnästä ja asioinnista sekä omista ilmoituksistasi (suostumukset ja kiellot).",
    "en": "Your data came from {source}. Data also comes from the events of the customer "
    "relationship, communication and dealings, and from your own notices (consents and bans).",
}
AUTOMATED = {
    "fi": "Toimintatyyliraportit (esim. DISC) ja viestien avausten ja klikkausten seuraaminen "
    "henkilöittäin ovat tietosuoja-asetuksen 4 artiklan 4 alakohdassa tarkoitettua "
    "profilointia, ja niitä tehdään vain suostumuksellasi, jonka voit perua milloin tahansa. "
    "Niiden perusteella ei tehdä 22 artiklassa tarkoitettuja pelkästään automaattiseen "
    "käsittelyyn perustuvia päätöksiä, joilla on sinua koskevia oikeusvaikutuksia tai jotka "
    "vaikuttavat sinuun vastaavalla tavalla merkittävästi. Markkinoinnin kohderyhmät ovat "
    "henkilökunnan valitsemia rajauksia.",
    "en": "Working-style reports (such as DISC) and following opens and clicks of messages "
    "person by person are profiling within the meaning of GDPR Article 4(4), done only with "
    "your consent, which you may withdraw at any time. No decision based solely on automated "
    "processing that produces legal effects concerning you or similarly significantly affects "
    "you (Article 22) is made from them. Marketing segments are filters chosen by staff.",
}
RIGHTS = {
    "fi": [
        ("access", "Tarkastusoikeus: nähdä sinusta tallennetut tiedot (tämä ote), maksutta."),
        (
            "rectification",
            "Oikaisu: vaatia virheellisen, puutteellisen, tarpeettoman tai "
            "vanhentuneen tiedon oikaisemista tai täydentämistä.",
        ),
        (
            "erasure",
            "Poistaminen: vaatia tietojesi poistamista, ellei laki edellytä niiden "
            "säilyttämistä tai niitä tarvita oikeudellisen vaateen vuoksi.",
        ),
        (
            "restriction",
            "Käsittelyn rajoittaminen: esimerkiksi sillä aikaa, kun odotat vastausta "
            "oikaisu- tai poistopyyntöösi.",
        ),
        (
            "portability",
            "Siirto-oikeus: saada itse toimittamasi tiedot koneluettavassa muodossa (JSON, CSV).",
        ),
        (
            "objection",
            "Vastustaminen: vastustaa asiakassuhteeseen tai suostumukseen perustuvaa "
            "käsittelyä erityisen tilanteesi perusteella; suoramarkkinoinnin voit kieltää milloin "
            "tahansa, ja kieltoa noudatetaan aina.",
        ),
        (
            "withdrawal",
            "Suostumuksen peruuttaminen milloin tahansa; peruuttaminen ei vaikuta "
            "sitä ennen tehtyyn käsittelyyn.",
        ),
        (
            "complaint",
            "Valitus valvontaviranomaiselle, jos katsot, ettei tietojasi käsitellä lainmukaisesti.",
        ),
    ],
    "en": [
        ("access", "Access: to see the data held about you (this export), free of charge."),
        (
            "rectification",
            "Rectification: to have wrong, incomplete, needless or outdated data "
            "corrected or completed.",
        ),
        (
            "erasure",
            "Erasure: to have your data erased, unless the law requires keeping it or "
            "it is needed for legal claims.",
        ),
        (
            "restriction",
            "Restriction: to have processing restricted, for example while a "
            "request for rectification or erasure is being handled.",
        ),
        (
            "portability",
            "Portability: to receive the data you provided in a machine-readable form (JSON, CSV).",
        ),
        (
            "objection",
            "Objection: to object to processing based on the customer relationship "
            "or consent, on grounds relating to your situation; you may forbid direct marketing "
            "at any time, and that is always honoured.",
        ),
        (
            "withdrawal",
            "Withdrawal of consent at any time; it does not affect processing "
            "before the withdrawal.",
        ),
        (
            "complaint",
            "Complaint: to the supervisory authority if you think your data is "
            "processed unlawfully.",
        ),
    ],
}
HOW = {
    "fi": "Lähetä pyyntösi postitse osoitteeseen {name}, {address} tai sähköpostilla "
    "rekisterissä olevasta osoitteestasi: {contact}. Voimme pyytää täsmentämään pyynnön "
    "kirjallisesti ja varmentaa henkilöllisyytesi. Vastaamme kuukauden kuluessa.",
    "en": "Send your request by post to {name}, {address}, or by email from the address "
    "registered with us to {contact}. We may ask you to specify it in writing and verify "
    "your identity. We answer within one month.",
}
AUTHORITY = {
    "fi": {
        "name": "Tietosuojavaltuutetun toimisto",
        "website": "https://tietosuoja.fi",
        "text": "Sinulla on oikeus tehdä valitus valvontaviranomaiselle.",
    },
    "en": {
        "name": "Office of the Data Protection Ombudsman (Tietosuojavaltuutetun toimisto)",
        "website": "https://tietosuoja.fi/en",
        "text": "You have the right to lodge a complaint with the supervisory authority.",
    },
}

ACCESS_LOG = {
    "fi": "Henkilökunnan lukukerrat ja muutokset tähän tietueeseen kirjausketjusta: kuka "
    "(henkilökunnan käyttäjänumero ja rooli), milloin, mitä, ja henkilötunnuksen näyttämiselle "
    "annettu syy. Hakuja, joiden tuloksissa oli useita henkilöitä, ei eritellä tässä "
    "henkilöittäin. Puhelulistojen lataukset, joissa olit mukana, luetellaan erikseen niin "
    "kauan kuin listan rivit säilytetään (listan vanhenemiseen asti).",
    "en": "Reads and changes of this record by staff, from the audit trail: who (the staff "
    "member's user number and role), when, what, and the reason given for showing the "
    "identity code. Searches whose results listed several people are not itemised per person "
    "here. Call-list downloads that included this person are listed separately, for as long "
    "as the list's entries are kept (until the list expires).",
}
