"""Logs: one JSON object a line (or plain text) on stderr, without personal data.

Every process (the API under any ASGI server, the queue worker, the inbound
mail server) calls :func:`configure_logging` once it knows its settings. What
keeps personal data out of the lines:

* access lines name the route template (``/u/{token}``), never the path the
  client sent, and never its query string (see ``latency.py``);
* an exception is logged by its type and the frames it passed through, never
  its message: database and SMTP errors quote the values they failed on. The
  same holds for an exception passed as an argument of a message (arq's "job
  failed" line does that);
* uvicorn's own access log (raw paths, tokens included) is switched off, and
  aiosmtpd's session log (every envelope address, at INFO) is kept to warnings;
* a last net masks anything shaped like an email address, a Finnish personal
  identity code or a phone number that a message still carries.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

from service.settings import LogFormat

# Extra fields an access line carries (``logger.info(..., extra={...})``).
ACCESS_FIELDS = ("method", "route", "status", "duration_ms")
LEVEL = logging.INFO
# Loggers whose own handlers would print a second, unformatted copy of each line.
_TAKEN_OVER = ("uvicorn", "uvicorn.error", "arq", "arq.worker", "arq.jobs", "arq.connections")
# At INFO these quote envelope addresses (aiosmtpd) and request URLs (httpx).
_QUIET = ("mail.log", "httpx", "httpcore")

_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_IDENTITY_CODE = re.compile(r"\b\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]\b", re.IGNORECASE)
# E.164 (+358401234567, +358 40 123 4567) and domestic forms (0401234567).
_PHONE = re.compile(r"\+\d[\d \-]{6,18}\d|\b0\d{6,11}\b")


def scrub(text: str) -> str:
    """Mask what looks like an email address, identity code or phone number."""
    text = _EMAIL.sub("[email]", text)
    text = _IDENTITY_CODE.sub("[identity code]", text)
    return _PHONE.sub("[phone]", text)


def _safe_argument(value: object) -> object:
    return type(value).__name__ if isinstance(value, BaseException) else value


def message_of(record: logging.LogRecord) -> str:
    """The record's message, with any exception argument reduced to its type."""
    if isinstance(record.msg, BaseException):
        return type(record.msg).__name__
    message = str(record.msg)
    args: Any = record.args
    if not args:
        return scrub(message)
    if isinstance(args, Mapping):
        args = {key: _safe_argument(value) for key, value in args.items()}
    else:
        args = tuple(_safe_argument(value) for value in args)
    try:
        return scrub(message % args)
    except (TypeError, ValueError, KeyError):
        # A malformed call: the template alone, never a guess at the values.
        return scrub(message)


def exception_fields(
    exc_info: tuple[type[BaseException], BaseException, TracebackType | None] | None,
) -> dict[str, str]:
    """The exception's type and frames (file, line, code), without its message."""
    if not exc_info or exc_info[0] is None:
        return {}
    kind, exc, tb = exc_info
    fields = {"exception": kind.__name__, "traceback": "".join(traceback.format_tb(tb))}
    cause = exc.__cause__ or exc.__context__
    if cause is not None:
        fields["cause"] = type(cause).__name__
    return fields


def _time(record: logging.LogRecord) -> str:
    # The real time of the line, not service.clock (tests move that one).
    stamp = datetime.fromtimestamp(record.created, UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in ACCESS_FIELDS if hasattr(record, name)}


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "pid"}`` plus the access fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message_of(record),
            "pid": record.process,
        }
        line.update(_extra(record))
        line.update(exception_fields(record.exc_info))  # type: ignore[arg-type]
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger message key=value …``, for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{key}={value}" for key, value in _extra(record).items())
        line = f"{_time(record)} {record.levelname:<7} {record.name}: {message_of(record)}"
        line += f" {fields}" if fields else ""
        failure = exception_fields(record.exc_info)  # type: ignore[arg-type]
        if failure:
            line += f"\n  {failure['exception']} at:\n{failure['traceback'].rstrip()}"
        return line


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time of each line, so a
    stream swapped later (pytest's capture, a daemon's redirect) is followed."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(log_format: LogFormat, *, hooks: bool = False) -> None:
    """Send every log line of this process through our formatter; idempotent.

    Only a handler of ours is replaced on the root logger: one another tool
    attached (pytest's capture, say) stays. With ``hooks``, warnings and any
    exception no code caught (in the main thread or another) are logged the
    same way instead of printed as plain text: for the processes the
    ``consentry`` command runs, which own their whole stderr.
    """
    handler = StderrHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format is LogFormat.JSON else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LEVEL)
    for name in _TAKEN_OVER:
        taken = logging.getLogger(name)
        taken.handlers.clear()
        taken.propagate = True
    # We write our own access lines; uvicorn's would carry the raw path.
    logging.getLogger("uvicorn.access").disabled = True
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    if hooks:
        logging.captureWarnings(True)
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_thread_exception


_uncaught = logging.getLogger("consentry.uncaught")


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    _uncaught.critical("uncaught %s", kind.__name__, exc_info=(kind, exc, tb))


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or args.exc_type is SystemExit:
        return
    thread = args.thread.name if args.thread is not None else "?"
    _uncaught.error(
        "uncaught %s in thread %s",
        args.exc_type.__name__,
        thread,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
