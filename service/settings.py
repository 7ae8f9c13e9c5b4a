"""One validated settings object, read from the environment once.

Every setting is a ``CONSENTRY_*`` environment variable (CONTRACT.md). A bad
value raises :class:`SettingsError` whose message names the variable; the CLI
prints that one line and exits non-zero.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from dataclasses import dataclass
from email.utils import parseaddr, quote
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

PREFIX = "CONSENTRY_"
E = TypeVar("E", bound=StrEnum)
DEV_PLACEHOLDER = "(not configured)"
# Cookies that track a person last at most 13 months (CNIL, the notice §5).
MAX_VISIT_COOKIE_DAYS = 395
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
# C0 and C1 control characters, DEL, and the Unicode line and paragraph
# separators: in a setting they end up in a header, a link or a log line,
# where a line break can add a header or forge a log entry.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The characters that make a display name need quotes (RFC 5322 "specials").
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')


class SettingsError(ValueError):
    """A setting has a bad value; the message names the variable."""


class Environment(StrEnum):
    DEV = "dev"
    PRODUCTION = "production"


class SmtpTls(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class Settings:
    env: Environment
    var_dir: Path
    database_url: str
    redis_url: str | None
    smtp_host: str | None
    smtp_port: int
    smtp_username: str | None
    smtp_password: str | None
    smtp_tls: SmtpTls
    public_url: str
    secret_key: str
    # Retired secret keys whose signed links still work (key rotation).
    previous_secret_keys: tuple[str, ...]
    data_key: str
    controller_name: str
    controller_business_id: str
    controller_address: str
    privacy_contact: str
    # The data protection officer's contact, where one is designated (GDPR
    # 37-38); None: the privacy notice says none was designated.
    dpo_contact: str | None
    # The From header as configured, display name and all ("Firma Oy
    # <news@firma.fi>"); mail_from_address is the bare address, for every
    # place that needs one (envelope, Message-ID domain, derived addresses).
    mail_from: str
    mail_from_address: str
    unsubscribe_address: str
    # Sending (per worker process).
    send_connections: int
    send_rate: float
    send_batch_size: int
    send_pause_after_failures: int
    send_job_timeout: int
    # What one rendered message may cost: CPU seconds (also the whole save-time
    # template check's allowance) and bytes of output (docs: README, Settings).
    template_cpu_seconds: int
    template_max_bytes: int
    # At most this many marketing messages per contact and channel in this
    # many days; 0 messages turns the cap off.
    frequency_cap_messages: int
    frequency_cap_days: int
    call_list_ttl_days: int
    # A phone call list is refused when the newest Robinson extract (the
    # do-not-call register, docs/robinson.md) is older than this.
    robinson_max_age_days: int
    # Engagement events older than this are deleted (13 months by default).
    engagement_retention_days: int
    # IP addresses are cut to these network prefixes before an event is queued.
    ip_v4_prefix: int
    ip_v6_prefix: int
    # The company website's origins ("https://www.example.fi") allowed to send
    # page views to POST /t/v; none: page views are not recorded.
    site_origins: tuple[str, ...]
    # Browser origins allowed to call /api from their own pages (CORS); none:
    # no Access-Control-* header is ever sent (docs/security.md).
    cors_origins: tuple[str, ...]
    # Browser logins (/app): ended after this many idle minutes, and after
    # this many hours whatever the activity (docs/security.md).
    session_idle_minutes: int
    session_max_hours: int
    # Lifetime of the visitor cookie a tracked click sets (at most 13 months).
    visit_cookie_days: int
    # Behavioural profiles (notice §6): where the export packages handed to the
    # profile vendor are written, the vendor's name in the notice to the
    # person, and how many days before the transfer that notice goes out.
    profile_transfer_dir: Path
    profile_vendor_name: str | None  # None: the notice names no vendor
    profile_transfer_notice_days: int
    # Closed data-subject requests are deleted this long after closing.
    request_retention_days: int
    # Inbound mail (`consentry inbound`): mailto unsubscribes and delivery
    # status notifications.
    inbound_host: str
    inbound_port: int
    # Delivery reports are accepted for this address as well as for MAIL_FROM
    # (the envelope sender of campaign mail).
    bounce_address: str
    # System mail (service.delivery.transactional: notices, confirmations):
    # its From header (may carry a display name) and its envelope sender.
    transactional_from: str
    transactional_return_path: str
    # Temporary delivery failures of one address before it is suppressed.
    soft_bounce_limit: int
    # Backups (`consentry backup`, docs/backup.md): where the scheduled job
    # writes them, how many days they are kept, when it runs (hour and minute
    # in Helsinki; None: no scheduled backups), and where pg_dump and
    # pg_restore are (None: looked up next to the server's version).
    backup_dir: Path
    backup_keep_days: int
    backup_time: tuple[int, int] | None
    pg_bin_dir: Path | None
    # Logs (docs/operations.md): one JSON object a line, or plain text (the
    # dev default); and the bearer token /metrics asks for (None: loopback only).
    log_format: LogFormat
    metrics_token: str | None

    @property
    def is_dev(self) -> bool:
        return self.env is Environment.DEV


def _text(environ: dict[str, str], name: str) -> str | None:
    value = environ.get(PREFIX + name, "").strip()
    return value or None


def _choice(environ: dict[str, str], name: str, enum: type[E], default: E) -> E:
    raw = _text(environ, name)
    if raw is None:
        return default
    try:
        return enum(raw.lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise SettingsError(f"{PREFIX}{name}: must be one of {allowed}") from None


def _port(environ: dict[str, str], name: str, default: int) -> int:
    raw = _text(environ, name)
    if raw is None:
        return default
    # isdigit() alone admits digits such as "²" that int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 65535:
        raise SettingsError(f"{PREFIX}{name}: must be a port number from 1 to 65535")
    return int(raw)


def _int(environ: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = _text(environ, name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise SettingsError(f"{PREFIX}{name}: must be a whole number from {low} to {high}")
    return int(raw)


def _url(
    environ: dict[str, str], name: str, default: str | None, schemes: tuple[str, ...]
) -> str | None:
    raw = _text(environ, name)
    if raw is None:
        return default
    try:
        parts = urlsplit(raw)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 host
        raise SettingsError(f"{PREFIX}{name}: not a valid URL") from None
    if parts.scheme not in schemes:
        raise SettingsError(f"{PREFIX}{name}: must be a URL starting with {' or '.join(schemes)}")
    if not parts.netloc and parts.scheme.startswith(("http", "redis")):
        raise SettingsError(f"{PREFIX}{name}: the URL has no host")
    return raw


def _public_url(environ: dict[str, str], env: Environment) -> str:
    url = _url(environ, "PUBLIC_URL", None, ("http", "https"))
    if env is not Environment.PRODUCTION:
        return url or DEFAULT_PUBLIC_URL
    # Every unsubscribe and tracking link carries it: a default pointing at
    # this machine, or a link in clear text, must not go out in real mail.
    if url is None:
        raise SettingsError(
            f"{PREFIX}PUBLIC_URL: required when CONSENTRY_ENV=production "
            "(the https:// address people reach the service at)"
        )
    if not url.startswith("https://"):
        raise SettingsError(f"{PREFIX}PUBLIC_URL: must start with https:// in production")
    return url


def _parse_address(name: str, raw: str) -> tuple[str, str]:
    """``(display name, bare address)`` of ``addr`` or ``Name <addr>``.

    The domain is IDNA-encoded, since the envelope and Message-IDs need ASCII;
    the local part must be ASCII (a non-ASCII one needs SMTPUTF8, which not
    every relay offers).
    """
    display, address = parseaddr(raw)
    local, _, domain = address.rpartition("@")
    plain = "<" not in raw or raw.rstrip().endswith(">")
    if not (plain and local and domain and raw.count("<") <= 1) or any(
        c.isspace() or c in "<>" for c in address
    ):
        raise SettingsError(
            f"{PREFIX}{name}: must be an email address, optionally with a display name "
            '("Firma Oy <news@firma.fi>")'
        )
    if not local.isascii():
        raise SettingsError(f"{PREFIX}{name}: the part before @ must be ASCII")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise SettingsError(f"{PREFIX}{name}: {domain!r} is not a valid domain") from None
    return display.strip(), f"{local}@{domain}"


def _with_display_name(display: str, address: str) -> str:
    """The header form: the name quoted where RFC 5322 needs it (message
    building encodes a non-ASCII name, RFC 2047)."""
    if not display:
        return address
    if _SPECIALS.search(display):
        display = f'"{quote(display)}"'
    return f"{display} <{address}>"


def _address(environ: dict[str, str], name: str) -> str | None:
    """A bare address setting; a display name given with it is dropped."""
    raw = _text(environ, name)
    return None if raw is None else _parse_address(name, raw)[1]


def _refuse_control_characters(environ: dict[str, str]) -> None:
    for name in sorted(environ):
        if name.startswith(PREFIX) and _CONTROL.search(environ[name]):
            # Never the value: it may be a key or a password.
            raise SettingsError(
                f"{name}: contains a control character (a line break, tab or other "
                "invisible character); remove it"
            )


def _origins(environ: dict[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated web origins, each ``scheme://host[:port]`` and nothing more."""
    origins = []
    for item in (_text(environ, name) or "").split(","):
        if not item.strip():
            continue
        try:
            parts = urlsplit(item.strip())
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            parts = urlsplit("")
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise SettingsError(
                f"{PREFIX}{name}: {item.strip()!r} is not an origin like https://www.example.fi"
            )
        origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return tuple(origins)


def _secret(environ: dict[str, str], name: str, env: Environment, var_dir: Path) -> str:
    """A key from the environment; in dev, generated once and kept under var/.

    Keeping it on disk makes tokens and encrypted identity codes survive a restart
    of the dev service. Production refuses to start without a real key.
    """
    raw = _text(environ, name)
    if raw is not None:
        if len(raw) < 32:
            raise SettingsError(f"{PREFIX}{name}: must be at least 32 characters long")
        if env is Environment.PRODUCTION and _guessable(raw):
            raise SettingsError(
                f"{PREFIX}{name}: looks like a placeholder or example value; "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return raw
    if env is Environment.PRODUCTION:
        raise SettingsError(f"{PREFIX}{name}: required when CONSENTRY_ENV=production")
    key_file = var_dir / name.lower()
    try:
        if not key_file.exists():
            _create_key_file(key_file)
        return key_file.read_text().strip()
    except OSError as exc:
        raise SettingsError(
            f"{PREFIX}VAR_DIR: cannot keep the generated {PREFIX}{name} in {var_dir}: "
            f"{exc.strerror or exc}"
        ) from None


# Words of the placeholders people paste from examples and templates; a key
# from a random generator contains none of them (in the same letter case).
_PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "example", "placeholder", "secret")
# A random 32-character key has ~25 different characters; one with fewer than
# this is typed by hand ("x" * 32, "0123456789" * 4).
_MIN_DISTINCT_CHARACTERS = 12


def _guessable(key: str) -> bool:
    """True for a key production must refuse: a placeholder, an example or a
    hand-typed repetition (the checks are cheap; the length is checked apart)."""
    lowered = key.lower()
    return (
        any(word in lowered for word in _PLACEHOLDER_WORDS)
        or len(set(key)) < _MIN_DISTINCT_CHARACTERS
    )


def _create_key_file(key_file: Path) -> None:
    """Write a new key to `key_file` (mode 0600) unless another process won the race.

    The key is written to a private temporary file and then hard-linked into
    place, so a process starting at the same moment (`consentry run` and a
    `consentry user add`, say) never reads a half-written or empty key, and the
    first key written is the one every process keeps.
    """
    key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, key_file)
    finally:
        tmp.unlink(missing_ok=True)


def _previous_keys(environ: dict[str, str]) -> tuple[str, ...]:
    raw = _text(environ, "PREVIOUS_SECRET_KEYS")
    keys = tuple(key.strip() for key in (raw or "").split(",") if key.strip())
    if any(len(key) < 32 for key in keys):
        raise SettingsError(
            f"{PREFIX}PREVIOUS_SECRET_KEYS: each key must be at least 32 characters"
        )
    return keys


def backup_time(environ: dict[str, str]) -> tuple[int, int] | None:
    """``CONSENTRY_BACKUP_TIME``: ``HH:MM`` in Helsinki (default 01:30), or ``off``.

    Public because the worker's cron table is built when its module is
    imported, before any Settings object exists."""
    raw = _text(environ, "BACKUP_TIME") or "01:30"
    if raw.lower() == "off":
        return None
    hour, _, minute = raw.partition(":")
    if not (
        len(minute) == 2
        and len(hour) in (1, 2)
        and hour.isascii()
        and hour.isdigit()
        and minute.isascii()
        and minute.isdigit()
        and int(hour) < 24
        and int(minute) < 60
    ):
        raise SettingsError(f"{PREFIX}BACKUP_TIME: must be a time like 01:30, or off")
    return int(hour), int(minute)


def _default_log_format(env: Environment) -> LogFormat:
    # A terminal reads text; a log collector in production reads JSON.
    return LogFormat.TEXT if env is Environment.DEV else LogFormat.JSON


def _metrics_token(environ: dict[str, str]) -> str | None:
    token = _text(environ, "METRICS_TOKEN")
    if token is not None and len(token) < 32:
        raise SettingsError(f"{PREFIX}METRICS_TOKEN: must be at least 32 characters long")
    return token


def _identity(environ: dict[str, str], name: str, env: Environment) -> str:
    return _text(environ, name) or _dev_only(env, name, DEV_PLACEHOLDER)


def _dev_only(env: Environment, name: str, default: str) -> str:
    if env is Environment.PRODUCTION:
        raise SettingsError(f"{PREFIX}{name}: required when CONSENTRY_ENV=production")
    return default


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise SettingsError naming the first bad one."""
    environ = dict(os.environ if environ is None else environ)
    _refuse_control_characters(environ)
    env = _choice(environ, "ENV", Environment, Environment.DEV)
    var_dir = Path(_text(environ, "VAR_DIR") or "./var")
    database_url = _url(
        environ,
        "DATABASE_URL",
        f"sqlite+aiosqlite:///{var_dir}/consentry.db",
        ("sqlite+aiosqlite", "postgresql+asyncpg"),
    )
    assert database_url is not None
    public_url = _public_url(environ, env)
    smtp_host = _text(environ, "SMTP_HOST")
    smtp_tls = _choice(environ, "SMTP_TLS", SmtpTls, SmtpTls.NONE)
    default_port = {SmtpTls.NONE: 25, SmtpTls.STARTTLS: 587, SmtpTls.TLS: 465}[smtp_tls]
    controller_name = _identity(environ, "CONTROLLER_NAME", env)
    display, mail_from_address = _parse_address(
        "MAIL_FROM",
        _text(environ, "MAIL_FROM") or _dev_only(env, "MAIL_FROM", "marketing@localhost"),
    )
    mail_domain = mail_from_address.rpartition("@")[2]
    bounce_address = _address(environ, "BOUNCE_ADDRESS") or mail_from_address
    mail_from = _with_display_name(display, mail_from_address)
    transactional_from = mail_from
    if raw_from := _text(environ, "TRANSACTIONAL_FROM"):
        transactional_from = _with_display_name(*_parse_address("TRANSACTIONAL_FROM", raw_from))
    secret_key = _secret(environ, "SECRET_KEY", env, var_dir)
    data_key = _secret(environ, "DATA_KEY", env, var_dir)
    if env is Environment.PRODUCTION and secret_key == data_key:
        # One leaked key would then both forge links and read identity codes.
        raise SettingsError(f"{PREFIX}DATA_KEY: must differ from {PREFIX}SECRET_KEY")
    return Settings(
        env=env,
        var_dir=var_dir,
        database_url=database_url,
        redis_url=_url(environ, "REDIS_URL", None, ("redis", "rediss", "unix")),
        smtp_host=smtp_host,
        smtp_port=_port(environ, "SMTP_PORT", default_port),
        smtp_username=_text(environ, "SMTP_USERNAME"),
        smtp_password=_text(environ, "SMTP_PASSWORD"),
        smtp_tls=smtp_tls,
        public_url=public_url.rstrip("/"),
        secret_key=secret_key,
        previous_secret_keys=_previous_keys(environ),
        data_key=data_key,
        controller_name=controller_name,
        controller_business_id=_identity(environ, "CONTROLLER_BUSINESS_ID", env),
        controller_address=_identity(environ, "CONTROLLER_ADDRESS", env),
        privacy_contact=_identity(environ, "PRIVACY_CONTACT", env),
        dpo_contact=_text(environ, "DPO_CONTACT"),
        mail_from=mail_from,
        mail_from_address=mail_from_address,
        unsubscribe_address=_address(environ, "UNSUBSCRIBE_ADDRESS")
        or "unsubscribe@" + mail_domain,
        send_connections=_int(environ, "SEND_CONNECTIONS", 4, 1, 64),
        send_rate=float(_int(environ, "SEND_RATE", 0, 0, 1_000_000)),
        send_batch_size=_int(environ, "SEND_BATCH_SIZE", 1000, 1, 100_000),
        send_pause_after_failures=_int(environ, "SEND_PAUSE_AFTER_FAILURES", 50, 1, 1_000_000),
        send_job_timeout=_int(environ, "SEND_JOB_TIMEOUT", 300, 5, 86_400),
        template_cpu_seconds=_int(environ, "TEMPLATE_CPU_SECONDS", 2, 1, 60),
        template_max_bytes=_int(environ, "TEMPLATE_MAX_BYTES", 1_000_000, 10_000, 100_000_000),
        frequency_cap_messages=_int(environ, "FREQUENCY_CAP_MESSAGES", 4, 0, 1000),
        frequency_cap_days=_int(environ, "FREQUENCY_CAP_DAYS", 30, 1, 3650),
        call_list_ttl_days=_int(environ, "CALL_LIST_TTL_DAYS", 7, 1, 365),
        robinson_max_age_days=_int(environ, "ROBINSON_MAX_AGE_DAYS", 31, 1, 365),
        engagement_retention_days=_int(environ, "ENGAGEMENT_RETENTION_DAYS", 395, 1, 3650),
        # Coarser networks are allowed, finer ones are not: the notice promises these.
        ip_v4_prefix=_int(environ, "IP_V4_PREFIX", 24, 0, 24),
        ip_v6_prefix=_int(environ, "IP_V6_PREFIX", 48, 0, 48),
        site_origins=_origins(environ, "SITE_ORIGINS"),
        cors_origins=_origins(environ, "CORS_ORIGINS"),
        session_idle_minutes=_int(environ, "SESSION_IDLE_MINUTES", 30, 1, 24 * 60),
        session_max_hours=_int(environ, "SESSION_MAX_HOURS", 12, 1, 7 * 24),
        visit_cookie_days=_int(environ, "VISIT_COOKIE_DAYS", 395, 1, MAX_VISIT_COOKIE_DAYS),
        profile_transfer_dir=Path(
            _text(environ, "PROFILE_TRANSFER_DIR") or var_dir / "profile-transfers"
        ),
        profile_vendor_name=_text(environ, "PROFILE_VENDOR_NAME"),
        profile_transfer_notice_days=_int(environ, "PROFILE_TRANSFER_NOTICE_DAYS", 30, 1, 365),
        request_retention_days=_int(environ, "REQUEST_RETENTION_DAYS", 1095, 30, 3650),
        inbound_host=_text(environ, "INBOUND_HOST") or "127.0.0.1",
        inbound_port=_port(environ, "INBOUND_PORT", 2525),
        bounce_address=bounce_address,
        transactional_from=transactional_from,
        transactional_return_path=_address(environ, "TRANSACTIONAL_RETURN_PATH") or bounce_address,
        soft_bounce_limit=_int(environ, "SOFT_BOUNCE_LIMIT", 3, 1, 100),
        backup_dir=Path(_text(environ, "BACKUP_DIR") or var_dir / "backups"),
        backup_keep_days=_int(environ, "BACKUP_KEEP_DAYS", 30, 1, 3650),
        backup_time=backup_time(environ),
        pg_bin_dir=Path(raw) if (raw := _text(environ, "PG_BIN_DIR")) else None,
        log_format=_choice(environ, "LOG_FORMAT", LogFormat, _default_log_format(env)),
        metrics_token=_metrics_token(environ),
    )


@cache
def get_settings() -> Settings:
    """The process-wide settings, validated on first use."""
    return load_settings()
