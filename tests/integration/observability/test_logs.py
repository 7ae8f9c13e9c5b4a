"""Structured logs: the line format, and what never gets into a line."""

from __future__ import annotations

import json
import logging
import logging.config
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn.config
from arq.logs import default_log_config
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.observability.logs import (
    JsonFormatter,
    StderrHandler,
    TextFormatter,
    configure_logging,
    scrub,
)
from service.settings import (
    Environment,
    LogFormat,
    SettingsError,
    _default_log_format,
    load_settings,
)

Client = AsyncTestClient[Litestar]
EMAIL = "maija.meikalainen@example.fi"
IDENTITY_CODE = "131052-308T"


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("consentry.test", logging.INFO, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def json_line(made: logging.LogRecord) -> dict[str, object]:
    line = JsonFormatter().format(made)
    assert "\n" not in line
    parsed: dict[str, object] = json.loads(line)
    return parsed


def test_a_json_line_has_time_level_logger_and_message() -> None:
    line = json_line(record("sent %d of %d", 3, 4))
    assert line["level"] == "info"
    assert line["logger"] == "consentry.test"
    assert line["message"] == "sent 3 of 4"
    assert str(line["time"]).endswith("Z")
    assert isinstance(line["pid"], int)


def test_an_access_line_carries_its_fields() -> None:
    made = record("GET /u/{token} 200", method="GET", route="/u/{token}", status=200)
    made.duration_ms = 1.5
    line = json_line(made)
    assert (line["method"], line["route"], line["status"], line["duration_ms"]) == (
        "GET",
        "/u/{token}",
        200,
        1.5,
    )
    text = TextFormatter().format(made)
    assert "route=/u/{token}" in text and "status=200" in text


def test_an_exception_is_logged_by_type_and_frames_never_by_message() -> None:
    try:
        try:
            raise KeyError(IDENTITY_CODE)
        except KeyError as inner:
            raise ValueError(f"duplicate key value ({EMAIL})") from inner
    except ValueError as exc:
        made = record("job failed, %s", exc)
        made.exc_info = (type(exc), exc, exc.__traceback__)
    line = json_line(made)
    assert line["message"] == "job failed, ValueError"
    assert line["exception"] == "ValueError"
    assert line["cause"] == "KeyError"
    assert "test_logs.py" in str(line["traceback"])
    text = TextFormatter().format(made)
    for formatted in (json.dumps(line), text):
        assert EMAIL not in formatted and IDENTITY_CODE not in formatted


def test_a_bare_exception_as_the_message_is_its_type() -> None:
    made = record("ignored")
    made.msg = LookupError(EMAIL)
    assert json_line(made)["message"] == "LookupError"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"no such user {EMAIL}", "no such user [email]"),
        (f"code {IDENTITY_CODE} and 010101A123N", "code [identity code] and [identity code]"),
        ("call +358 40 123 4567 or 0401234567", "call [phone] or [phone]"),
        # Counts, durations and ids stay as they are.
        ("sent 1200 in 0.25 s; campaign 17", "sent 1200 in 0.25 s; campaign 17"),
    ],
)
def test_the_last_net_masks_what_looks_personal(text: str, expected: str) -> None:
    assert scrub(text) == expected
    assert json_line(record("%s", text))["message"] == expected


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    kept = (list(root.handlers), root.level, sys.excepthook, threading.excepthook)
    yield
    root.handlers[:] = kept[0]
    root.setLevel(kept[1])
    sys.excepthook, threading.excepthook = kept[2], kept[3]
    logging.captureWarnings(False)


def test_configure_takes_over_uvicorn_and_arq_and_writes_to_stderr(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # What `uvicorn --factory` and plain `arq` set up before the app or worker starts.
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
    logging.config.dictConfig(default_log_config(verbose=False))
    configure_logging(LogFormat.JSON)
    configure_logging(LogFormat.JSON)  # idempotent

    root = logging.getLogger()
    assert sum(isinstance(h, StderrHandler) for h in root.handlers) == 1
    for name in ("uvicorn.error", "arq.worker"):
        logger = logging.getLogger(name)
        assert logger.propagate and not logger.handlers
    assert logging.getLogger("uvicorn.access").disabled
    assert logging.getLogger("mail.log").getEffectiveLevel() == logging.WARNING

    capsys.readouterr()
    logging.getLogger("arq.worker").info("%6.2fs → %s()", 0.01, "cron:heartbeat")
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 1)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["logger"] for line in lines] == ["arq.worker", "uvicorn.error"]


def test_hooks_log_an_uncaught_exception_without_its_message(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(LogFormat.JSON, hooks=True)
    capsys.readouterr()
    try:
        raise RuntimeError(EMAIL)
    except RuntimeError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    (line,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert line["level"] == "critical"
    assert line["exception"] == "RuntimeError"
    assert EMAIL not in json.dumps(line)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def access_lines() -> Iterator[list[logging.LogRecord]]:
    collect = Collect()
    logger = logging.getLogger("consentry.access")
    logger.addHandler(collect)
    logger.setLevel(logging.DEBUG)
    yield collect.records
    logger.removeHandler(collect)
    logger.setLevel(logging.NOTSET)


async def test_access_lines_name_the_route_never_the_path_or_query(
    client: Client, access_lines: list[logging.LogRecord]
) -> None:
    await client.get(f"/u/a-signed.token?email={EMAIL}")
    await client.get("/api/v1/contacts/123")
    await client.get(f"/api/v1/contacts/{IDENTITY_CODE}")  # no int: matches no route
    await client.get(f"/nowhere/{EMAIL}")
    await client.get("/health/live")
    seen = [(r.method, r.route, r.status, r.levelno) for r in access_lines]  # type: ignore[attr-defined]
    assert seen == [
        ("GET", "/u/{token}", 400, logging.INFO),
        ("GET", "/api/v1/contacts/{contact_id}", 401, logging.INFO),
        ("GET", "(unmatched)", 404, logging.INFO),
        ("GET", "(unmatched)", 404, logging.INFO),
        # Probes are frequent: their lines are DEBUG unless they fail.
        ("GET", "/health/live", 200, logging.DEBUG),
    ]
    for made in access_lines:
        line = json.loads(JsonFormatter().format(made))
        # What the request decided; time, pid and duration are numbers of our own.
        told = f"{line['message']} {line['route']} {line['method']} {line['status']}"
        for private in ("a-signed.token", EMAIL, IDENTITY_CODE, "123", "nowhere", "?"):
            assert private not in told
        assert isinstance(made.duration_ms, float)  # type: ignore[attr-defined]


def test_the_log_format_setting(tmp_path: Path) -> None:
    base = {"CONSENTRY_VAR_DIR": str(tmp_path)}
    assert load_settings(base).log_format is LogFormat.TEXT  # dev
    assert _default_log_format(Environment.PRODUCTION) is LogFormat.JSON
    assert load_settings({**base, "CONSENTRY_LOG_FORMAT": "JSON"}).log_format is LogFormat.JSON
    with pytest.raises(SettingsError, match=r"^CONSENTRY_LOG_FORMAT: must be one of json, text$"):
        load_settings({**base, "CONSENTRY_LOG_FORMAT": "xml"})
