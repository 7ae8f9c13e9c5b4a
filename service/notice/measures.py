"""The notice's security measures (§9, Article 30(1)(g)): what the software
does, read from the code and the settings rather than promised in prose.

A measure the configuration turns off is not claimed: with no scheduled
backups, no HTTPS public URL or no TLS to the mail relay, the notice says
so or stays silent.
"""

from __future__ import annotations

from service.auth.permissions import ROLE_PERMISSIONS, Permission
from service.auth.service import MIN_PASSWORD_LENGTH
from service.models import User
from service.models.enums import Role
from service.notice.texts import AND, ROLES, text_for
from service.settings import Settings, SmtpTls

_TEXT = {
    "fi": {
        "identity_code": "Henkilötunnukset tallennetaan salattuina (AES-256-GCM) avaimella, "
        "jota säilytetään erillään tietokannasta, ja niitä haetaan avainnetulla tiivisteellä. "
        "Henkilötunnus näytetään aina peitettynä; kokonaan sen voivat nähdä vain "
        "nämä roolit: {roles}; näyttämisen syy kirjataan.",
        "profiles": "Toimintatyyliprofiilien sisältö tallennetaan salattuna, ja niitä voivat "
        "lukea vain nämä roolit: {roles}.",
        "accounts": "Rekisteriä käytetään vain henkilökohtaisilla käyttäjätunnuksilla. "
        "Salasanat (vähintään {length} merkkiä) tallennetaan vain Argon2id-tiivisteinä.",
        "second_factor": "Kirjautuminen selaimella vaatii salasanan lisäksi toisen "
        "tunnistautumistekijän (todennussovelluksen kertakoodi), ja toistuvat epäonnistuneet "
        "kirjautumisyritykset estetään.",
        "tokens": "Ohjelmallisen käytön avaimet ovat henkilökohtaisia; ne voidaan rajata "
        "roolia suppeammiksi, asettaa vanhenemaan ja perua, ja niistä tallennetaan vain "
        "tiiviste.",
        "roles": "Käyttöoikeudet on jaettu rooleihin ({roles}), ja kullekin käyttäjälle "
        "annetaan tehtävän kannalta riittävä mutta mahdollisimman suppea rooli. Henkilöiden "
        "tietoja voivat lukea vain roolit {readers}, ja puhelulistoja voivat ladata vain roolit "
        "{callers}.",
        "audit": "Jokainen henkilötietojen luku ja muutos sekä jokainen torjuttu käyttöyritys "
        "kirjataan kirjausketjuun: kuka, mitä, milloin ja mistä verkosta. Ketjuun voi vain "
        "lisätä, ja sen rivit on sidottu toisiinsa tiivisteillä, joten muutettu tai poistettu "
        "rivi havaitaan.",
        "backups": "Tietokannasta otetaan joka yö kello {time} (Suomen aikaa) salattu "
        "varmuuskopio (AES-256-GCM), ja varmuuskopioita säilytetään {days} päivää. Kun "
        "varmuuskopio palautetaan, sen jälkeen tehdyt poistot ja kiellot tehdään uudelleen.",
        "no_backups": "Ajastetut varmuuskopiot eivät ole käytössä; käsin otetut varmuuskopiot "
        "salataan (AES-256-GCM), ja palautus tekee uudelleen varmuuskopion jälkeen tehdyt "
        "poistot ja kiellot.",
        "minimisation": "IP-osoitteet lyhennetään verkko-osaansa (IPv4 /{v4}, IPv6 /{v6}) "
        "ennen tallennusta, ja selaimesta tallennetaan vain tyyppi, versio ja "
        "käyttöjärjestelmä. Viestien linkeissä ei ole nimeä, sähköpostiosoitetta eikä "
        "henkilötunnusta.",
        "https": "Yhteydet palveluun salataan (HTTPS).",
        "smtp_tls": "Sähköpostit välitetään lähtevän postin palvelimelle salattuina (TLS).",
    },
    "en": {
        "identity_code": "Personal identity codes are stored encrypted (AES-256-GCM) with a "
        "key kept apart from the database and are looked up by a keyed hash. An identity code "
        "is always shown masked; only these roles may see it in full: {roles}; the reason is "
        "recorded.",
        "profiles": "The content of behavioural profiles is stored encrypted, and only these "
        "roles may read them: {roles}.",
        "accounts": "The register is used only with personal user accounts. Passwords (at "
        "least {length} characters) are stored only as Argon2id hashes.",
        "second_factor": "Logging in with a browser needs a second factor besides the password "
        "(a one-time code from an authenticator app), and repeated failed logins are blocked.",
        "tokens": "Keys for programmatic use are personal; they can be narrowed below the "
        "user's role, set to expire and revoked, and only their hash is stored.",
        "roles": "Access is divided into roles ({roles}), and each user gets the narrowest "
        "role sufficient for their work. Only the roles {readers} may read people's data, and "
        "only the roles {callers} may download call lists.",
        "audit": "Every read and change of personal data and every refused attempt is written "
        "to an audit trail: who, what, when and from which network. The trail can only grow, "
        "and its rows are chained by hashes, so a changed or removed row is detected.",
        "backups": "An encrypted backup (AES-256-GCM) of the database is made every night at "
        "{time} (Finnish time) and kept for {days} days. When a backup is restored, the "
        "erasures and bans made after it are applied again.",
        "no_backups": "Scheduled backups are off; backups made by hand are encrypted "
        "(AES-256-GCM), and a restore applies again the erasures and bans made after the "
        "backup.",
        "minimisation": "IP addresses are cut to their network (IPv4 /{v4}, IPv6 /{v6}) "
        "before they are stored, and of the browser only its type, version and operating "
        "system are kept. Links in messages carry no name, email address or identity code.",
        "https": "Connections to the service are encrypted (HTTPS).",
        "smtp_tls": "Email is handed to the outgoing mail server encrypted (TLS).",
    },
}


def roles_with(permission: Permission, lang: str) -> str:
    """The roles holding ``permission``, in words: "a, b ja c"."""
    names = [
        text_for(ROLES[lang], role, "role")
        for role in Role
        if permission in ROLE_PERMISSIONS.get(role, frozenset())
    ]
    return join(names, lang)


def join(items: list[str], lang: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {AND[lang]} {items[-1]}"


def has_second_factor() -> bool:
    """Whether staff accounts carry a second factor in this version of the code."""
    return "totp_secret" in User.model_fields


def security_measures(settings: Settings, lang: str) -> list[str]:
    text = _TEXT[lang]
    measures = [
        text["identity_code"].format(
            roles=roles_with(Permission.CONTACTS_READ_IDENTITY_CODE, lang)
        ),
        text["profiles"].format(roles=roles_with(Permission.PROFILES_READ, lang)),
        text["accounts"].format(length=MIN_PASSWORD_LENGTH),
    ]
    if has_second_factor():
        measures.append(text["second_factor"])
    measures += [
        text["tokens"],
        text["roles"].format(
            roles=join([text_for(ROLES[lang], role, "role") for role in Role], lang),
            readers=roles_with(Permission.CONTACTS_READ, lang),
            callers=roles_with(Permission.CALL_LISTS_DOWNLOAD, lang),
        ),
        text["audit"],
    ]
    if settings.backup_time is None:
        measures.append(text["no_backups"])
    else:
        hour, minute = settings.backup_time
        measures.append(
            text["backups"].format(time=f"{hour:02d}:{minute:02d}", days=settings.backup_keep_days)
        )
    measures.append(text["minimisation"].format(v4=settings.ip_v4_prefix, v6=settings.ip_v6_prefix))
    if settings.public_url.startswith("https://"):
        measures.append(text["https"])
    if settings.smtp_host is not None and settings.smtp_tls is not SmtpTls.NONE:
        measures.append(text["smtp_tls"])
    return measures
