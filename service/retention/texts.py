"""The words of the profile-transfer notice and of the forbid-transfer page,
in fi, sv and en. Placeholders are ``str.format`` fields, filled in before
the templates (which escape the result) see them."""

from __future__ import annotations

LANGUAGES = ("fi", "sv", "en")


def to_vendor(lang: str, vendor_name: str | None) -> str:
    """ "to <vendor>" in the language, or a generic phrase when none is configured."""
    if vendor_name is None:
        return {
            "fi": "profiilipalvelun tarjoajalle",
            "sv": "till profiltjänstens leverantör",
            "en": "to the profile vendor's service",
        }[lang]
    return {"fi": f"palveluntarjoajalle {vendor_name}", "sv": f"till {vendor_name}"}.get(
        lang, f"to {vendor_name}"
    )


NOTICE_TEXT: dict[str, dict[str, str]] = {
    "fi": {
        "subject": "Käyttäytymisprofiilisi siirretään {date}",
        "greeting": "Hei {name},",
        "kept": (
            "{controller} säilyttää käyttäytymisprofiiliasi (esimerkiksi DISC-raportti), joka "
            "valmistui {completed}. Tietosuojaselosteemme mukaisesti säilytämme profiileja "
            "enintään kaksi vuotta. Sen jälkeen ne siirretään palveluntarjoajalle "
            "säilytettäväksi omalla tililläsi, ja hävitämme oman kopiomme."
        ),
        "when": "Siirrämme profiilisi {to_vendor} {date}.",
        "forbid": "Jos et halua, että profiili siirretään, voit kieltää siirron täällä:",
        "forbid_link": "Kiellä siirto",
        "forbid_effect": (
            "Jos kiellät siirron, hävitämme profiilin samana päivänä emmekä luovuta sitä."
        ),
        "questions": "Kysymykset tietojesi käsittelystä: {privacy_contact}",
        "controller": "Rekisterinpitäjä",
        "business_id": "Y-tunnus",
    },
    "sv": {
        "subject": "Din beteendeprofil överlämnas den {date}",
        "greeting": "Hej {name},",
        "kept": (
            "{controller} förvarar den beteendeprofil (till exempel en DISC-rapport) som du "
            "fyllde i {completed}. Enligt vår dataskyddsbeskrivning förvarar vi sådana profiler "
            "i högst två år; därefter överlämnas de till tjänsteleverantören för förvaring på "
            "ditt konto där, och vi förstör vår egen kopia."
        ),
        "when": "Vi överlämnar din profil {to_vendor} den {date}.",
        "forbid": "Om du inte vill att profilen överlämnas kan du förbjuda överföringen här:",
        "forbid_link": "Förbjud överföringen",
        "forbid_effect": (
            "Om du förbjuder överföringen förstör vi profilen samma dag och lämnar inte ut den."
        ),
        "questions": "Frågor om dina uppgifter: {privacy_contact}",
        "controller": "Personuppgiftsansvarig",
        "business_id": "FO-nummer",
    },
    "en": {
        "subject": "Your behavioural profile will be handed over on {date}",
        "greeting": "Hello {name},",
        "kept": (
            "{controller} keeps the behavioural profile (such as a DISC report) you completed "
            "on {completed}. As our privacy notice says, we keep such profiles for at most two "
            "years; then we hand them over to the service provider, to be kept with your own "
            "account there, and destroy our own copy."
        ),
        "when": "We will hand your profile over {to_vendor} on {date}.",
        "forbid": "If you do not want it handed over, you can forbid the transfer here:",
        "forbid_link": "Forbid the transfer",
        "forbid_effect": (
            "If you forbid it, we destroy the profile on that date and hand nothing over."
        ),
        "questions": "Questions about your data: {privacy_contact}",
        "controller": "Controller",
        "business_id": "Business ID",
    },
}

PAGE_TEXT: dict[str, dict[str, str]] = {
    "fi": {
        "title": "Käyttäytymisprofiilisi siirto",
        "planned": (
            "Käyttäytymisprofiilisi (valmistunut {completed}) siirretään {date} {to_vendor} "
            "säilytettäväksi omalla tililläsi. Hävitämme silloin oman kopiomme."
        ),
        "question": (
            "Jos et halua, että profiili siirretään, voit kieltää siirron. Hävitämme profiilin "
            "silloin samana päivänä emmekä luovuta sitä."
        ),
        "button": "Kiellä siirto",
        "forbidden": "Olet kieltänyt siirron. Emme siirrä profiiliasi; hävitämme sen {date}.",
        "transferred": "Profiilisi on jo siirretty {to_vendor}. Meillä ei enää ole sitä.",
        "destroyed": "Meillä ei enää ole tätä profiilia.",
        "not_for_transfer": (
            "Tätä profiilia ei siirretä kenellekään. Poistamme sen viimeistään {date}."
        ),
        "controller": "Rekisterinpitäjä",
        "privacy_contact": "Tietosuoja-asiat",
    },
    "sv": {
        "title": "Överföring av din beteendeprofil",
        "planned": (
            "Din beteendeprofil (ifylld {completed}) överlämnas den {date} {to_vendor} för att "
            "förvaras på ditt eget konto där. Vi förstör då vår egen kopia."
        ),
        "question": (
            "Om du inte vill att profilen överlämnas kan du förbjuda överföringen. Då förstör "
            "vi profilen samma dag och lämnar inte ut den."
        ),
        "button": "Förbjud överföringen",
        "forbidden": (
            "Du har förbjudit överföringen. Vi överlämnar inte din profil; vi förstör den "
            "den {date}."
        ),
        "transferred": "Din profil har redan överlämnats {to_vendor}. Vi har den inte längre.",
        "destroyed": "Vi har inte längre denna profil.",
        "not_for_transfer": (
            "Denna profil överlämnas inte till någon. Vi raderar den senast den {date}."
        ),
        "controller": "Personuppgiftsansvarig",
        "privacy_contact": "Dataskyddsfrågor",
    },
    "en": {
        "title": "Transfer of your behavioural profile",
        "planned": (
            "Your behavioural profile, completed on {completed}, will be handed over "
            "{to_vendor} on {date}, to be kept with your own account there. We will then "
            "destroy our own copy."
        ),
        "question": (
            "If you do not want it handed over, you can forbid the transfer. We will then "
            "destroy the profile on that date and hand nothing over."
        ),
        "button": "Forbid the transfer",
        "forbidden": (
            "You have forbidden the transfer. We will not hand your profile over; we will "
            "destroy it on {date}."
        ),
        "transferred": (
            "Your profile has already been handed over {to_vendor}. We no longer hold it."
        ),
        "destroyed": "We no longer hold this profile.",
        "not_for_transfer": (
            "This profile will not be handed over to anyone. We will delete it by {date}."
        ),
        "controller": "Controller",
        "privacy_contact": "Privacy matters",
    },
}


def filled(texts: dict[str, str], **values: str) -> dict[str, str]:
    """Every text with its placeholders filled; a text without them as it is."""
    return {key: text.format(**values) for key, text in texts.items()}
