"""The privacy notice follows the code and the settings: every marked
personal-data column, every vocabulary member, every retention period and
the consent gate's channels, and it keeps the original notice's structure."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.sql.elements import False_, True_

from service import clock, rules
from service.consent.queries import OPT_IN_CHANNELS, Gate, GateContext
from service.models import Contact
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
from service.notice import columns, texts
from service.notice.columns import Subjects, UndescribedColumns
from service.notice.render import (
    Document,
    Format,
    escape_markdown,
    render,
    render_markdown,
)
from service.rules import Rule
from service.settings import Settings, load_settings

# The section headings of the original notice, in its order, copied from
# ../shared/seed/privacy-notice-fi.txt (whitespace normalised: the original
# has two spaces after "7." and "9.").
ORIGINAL_SECTIONS_FI = [
    "1. Rekisterinpitäjä",
    "2. Rekisteriasioita hoitava henkilö",
    "3. Rekisterin nimi",
    "4. Henkilötietojen käsittelyn tarkoitus ja peruste",
    "5. Rekisterin tietosisältö",
    "6. Henkilötietojen säilytysaika",
    "7. Henkilötietolähteet",
    "8. Säännönmukaiset tietojen luovutukset ja tietojen siirto EU:n tai Euroopan "
    "talousalueen ulkopuolelle",
    "9. Kuvaus rekisterin suojauksen periaatteista",
    "10. Profilointi",
    "11. Rekisteröidyn oikeus vastustaa henkilötietojen käsittelyä ja suoramarkkinointia "
    "(kielto-oikeus)",
    "12. Muut henkilötietojen käsittelyyn liittyvät rekisteröidyn oikeudet",
    "12.1. Rekisteröidyn oikeus saada pääsy tietoihin (tarkastusoikeus)",
    "12.2. Rekisteröidyn oikeus vaatia tiedon oikaisemista, poistamista tai käsittelyn "
    "rajoittamista",
    "12.3. Rekisteröidyn oikeus tehdä valitus valvontaviranomaiselle",
    "12.4. Muut oikeudet",
    "13. Yhteydenotot",
]
# The sections of the English working summary, ../shared/seed/privacy-notice-en.md
# (its "## N. ..." headings, and the first words of its 12.1-12.4 items).
SUMMARY_SECTIONS_EN = [
    "1. Controller",
    "2. Contact person for register matters",
    "3. Name of the register",
    "4. Purposes and legal bases",
    "5. Data content",
    "6. Retention",
    "7. Data sources",
    "8. Regular disclosures; transfers outside the EU/EEA",
    "9. Security",
    "10. Profiling",
    "11. Right to object, and direct marketing",
    "12. Other rights",
    "12.1 Access",
    "12.2 Rectification",
    "12.3 Complaint to the supervisory authority",
    "12.4 Withdrawal of consent",
    "13. Contact",
]


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    return {
        "CONSENTRY_VAR_DIR": str(tmp_path / "var"),
        "CONSENTRY_CONTROLLER_NAME": "Esimerkki Oy",
        "CONSENTRY_CONTROLLER_BUSINESS_ID": "1234567-8",
        "CONSENTRY_CONTROLLER_ADDRESS": "Esimerkkikatu 1, 00100 Helsinki",
        "CONSENTRY_PRIVACY_CONTACT": "tietosuoja@example.fi",
    }


@pytest.fixture
def settings(environ: dict[str, str]) -> Settings:
    return load_settings(environ)


pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def clock_start() -> datetime:
    return datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def headings(markdown: str) -> list[str]:
    return [
        " ".join(match.group(1).split())
        for match in re.finditer(r"^#{1,6} +(.+)$", markdown, re.MULTILINE)
    ]


def section(markdown: str, heading: str) -> str:
    """The text under ``## heading`` up to the next ``##`` heading."""
    start = markdown.index(f"## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


# -- structure --------------------------------------------------------------


def test_the_finnish_notice_has_every_section_of_the_original_in_order(
    settings: Settings,
) -> None:
    numbered = [
        h
        for h in headings(render_markdown(settings, lang="fi", document=Document.NOTICE))
        if h[0].isdigit()
    ]
    assert numbered == ORIGINAL_SECTIONS_FI


def test_the_english_notice_covers_the_summarys_sections_in_order(settings: Settings) -> None:
    numbered = [
        h
        for h in headings(render_markdown(settings, lang="en", document=Document.NOTICE))
        if h[0].isdigit()
    ]
    assert len(numbered) == len(SUMMARY_SECTIONS_EN)
    for found, wanted in zip(numbered, SUMMARY_SECTIONS_EN, strict=True):
        assert found.startswith(wanted), (found, wanted)


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_the_record_has_every_point_of_article_30(settings: Settings, lang: str) -> None:
    record = render_markdown(settings, lang=lang, document=Document.RECORD)
    points = [h[-2] for h in headings(record) if h[0].isdigit()]
    assert points == ["a", "b", "c", "d", "e", "f", "g"]


# -- data categories from the personal-data markers -------------------------------


def test_every_marked_personal_data_column_has_a_name_in_both_languages() -> None:
    assert columns.undescribed() == [], (
        "name these columns in service/notice/columns.py COLUMNS, or the notice cannot be made"
    )
    for described in columns.COLUMNS.values():
        assert described.fi and described.en


def test_no_name_is_kept_for_a_column_no_table_marks() -> None:
    assert columns.stale() == []


def test_the_markers_are_read_from_the_tables() -> None:
    marked = columns.personal_columns()
    assert ("contacts", "identity_code_encrypted") in marked
    assert ("engagement_events", "ip_network") in marked
    assert ("contacts", "recorded_at") not in marked


def test_a_newly_marked_column_without_a_name_stops_the_notice(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Contact, "__pii_columns__", (*Contact.__pii_columns__, "maiden_name"))
    with pytest.raises(UndescribedColumns) as raised:
        render(settings, lang="fi", fmt=Format.MARKDOWN)
    assert raised.value.columns == [("contacts", "maiden_name")]
    assert "contacts.maiden_name" in str(raised.value)


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_every_marked_column_appears_in_the_notice_or_the_record(
    settings: Settings, lang: str
) -> None:
    notice = render_markdown(settings, lang=lang, document=Document.NOTICE)
    record = render_markdown(settings, lang=lang, document=Document.RECORD)
    contents = section(notice, "5. Rekisterin tietosisältö" if lang == "fi" else "5. Data content")
    for key in columns.personal_columns():
        described = columns.COLUMNS[key]
        name = escape_markdown(described.name(lang))
        whose = columns.SUBJECTS_OF.get(described.category, Subjects.REGISTER)
        assert name in record, key
        # Staff data belongs to the record; the public notice is about the register.
        assert (name in contents) is (whose is not Subjects.STAFF), key


# -- every member of the vocabularies ------------------------------------------------


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_every_vocabulary_member_has_a_text(lang: str) -> None:
    assert set(texts.LEGAL_BASES[lang]) == set(LegalBasis)
    assert set(texts.CHANNELS[lang]) == set(Channel)
    assert set(texts.SOURCES[lang]) == set(Source)
    assert set(texts.BAN_KINDS[lang]) == set(BanKind)
    assert set(texts.RETENTION[lang]) == set(Rule)
    assert set(texts.RECIPIENTS[lang]) == set(DisclosureRecipient)
    assert set(texts.VERIFICATION[lang]) == set(VerificationMethod)
    assert set(texts.ROLES[lang]) == set(Role)
    assert set(texts.CONSENT_ONLY[lang]) == set(Purpose) - {Purpose.DIRECT_MARKETING}


@pytest.mark.parametrize(
    ("table", "member", "what"),
    [
        (texts.SOURCES, Source.IMPORT, "source 'import'"),
        (texts.RETENTION, Rule.CALL_LISTS, "retention rule 'call_lists'"),
        (texts.ROLES, Role.CALLER, "role 'caller'"),
        (texts.CONSENT_ONLY, Purpose.EMAIL_TRACKING, "purpose 'email_tracking'"),
    ],
)
def test_a_member_without_a_text_stops_the_notice(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    table: dict[str, dict[object, str]],
    member: object,
    what: str,
) -> None:
    monkeypatch.delitem(table["fi"], member)
    with pytest.raises(texts.NoticeIncomplete, match=f"^{what} has no text"):
        render(settings, lang="fi", fmt=Format.MARKDOWN)
    render(settings, lang="en", fmt=Format.MARKDOWN)


def test_the_bases_name_the_channels_as_the_consent_gate_treats_them(settings: Settings) -> None:
    """Opt-in channels need consent for direct marketing (the gate's predicate
    is not FALSE there); the others never do; other purposes always do."""
    today = clock.today()
    for channel in Channel:
        gate = Gate(GateContext(channel=channel, purpose=Purpose.DIRECT_MARKETING, today=today))
        needs = gate._needs_consent()
        assert isinstance(needs, False_) is (channel not in OPT_IN_CHANNELS), channel
        for purpose in set(Purpose) - {Purpose.DIRECT_MARKETING}:
            other = Gate(GateContext(channel=channel, purpose=purpose, today=today))
            assert isinstance(other._needs_consent(), True_), (channel, purpose)
    bases = section(
        render_markdown(settings, lang="fi", document=Document.NOTICE),
        "4. Henkilötietojen käsittelyn tarkoitus ja peruste",
    )

    def channels_of(law: str) -> set[str]:
        line = next(line for line in bases.splitlines() if law in line)
        listed = re.search(r"Suoramarkkinointi \(([^)]*)\)", line)
        assert listed is not None, line
        return set(re.split(r", | ja ", listed.group(1)))

    names = texts.CHANNELS["fi"]
    assert channels_of("200 §:n 1 momentti") == {names[c] for c in Channel if c in OPT_IN_CHANNELS}
    assert channels_of("200 §:n 2 momentti") == {
        names[c] for c in Channel if c not in OPT_IN_CHANNELS
    }


# -- retention from the rules and the settings ---------------------------------------


def test_changing_a_retention_setting_changes_the_printed_period(
    environ: dict[str, str],
) -> None:
    def retention(**extra: str) -> str:
        markdown = render_markdown(
            load_settings({**environ, **extra}), lang="fi", document=Document.NOTICE
        )
        return section(markdown, "6. Henkilötietojen säilytysaika")

    default = retention()
    assert "1095 päivää pyynnön" in default
    assert "395 päivää." in default
    assert "7 päivää laatimisesta" in default
    changed = retention(
        CONSENTRY_REQUEST_RETENTION_DAYS="400",
        CONSENTRY_ENGAGEMENT_RETENTION_DAYS="200",
        CONSENTRY_CALL_LIST_TTL_DAYS="3",
        CONSENTRY_PROFILE_TRANSFER_NOTICE_DAYS="45",
        CONSENTRY_PROFILE_VENDOR_NAME="Everything DiSC",
    )
    assert "400 päivää pyynnön" in changed and "1095" not in changed
    assert "200 päivää." in changed
    assert "3 päivää laatimisesta" in changed
    assert "45 päivää ennen siirtoa" in changed and "30 päivää ennen" not in changed
    assert "profiilipalvelussa (Everything DiSC)" in changed


def test_the_rule_periods_are_read_when_the_notice_is_made(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "CONTACT_RETENTION_YEARS", 7)
    monkeypatch.setattr(rules, "PROFILE_TRANSFER_YEARS", 3)
    monkeypatch.setattr(rules, "NO_ACCOUNT_DEADLINE_MONTH_DAY", (5, 31))
    markdown = render_markdown(settings, lang="en", document=Document.NOTICE)
    assert "7 years from the person's latest service contact" in markdown
    assert "at most 3 years after it was made" in markdown
    assert "deleted by 31 May of the year after" in markdown


def test_every_retention_rule_is_printed(settings: Settings) -> None:
    retention = section(
        render_markdown(settings, lang="en", document=Document.NOTICE), "6. Retention"
    )
    for rule in Rule:
        # The text's first words, before any period is filled in.
        assert texts.RETENTION["en"][rule].split("{")[0][:40] in retention, rule


# -- the controller, the DPO, the security measures ------------------------------------


def test_the_controller_and_contact_come_from_the_settings(settings: Settings) -> None:
    markdown = render_markdown(settings, lang="fi", document=Document.NOTICE)
    controller = section(markdown, "1. Rekisterinpitäjä")
    assert "Esimerkki Oy, Y-tunnus 1234567-8" in controller
    assert "Esimerkkikatu 1, 00100 Helsinki" in controller
    assert "tietosuoja@example.fi" in section(markdown, "2. Rekisteriasioita hoitava henkilö")
    assert "tietosuoja@example.fi" in section(markdown, "13. Yhteydenotot")
    assert "Tietosuojavaltuutetun toimisto (https://tietosuoja.fi)" in markdown


def test_a_dpo_is_named_only_when_configured(environ: dict[str, str]) -> None:
    without = render_markdown(load_settings(environ), lang="fi", document=Document.NOTICE)
    assert "ei ole nimennyt tietosuojavastaavaa" in without
    named = render_markdown(
        load_settings({**environ, "CONSENTRY_DPO_CONTACT": "dpo@example.fi"}),
        lang="fi",
        document=Document.NOTICE,
    )
    assert "Tietosuojavastaava: dpo@example.fi" in named
    assert "ei ole nimennyt" not in named


def test_security_measures_claim_only_what_is_configured(environ: dict[str, str]) -> None:
    def security(**extra: str) -> str:
        markdown = render_markdown(
            load_settings({**environ, **extra}), lang="en", document=Document.NOTICE
        )
        return section(markdown, "9. Security")

    plain = security(CONSENTRY_BACKUP_TIME="off")
    assert "Scheduled backups are off" in plain
    assert "HTTPS" not in plain and "(TLS)" not in plain
    secured = security(
        CONSENTRY_BACKUP_TIME="02:15",
        CONSENTRY_BACKUP_KEEP_DAYS="14",
        CONSENTRY_PUBLIC_URL="https://uutiset.example.fi",
        CONSENTRY_SMTP_HOST="smtp.example.fi",
        CONSENTRY_SMTP_TLS="starttls",
        CONSENTRY_IP_V4_PREFIX="16",
    )
    assert "every night at 02:15 (Finnish time) and kept for 14 days" in secured
    assert "(HTTPS)" in secured and "(TLS)" in secured
    assert "IPv4 /16" in secured
    assert "Argon2id" in secured


# -- rendering ----------------------------------------------------------------


def test_values_are_printed_as_text_never_as_markup(environ: dict[str, str]) -> None:
    hostile = {**environ, "CONSENTRY_CONTROLLER_NAME": "A*B_ [Oy](x) <script>alert(1)</script>"}
    settings = load_settings(hostile)
    markdown = render(settings, lang="fi", fmt=Format.MARKDOWN)
    assert r"A\*B\_ \[Oy\](x) \<script\>alert(1)\</script\>" in markdown
    page = render(settings, lang="fi", fmt=Format.HTML)
    assert page.startswith("<!doctype html>")
    assert "<script>" not in page
    assert "A*B_ [Oy](x) &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<html lang="fi">' in page
    assert "<h2>1. Rekisterinpitäjä</h2>" in page
    assert page.count("<ul>") == page.count("</ul>")
    assert page.count("<strong>") == page.count("</strong>")


def test_the_content_version_changes_with_the_content(environ: dict[str, str]) -> None:
    def version(**extra: str) -> str:
        markdown = render_markdown(
            load_settings({**environ, **extra}), lang="fi", document=Document.NOTICE
        )
        found = re.search(r"Sisällön versio: ([0-9a-f]{12})\.", markdown)
        assert found is not None
        return found.group(1)

    assert version() == version()
    assert version(CONSENTRY_ENGAGEMENT_RETENTION_DAYS="100") != version()


@pytest.mark.parametrize(
    ("lang", "heading", "words"),
    [
        ("fi", "4. Henkilötietojen käsittelyn tarkoitus ja peruste", "kirjattuun ostoon"),
        ("en", "4. Purposes and legal bases", "rests on a recorded purchase"),
    ],
)
def test_the_bases_state_soft_opt_ins_evidence_as_the_gate_asks_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, lang: str, heading: str, words: str
) -> None:
    bases = section(render_markdown(settings, lang=lang, document=Document.NOTICE), heading)
    assert words in bases
    # A gate that asked no evidence would not be described as asking it.
    monkeypatch.setattr(Gate, "soft_opt_in", property(lambda self: False))
    bases = section(render_markdown(settings, lang=lang, document=Document.NOTICE), heading)
    assert words not in bases


@pytest.mark.parametrize(
    ("lang", "heading", "words"),
    [
        ("fi", "4. Henkilötietojen käsittelyn tarkoitus ja peruste", "työnantaja ja asema"),
        ("en", "4. Purposes and legal bases", "employer and position are recorded"),
    ],
)
def test_the_bases_say_a_business_contact_needs_a_recorded_role(
    settings: Settings, lang: str, heading: str, words: str
) -> None:
    # The gate's no_business_role: a business contact without employer and
    # position is mailed as a private person, and the notice says so.
    bases = section(render_markdown(settings, lang=lang, document=Document.NOTICE), heading)
    assert words in bases
