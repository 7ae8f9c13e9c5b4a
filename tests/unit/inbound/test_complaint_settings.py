"""CONSENTRY_COMPLAINT_PAUSE_RATE is read once and refused when it makes no
sense; the privacy notice tells people what a spam complaint does."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.notice.content import sources
from service.settings import SettingsError, load_settings


def env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {
        "CONSENTRY_VAR_DIR": str(tmp_path),
        "CONSENTRY_SECRET_KEY": "k" * 40,
        "CONSENTRY_DATA_KEY": "d" * 40,
        **{f"CONSENTRY_{name}": value for name, value in more.items()},
    }


@pytest.mark.parametrize(
    ("raw", "rate"), [(None, 0.003), ("0.01", 0.01), ("0.3%", 0.003), (" 1 ", 1.0), ("5 %", 0.05)]
)
def test_the_pause_rate_is_a_fraction_or_a_percentage(
    tmp_path: Path, raw: str | None, rate: float
) -> None:
    given = {} if raw is None else {"COMPLAINT_PAUSE_RATE": raw}
    assert load_settings(env(tmp_path, **given)).complaint_pause_rate == pytest.approx(rate)


@pytest.mark.parametrize("raw", ["0", "-0.1", "1.5", "150%", "nan", "inf", "abc", "0,3"])
def test_a_pause_rate_that_makes_no_sense_is_refused(tmp_path: Path, raw: str) -> None:
    with pytest.raises(SettingsError, match=r"^CONSENTRY_COMPLAINT_PAUSE_RATE: "):
        load_settings(env(tmp_path, COMPLAINT_PAUSE_RATE=raw))


@pytest.mark.parametrize(
    ("lang", "words"), [("en", "marks our message as spam"), ("fi", "roskapostiksi")]
)
def test_the_notice_says_what_a_complaint_does(tmp_path: Path, lang: str, words: str) -> None:
    _, ways = sources(load_settings(env(tmp_path)), lang, robinson=False)
    assert any(words in way for way in ways)
