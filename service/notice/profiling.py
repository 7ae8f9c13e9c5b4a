"""The notice's section on profiling, from the features the code and the
settings have: what is profiling in the sense of GDPR 4(4), on which
consent, and that no decision of Article 22 is made from it.

Working-style reports (DISC) are evaluations of a person's personal aspects
from their answers; following opens and clicks person by person (and, where
a site is configured, visits) evaluates their interests. Both are
profiling, and both rest on the person's consent. Neither feeds a decision
with legal or similarly significant effects: segments are staff's filters.
"""

from __future__ import annotations

from service.settings import Settings

_TEXT = {
    "fi": {
        "disc": "Toimintatyyliraportit (esim. DISC, kohta 4) ovat tietosuoja-asetuksen 4 "
        "artiklan 4 alakohdassa tarkoitettua profilointia: henkilön vastauksista arvioidaan "
        "automaattisesti hänen toimintatyyliään. Raportti tehdään vain henkilön "
        "suostumuksella, ja suostumuksen voi perua milloin tahansa.",
        "tracking": "Viestien avausten ja linkkien klikkausten seuraaminen henkilöittäin{site} "
        "on profilointia (4 artiklan 4 alakohta): siitä arvioidaan henkilön kiinnostusta "
        "viesteihimme. Sitä tehdään vain sähköpostiseurantaan suostuneilta{site_consent}, ja "
        "suostumuksen voi perua jokaisen viestin linkistä.",
        "site": " ja verkkosivuston ({origins}) käyntien kirjaaminen",
        "site_consent": " ja sivuston analytiikkaevästeisiin suostuneilta",
        "no_decisions": "Profiloinnin perusteella ei tehdä 22 artiklassa tarkoitettuja "
        "pelkästään automaattiseen käsittelyyn perustuvia päätöksiä, joilla on henkilöä "
        "koskevia oikeusvaikutuksia tai jotka vaikuttavat häneen vastaavalla tavalla "
        "merkittävästi. Markkinoinnin kohderyhmät ovat henkilökunnan valitsemia rajauksia "
        "(kieli, ryhmittelytunnisteet, henkilö tai yritys), eikä ketään pisteytetä.",
    },
    "en": {
        "disc": "Working-style reports (such as DISC, section 4) are profiling within the "
        "meaning of Article 4(4) GDPR: the person's working style is evaluated automatically "
        "from their answers. A report is made only with the person's consent, which can be "
        "withdrawn at any time.",
        "tracking": "Following opens of messages and clicks on their links person by "
        "person{site} is profiling (Article 4(4)): it evaluates the person's interest in our "
        "messages. It is done only for those who consented to email tracking{site_consent}, "
        "and the consent can be withdrawn from the link in every message.",
        "site": ", and recording visits to the website ({origins}),",
        "site_consent": " and, on the website, to analytics cookies",
        "no_decisions": "No decision based solely on automated processing, including "
        "profiling, that produces legal effects concerning the person or similarly "
        "significantly affects them (Article 22) is made. Marketing segments are filters "
        "chosen by staff (language, grouping tags, person or business), and no one is scored.",
    },
}


def profiling(settings: Settings, lang: str) -> list[str]:
    """The section's paragraphs: one per kind of profiling the service does
    (the consents ``profiling_report`` and ``email_tracking``), then that no
    Article 22 decision follows."""
    text = _TEXT[lang]
    # Reports and email tracking are features of the code, always on offer;
    # site visits are recorded only where site origins are configured.
    origins = ", ".join(settings.site_origins)
    tracking = text["tracking"].format(
        site=text["site"].format(origins=origins) if origins else "",
        site_consent=text["site_consent"] if origins else "",
    )
    return [text["disc"], tracking, text["no_decisions"]]
