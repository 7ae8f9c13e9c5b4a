"""``consentry notice --dpia``: a DPIA screening (GDPR 35) from what is in use.

The criteria are the nine of the Article 29 Working Party's guidelines on
DPIAs (WP248 rev.01, endorsed by the EDPB): processing that meets two or more
of them is likely to result in a high risk, so a DPIA is required. Each
criterion is decided here from evidence the register holds (counts from the
database) and the settings, never from a form someone fills in; the ones
the service cannot meet by design say so. The conclusion follows the
two-criteria rule; the controller signs it off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.models import (
    ConsentState,
    Contact,
    EngagementEvent,
    Processor,
    Profile,
    RobinsonNumber,
)
from service.models.enums import ConsentAction, ProfileState, Purpose, Source
from service.settings import Settings

# WP248 gives no number for "large scale"; this screening calls a register of
# this many contacts large (the guidelines' factors: people concerned, volume,
# duration, reach). Below it the criterion is left to the controller's view.
LARGE_SCALE_CONTACTS = 10_000
# WP248: two criteria or more, a DPIA is required in most cases.
CRITERIA_FOR_DPIA = 2


@dataclass
class Evidence:
    """What the database and the settings say (counts, never people)."""

    contacts: int = 0
    profiles_kept: int = 0
    tracking_consents: int = 0
    engagement_events: int = 0
    site_origins: tuple[str, ...] = ()
    identity_codes: int = 0
    employer_sourced: int = 0
    robinson_numbers: int = 0
    phone_contacts: int = 0
    processors_outside_eea: int = 0


@dataclass
class Criterion:
    key: str
    title: str
    in_use: bool
    evidence: dict[str, Any]
    note: str
    counted: bool = True


@dataclass
class Screening:
    lang: str
    generated_at: datetime
    criteria: list[Criterion] = field(default_factory=list)

    @property
    def criteria_met(self) -> int:
        return sum(1 for c in self.criteria if c.counted and c.in_use)

    @property
    def dpia_required(self) -> bool:
        return self.criteria_met >= CRITERIA_FOR_DPIA


async def _count(session: AsyncSession, query: Any) -> int:
    return int((await session.exec(query)).one())


async def gather(session: AsyncSession, settings: Settings) -> Evidence:
    """The counts the screening rests on."""
    count = select(func.count())
    today = clock.today()
    return Evidence(
        contacts=await _count(session, count.select_from(Contact)),
        profiles_kept=await _count(
            session,
            count.select_from(Profile).where(col(Profile.state) == ProfileState.KEPT),
        ),
        tracking_consents=await _count(
            session,
            count.select_from(ConsentState).where(
                col(ConsentState.purpose) == Purpose.EMAIL_TRACKING,
                col(ConsentState.action) == ConsentAction.GRANT,
            ),
        ),
        engagement_events=await _count(
            session,
            count.select_from(EngagementEvent).where(col(EngagementEvent.contact_id).is_not(None)),
        ),
        site_origins=tuple(settings.site_origins),
        identity_codes=await _count(
            session,
            count.select_from(Contact).where(col(Contact.identity_code_hash).is_not(None)),
        ),
        employer_sourced=await _count(
            session, count.select_from(Contact).where(col(Contact.source) == Source.EMPLOYER)
        ),
        robinson_numbers=await _count(session, count.select_from(RobinsonNumber)),
        phone_contacts=await _count(
            session, count.select_from(Contact).where(col(Contact.phone_hash).is_not(None))
        ),
        processors_outside_eea=await _count(
            session,
            count.select_from(Processor).where(
                col(Processor.outside_eea).is_(True),
                (col(Processor.ended_on).is_(None)) | (col(Processor.ended_on) > today),
            ),
        ),
    )


_WORDS: dict[str, dict[str, str]] = {
    "fi": {
        "evaluation": "Arviointi tai pisteytys, myös profilointi (WP248, kriteeri 1)",
        "evaluation_note": "Toimintatyyliraportit (DISC) arvioivat henkilön toimintatyyliä.",
        "decisions": "Automaattiset päätökset, joilla on oikeusvaikutuksia (kriteeri 2)",
        "decisions_note": "Palvelu ei tee 22 artiklan päätöksiä: kohderyhmät ovat henkilökunnan "
        "rajauksia, eikä ketään pisteytetä.",
        "monitoring": "Järjestelmällinen seuranta (kriteeri 3)",
        "monitoring_note": "Viestien avausten ja klikkausten (ja sivustokäyntien) seuranta "
        "henkilöittäin suostumuksella.",
        "sensitive": "Arkaluonteiset tai hyvin henkilökohtaiset tiedot (kriteeri 4)",
        "sensitive_note": "Henkilötunnukset (tietosuojalaki 1050/2018 29 §).",
        "scale": "Laajamittainen käsittely (kriteeri 5)",
        "scale_note": "Tämä arvio pitää laajana rekisteriä, jossa on vähintään {limit} "
        "henkilöä; WP248 ei anna lukua.",
        "matching": "Aineistojen yhdistäminen (kriteeri 6)",
        "matching_note": "Puhelinnumeroita verrataan Robinson-kieltorekisteriin "
        "puhelinmarkkinointia varten.",
        "vulnerable": "Haavoittuvassa asemassa olevat rekisteröidyt (kriteeri 7)",
        "vulnerable_note": "Työnantajalta saadut tiedot: työntekijät ovat WP248:n mukaan "
        "epätasa-arvoisessa asemassa rekisterinpitäjään nähden.",
        "innovative": "Uusi teknologia (kriteeri 8)",
        "innovative_note": "Ei käytössä: tavanomaista rekisteri- ja viestintäteknologiaa.",
        "rights": "Estää oikeuden käyttämisen tai palvelun saamisen (kriteeri 9)",
        "rights_note": "Ei käytössä: rekisteri ei ratkaise kenenkään pääsyä palveluun tai "
        "sopimukseen.",
        "transfers": "Siirrot EU:n ja ETA:n ulkopuolelle (ei WP248-kriteeri; riskiarvioon)",
        "transfers_note": "Käsittelijärekisterin palveluntarjoajat EU:n ja ETA:n ulkopuolella.",
        "title": "Vaikutustenarvioinnin tarpeen arviointi (tietosuoja-asetuksen 35 artikla)",
        "lead": "Arvio on tehty {date} rekisterin tiedoista ja palvelun asetuksista WP248:n "
        "kriteereillä. Kahden tai useamman kriteerin täyttyessä vaikutustenarviointi on "
        "tehtävä.",
        "criterion": "Kriteeri",
        "in_use": "Käytössä",
        "evidence": "Näyttö",
        "yes": "kyllä",
        "no": "ei",
        "not_counted": "(ei lasketa)",
        "met": "Täyttyviä kriteerejä: {n}.",
        "required": "Johtopäätös: vaikutustenarviointi (DPIA) on tehtävä.",
        "not_required": "Johtopäätös: vaikutustenarviointia ei vaadita kahden kriteerin "
        "säännön perusteella; tämä arvio säilytetään, ja se tehdään uudelleen, kun käsittely "
        "muuttuu.",
    },
    "en": {
        "evaluation": "Evaluation or scoring, including profiling (WP248, criterion 1)",
        "evaluation_note": "Working-style reports (DISC) evaluate a person's working style.",
        "decisions": "Automated decisions with legal or similar effect (criterion 2)",
        "decisions_note": "The service makes no Article 22 decisions: segments are staff's "
        "filters, and no one is scored.",
        "monitoring": "Systematic monitoring (criterion 3)",
        "monitoring_note": "Opens and clicks of messages (and site visits) followed person by "
        "person, with consent.",
        "sensitive": "Sensitive data or data of a highly personal nature (criterion 4)",
        "sensitive_note": "Personal identity codes (Data Protection Act 1050/2018, § 29).",
        "scale": "Large-scale processing (criterion 5)",
        "scale_note": "This screening calls a register of {limit} people or more large; "
        "WP248 gives no number.",
        "matching": "Matching or combining datasets (criterion 6)",
        "matching_note": "Phone numbers are matched against the Robinson do-not-call "
        "register for telephone marketing.",
        "vulnerable": "Vulnerable data subjects (criterion 7)",
        "vulnerable_note": "Data from employers: WP248 counts employees as vulnerable "
        "(an imbalance of power).",
        "innovative": "Innovative technology (criterion 8)",
        "innovative_note": "Not in use: ordinary register and messaging technology.",
        "rights": "Prevents exercising a right or using a service (criterion 9)",
        "rights_note": "Not in use: the register decides no one's access to a service or contract.",
        "transfers": "Transfers outside the EU/EEA (not a WP248 criterion; for the risk "
        "assessment)",
        "transfers_note": "Processors in the register outside the EU/EEA.",
        "title": "DPIA screening (GDPR Article 35)",
        "lead": "Screened on {date} from the register's data and the service's settings "
        "against the WP248 criteria. Where two or more criteria hold, a data protection "
        "impact assessment is required.",
        "criterion": "Criterion",
        "in_use": "In use",
        "evidence": "Evidence",
        "yes": "yes",
        "no": "no",
        "not_counted": "(not counted)",
        "met": "Criteria met: {n}.",
        "required": "Conclusion: a data protection impact assessment (DPIA) is required.",
        "not_required": "Conclusion: no DPIA is required by the two-criteria rule; keep this "
        "screening and repeat it when the processing changes.",
    },
}


def screen(evidence: Evidence, *, lang: str) -> Screening:
    """The nine criteria (and transfers, not counted) decided from the evidence."""
    w = _WORDS[lang]
    e = evidence

    def criterion(key: str, in_use: bool, facts: dict[str, Any], **kw: Any) -> Criterion:
        note = w[f"{key}_note"].format(limit=LARGE_SCALE_CONTACTS)
        return Criterion(key=key, title=w[key], in_use=in_use, evidence=facts, note=note, **kw)

    monitoring = {
        "email_tracking_consents": e.tracking_consents,
        "engagement_events": e.engagement_events,
        "site_origins": list(e.site_origins),
    }
    return Screening(
        lang=lang,
        generated_at=clock.now(),
        criteria=[
            criterion("evaluation", e.profiles_kept > 0, {"disc_profiles_kept": e.profiles_kept}),
            criterion("decisions", False, {}),
            criterion("monitoring", e.tracking_consents > 0 or e.engagement_events > 0, monitoring),
            criterion("sensitive", e.identity_codes > 0, {"identity_codes": e.identity_codes}),
            criterion("scale", e.contacts >= LARGE_SCALE_CONTACTS, {"contacts": e.contacts}),
            criterion(
                "matching",
                e.robinson_numbers > 0,
                {"robinson_numbers": e.robinson_numbers, "contacts_with_phone": e.phone_contacts},
            ),
            criterion("vulnerable", e.employer_sourced > 0, {"from_employer": e.employer_sourced}),
            criterion("innovative", False, {}),
            criterion("rights", False, {}),
            criterion(
                "transfers",
                e.processors_outside_eea > 0,
                {"processors_outside_eea": e.processors_outside_eea},
                counted=False,
            ),
        ],
    )


def conclusion(screening: Screening) -> str:
    w = _WORDS[screening.lang]
    return w["required"] if screening.dpia_required else w["not_required"]


def to_json(screening: Screening) -> dict[str, Any]:
    return {
        "lang": screening.lang,
        "generated_at": screening.generated_at.isoformat(),
        "criteria": [
            {
                "key": c.key,
                "title": c.title,
                "in_use": c.in_use,
                "counted": c.counted,
                "evidence": c.evidence,
                "note": c.note,
            }
            for c in screening.criteria
        ],
        "criteria_met": screening.criteria_met,
        "dpia_required": screening.dpia_required,
        "conclusion": conclusion(screening),
    }


def _cell(value: str) -> str:
    return " ".join(value.split()).replace("|", "\\|")


def to_markdown(screening: Screening) -> str:
    w = _WORDS[screening.lang]
    local = screening.generated_at.astimezone(clock.LOCAL_ZONE).date()
    day = f"{local.day}.{local.month}.{local.year}" if screening.lang == "fi" else str(local)
    lines = [
        f"# {w['title']}",
        "",
        w["lead"].format(date=day),
        "",
        f"| {w['criterion']} | {w['in_use']} | {w['evidence']} |",
        "|---|---|---|",
    ]
    for c in screening.criteria:
        used = w["yes"] if c.in_use else w["no"]
        if not c.counted:
            used = f"{used} {w['not_counted']}"
        facts = ", ".join(
            f"{name} = {', '.join(value) if isinstance(value, list) else value}"
            for name, value in c.evidence.items()
            if value != []
        )
        evidence = f"{c.note} {facts}".strip() if facts else c.note
        lines.append(f"| {_cell(c.title)} | {used} | {_cell(evidence)} |")
    lines += ["", w["met"].format(n=screening.criteria_met), "", f"**{conclusion(screening)}**", ""]
    return "\n".join(lines)
