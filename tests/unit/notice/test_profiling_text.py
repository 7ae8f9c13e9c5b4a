"""The notice's §10 and the access export say what is profiling (GDPR 4(4)),
on which consent, and that no Article 22 decision is made; site visits are
named only where a site is configured."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.notice.render import Document, Format, render
from service.rights import texts as rights_texts
from service.settings import Settings, load_settings

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def clock_start() -> datetime:
    return datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def settings(tmp_path: Path, **extra: str) -> Settings:
    return load_settings(
        {
            "CONSENTRY_VAR_DIR": str(tmp_path),
            "CONSENTRY_CONTROLLER_NAME": "Esimerkki Oy",
            **extra,
        }
    )


def section_10(markdown: str) -> str:
    return markdown[markdown.index("## 10.") : markdown.index("## 11.")]


PROFILING = {
    "fi": (
        "Toimintatyyliraportit (esim. DISC, kohta 4) ovat tietosuoja-asetuksen 4 artiklan 4 "
        "alakohdassa tarkoitettua profilointia",
        "Viestien avausten ja linkkien klikkausten seuraaminen henkilöittäin on profilointia",
        "Profiloinnin perusteella ei tehdä 22 artiklassa tarkoitettuja pelkästään "
        "automaattiseen käsittelyyn perustuvia päätöksiä",
    ),
    "en": (
        "Working-style reports (such as DISC, section 4) are profiling within the meaning of "
        "Article 4(4) GDPR",
        "Following opens of messages and clicks on their links person by person is profiling "
        "(Article 4(4))",
        "No decision based solely on automated processing, including profiling, that produces "
        "legal effects concerning the person or similarly significantly affects them "
        "(Article 22) is made.",
    ),
}


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_the_notice_calls_disc_and_tracking_profiling_with_no_article_22_decisions(
    tmp_path: Path, lang: str
) -> None:
    text = section_10(render(settings(tmp_path), lang=lang, fmt=Format.MARKDOWN))
    for sentence in PROFILING[lang]:
        assert sentence in " ".join(text.split()), sentence
    # The old claim that no profiling happens at all is gone.
    assert "eikä niihin perustuvaa profilointia" not in text
    assert "and no profiling leading to them" not in text


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_site_visits_are_named_only_where_a_site_is_configured(tmp_path: Path, lang: str) -> None:
    without = section_10(render(settings(tmp_path), lang=lang, fmt=Format.MARKDOWN))
    with_site = section_10(
        render(
            settings(tmp_path, CONSENTRY_SITE_ORIGINS="https://www.example.fi"),
            lang=lang,
            fmt=Format.MARKDOWN,
        )
    )
    assert "www.example.fi" not in without
    assert "https://www.example.fi" in with_site
    word = {"fi": "verkkosivuston", "en": "visits to the website"}[lang]
    assert word in with_site and word not in without


def test_the_record_is_unchanged_by_the_profiling_section(tmp_path: Path) -> None:
    record = render(settings(tmp_path), lang="en", document=Document.RECORD, fmt=Format.MARKDOWN)
    assert "## 10." not in record


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_the_access_export_says_the_same(lang: str) -> None:
    words = rights_texts.AUTOMATED[lang]
    assert ("4 artiklan 4 alakohdassa" if lang == "fi" else "Article 4(4)") in words
    assert ("22 artiklassa" if lang == "fi" else "(Article 22)") in words
    assert ("suostumuksellasi" if lang == "fi" else "only with your consent") in words
    assert ("profilointia ei tehdä" not in words) and (
        "No automated decisions or profiling" not in words
    )
