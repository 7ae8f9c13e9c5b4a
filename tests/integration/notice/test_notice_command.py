"""``consentry notice`` as an operator runs it: the real command line, its
exit codes, its messages and the file it writes. The notice reads only the
processors register from the database: the tests run on a migrated SQLite
file (copied from one made per module), and one without it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.cli import main
from service.migrate import upgrade
from service.models import Contact
from service.settings import get_settings
from tests.support.consentry_run import consentry, make_env

IDENTITY = {
    "CONSENTRY_CONTROLLER_NAME": "Esimerkki Oy",
    "CONSENTRY_CONTROLLER_BUSINESS_ID": "1234567-8",
    "CONSENTRY_CONTROLLER_ADDRESS": "Esimerkkikatu 1, 00100 Helsinki",
    "CONSENTRY_PRIVACY_CONTACT": "tietosuoja@example.fi",
}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated SQLite database to copy (migrating takes seconds)."""
    path = tmp_path_factory.mktemp("notice-db") / "c.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def with_database(root: Path, migrated: Path) -> Path:
    """``root``'s database (as make_env names it), migrated and empty."""
    shutil.copy(migrated, root / "c.db")
    return root


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated: Path) -> Iterator[Path]:
    """This process's settings, as `consentry` reads them, for in-process runs."""
    with_database(tmp_path, migrated)
    for name, value in make_env(tmp_path, **IDENTITY).items():
        if name.startswith("CONSENTRY_"):
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prints_the_finnish_notice_by_default(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "notice")
    assert (code, err) == (0, "")
    assert out.startswith("# Tietosuojaseloste\n")
    assert "## 13. Yhteydenotot" in out
    assert "Esimerkki Oy, Y-tunnus 1234567-8" in out


def test_the_record_in_english_as_html(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "notice", "--lang", "en", "--record", "--format", "html")
    assert (code, err) == (0, "")
    assert out.startswith("<!doctype html>")
    assert "<h1>Record of processing activities</h1>" in out
    assert "<h2>6. Time limits for erasure (f)</h2>" in out


def test_writes_the_file_it_is_given(environment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = environment / "seloste.md"
    code, out, err = run(capsys, "notice", "--lang", "fi", "--output", str(target))
    assert (code, err) == (0, "")
    assert out == f"consentry: wrote the privacy notice (fi, markdown) to {target}\n"
    assert target.read_text(encoding="utf-8").startswith("# Tietosuojaseloste\n")
    assert [p.name for p in environment.iterdir() if p.name.startswith(".")] == []


def test_without_a_migrated_database_the_notice_is_made_and_a_warning_says_so(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (environment / "c.db").unlink()
    code, out, err = run(capsys, "notice", "--record", "--lang", "en")
    assert code == 0
    assert err.splitlines() == [
        "consentry: warning: the processors register could not be read (the database has "
        "no tables yet; run `consentry migrate`); the text names no processors"
    ]
    assert out.startswith("# Record of processing activities\n")
    assert "processors register" not in out


def test_an_unwritable_output_is_one_line_and_exit_1(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = environment / "no-such-folder" / "seloste.md"
    code, out, err = run(capsys, "notice", "--output", str(target))
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"consentry: --output: cannot write {target}: No such file or directory"
    ]
    assert not target.parent.exists()


def test_an_unnamed_personal_data_column_is_one_line_and_exit_1(
    environment: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Contact, "__pii_columns__", (*Contact.__pii_columns__, "maiden_name"))
    code, out, err = run(capsys, "notice", "--output", str(environment / "seloste.md"))
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "consentry: personal-data columns without a name in the privacy notice: "
        "contacts.maiden_name (add them to service/notice/columns.py)"
    ]
    assert not (environment / "seloste.md").exists()


def test_placeholders_are_warned_about(
    environment: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONSENTRY_PRIVACY_CONTACT")
    get_settings.cache_clear()
    code, out, err = run(capsys, "notice")
    assert code == 0
    assert err.splitlines() == [
        "consentry: warning: CONSENTRY_PRIVACY_CONTACT is not set; the text shows a placeholder"
    ]
    assert "(not configured)" in out


@pytest.mark.slow
def test_an_unknown_language_exits_2_naming_the_choices(tmp_path: Path) -> None:
    result = consentry(make_env(tmp_path, **IDENTITY), "notice", "--lang", "de")
    assert result.returncode == 2
    assert result.stdout == ""
    error = result.stderr.splitlines()[-1]
    assert error.startswith("consentry notice: error: argument --lang: invalid choice: 'de'")
    # The choices are quoted or not depending on the Python version.
    assert error.endswith(("(choose from 'fi', 'en')", "(choose from fi, en)")), error


@pytest.mark.slow
def test_the_installed_command_prints_the_notice(tmp_path: Path, migrated: Path) -> None:
    with_database(tmp_path, migrated)
    result = consentry(make_env(tmp_path, **IDENTITY), "notice", "--lang", "en")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("# Privacy notice\n")
    assert "## 12. Other rights" in result.stdout
