"""One validated settings object, read from the environment once.

Every setting is a ``CONSENTRY_*`` environment variable (CONTRACT.md). A bad
value raises :class:`SettingsError` whose message names the variable; the CLI
prints that one line and exits non-zero. Here: what the settings are and where
each comes from; how one value is read and checked is in
``service.settings_readers``, the keys in ``service.settings_keys``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from service import settings_keys
from service import settings_readers as read
from service.settings_delivery import (
    DkimSettings,
    complaint_pause_rate,
    dkim_settings,
    sms_hook_secret,
)
from service.settings_hooks import HookSettings, hook_settings
from service.settings_readers import PREFIX, SettingsError
from service.settings_vendor import VendorSettings, vendor_settings

__all__ = [
    "DEFAULT_PUBLIC_URL",
    "DEV_PLACEHOLDER",
    "MAX_VISIT_COOKIE_DAYS",
    "PREFIX",
    "Environment",
    "LogFormat",
    "Settings",
    "SettingsError",
    "SmtpTls",
    "backup_time",
    "get_settings",
    "load_settings",
]

DEV_PLACEHOLDER = "(not configured)"
# Cookies that track a person last at most 13 months (CNIL, the notice §5).
MAX_VISIT_COOKIE_DAYS = 395
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


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
    # Per receiving domain: messages in flight and per second, on top of the
    # built-in rules for the big mailbox providers (service.delivery.throttle).
    domain_throttle: tuple[read.DomainRule, ...]
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
    # Signup forms (double opt-in): an unconfirmed signup is deleted this many
    # days after it was made, with the contact it created.
    doi_expiry_days: int
    # Behavioural profiles (notice §6): where the export packages handed to the
    # profile vendor are written, the vendor's name in the notice to the
    # person, and how many days before the transfer that notice goes out.
    profile_transfer_dir: Path
    profile_vendor_name: str | None  # None: the notice names no vendor
    profile_transfer_notice_days: int
    # The hand-over itself: the vendor's age key, country and safeguard
    # (service.settings_vendor).
    profile_vendor: VendorSettings
    # Closed data-subject requests are deleted this long after closing.
    request_retention_days: int
    # The audit trail's oldest rows are cut off (with a recorded, verifiable
    # cut: service.audit.cut) this long after they were written; 0 keeps the
    # trail for ever. Six years by default: the register's longest period
    # (a contact's five years from the latest service contact) plus a year
    # in which a complaint or claim about its end can still be answered.
    audit_retention_days: int
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
    # Replies (docs/deliverability.md): the Reply-To of campaign mail (None:
    # replies go to MAIL_FROM), and where a reply that is not a stop request
    # is forwarded over the SMTP relay (None: counted in the log, not sent on).
    reply_to: str | None
    reply_forward_to: str | None
    # Policy refusals (5.7.x, block lists) among a campaign's last 200
    # messages that pause it (service.delivery.bounce_effects).
    policy_pause_after: int
    # A campaign's complaints / messages sent at which it pauses itself.
    complaint_pause_rate: float
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
    # DKIM (service.delivery.dkim, docs/deliverability.md): the selector and
    # PEM key file of the RSA signature (None: mail goes unsigned), an optional
    # Ed25519 one beside it, and the signing domain (default: the From
    # domain, which must be it or below it).
    dkim: DkimSettings
    # The ESP webhooks, each on only when configured (service.settings_hooks).
    hooks: HookSettings
    # SMS (docs/deliverability.md, "SMS"): the HTTP gateway each message is
    # POSTed to (None: `consentry run` starts the local SMS catcher), its
    # bearer token, messages in flight at once, and seconds to wait for an
    # answer; the shared secret of the gateway's inbound hook (POST
    # /hooks/sms; None: the hook answers 404).
    sms_gateway_url: str | None
    sms_gateway_token: str | None
    sms_concurrency: int
    sms_timeout_seconds: int
    sms_hook_secret: str | None

    @property
    def is_dev(self) -> bool:
        return self.env is Environment.DEV


def _public_url(environ: dict[str, str], env: Environment) -> str:
    url = read.url(environ, "PUBLIC_URL", None, ("http", "https"))
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


def _previous_keys(environ: dict[str, str]) -> tuple[str, ...]:
    raw = read.text(environ, "PREVIOUS_SECRET_KEYS")
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
    raw = read.text(environ, "BACKUP_TIME") or "01:30"
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


# Shorter than a year would cut the trail before a person's access request
# about last year's processing could be answered from it.
MIN_AUDIT_RETENTION_DAYS = 365


def _audit_retention_days(environ: dict[str, str]) -> int:
    days = read.number(environ, "AUDIT_RETENTION_DAYS", 2190, 0, 36500)
    if 0 < days < MIN_AUDIT_RETENTION_DAYS:
        raise SettingsError(
            f"{PREFIX}AUDIT_RETENTION_DAYS: 0 (keep for ever) or a whole number of days "
            f"from {MIN_AUDIT_RETENTION_DAYS} to 36500"
        )
    return days


def _default_log_format(env: Environment) -> LogFormat:
    # A terminal reads text; a log collector in production reads JSON.
    return LogFormat.TEXT if env is Environment.DEV else LogFormat.JSON


def _metrics_token(environ: dict[str, str]) -> str | None:
    token = read.text(environ, "METRICS_TOKEN")
    if token is not None and len(token) < 32:
        raise SettingsError(f"{PREFIX}METRICS_TOKEN: must be at least 32 characters long")
    return token


def _identity(environ: dict[str, str], name: str, env: Environment) -> str:
    return read.text(environ, name) or _dev_only(env, name, DEV_PLACEHOLDER)


def _dev_only(env: Environment, name: str, default: str) -> str:
    if env is Environment.PRODUCTION:
        raise SettingsError(f"{PREFIX}{name}: required when CONSENTRY_ENV=production")
    return default


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise SettingsError naming the first bad one."""
    environ = dict(os.environ if environ is None else environ)
    read.refuse_control_characters(environ)
    env = read.choice(environ, "ENV", Environment, Environment.DEV)
    var_dir = Path(read.text(environ, "VAR_DIR") or "./var")
    database_url = read.url(
        environ,
        "DATABASE_URL",
        f"sqlite+aiosqlite:///{var_dir}/consentry.db",
        ("sqlite+aiosqlite", "postgresql+asyncpg"),
    )
    assert database_url is not None
    public_url = _public_url(environ, env)
    smtp_host = read.text(environ, "SMTP_HOST")
    smtp_tls = read.choice(environ, "SMTP_TLS", SmtpTls, SmtpTls.NONE)
    default_port = {SmtpTls.NONE: 25, SmtpTls.STARTTLS: 587, SmtpTls.TLS: 465}[smtp_tls]
    controller_name = _identity(environ, "CONTROLLER_NAME", env)
    display, mail_from_address = read.parse_address(
        "MAIL_FROM",
        read.text(environ, "MAIL_FROM") or _dev_only(env, "MAIL_FROM", "marketing@localhost"),
    )
    mail_domain = mail_from_address.rpartition("@")[2]
    bounce_address = read.address(environ, "BOUNCE_ADDRESS") or mail_from_address
    mail_from = read.with_display_name(display, mail_from_address)
    transactional_from = mail_from
    if raw_from := read.text(environ, "TRANSACTIONAL_FROM"):
        transactional_from = read.with_display_name(
            *read.parse_address("TRANSACTIONAL_FROM", raw_from)
        )
    production = env is Environment.PRODUCTION
    secret_key = settings_keys.secret(environ, "SECRET_KEY", production=production, var_dir=var_dir)
    data_key = settings_keys.secret(environ, "DATA_KEY", production=production, var_dir=var_dir)
    if production and secret_key == data_key:
        # One leaked key would then both forge links and read identity codes.
        raise SettingsError(f"{PREFIX}DATA_KEY: must differ from {PREFIX}SECRET_KEY")
    return Settings(
        env=env,
        var_dir=var_dir,
        database_url=database_url,
        redis_url=read.url(environ, "REDIS_URL", None, ("redis", "rediss", "unix")),
        smtp_host=smtp_host,
        smtp_port=read.port(environ, "SMTP_PORT", default_port),
        smtp_username=read.text(environ, "SMTP_USERNAME"),
        smtp_password=read.text(environ, "SMTP_PASSWORD"),
        smtp_tls=smtp_tls,
        public_url=public_url.rstrip("/"),
        secret_key=secret_key,
        previous_secret_keys=_previous_keys(environ),
        data_key=data_key,
        controller_name=controller_name,
        controller_business_id=_identity(environ, "CONTROLLER_BUSINESS_ID", env),
        controller_address=_identity(environ, "CONTROLLER_ADDRESS", env),
        privacy_contact=_identity(environ, "PRIVACY_CONTACT", env),
        dpo_contact=read.text(environ, "DPO_CONTACT"),
        mail_from=mail_from,
        mail_from_address=mail_from_address,
        unsubscribe_address=read.address(environ, "UNSUBSCRIBE_ADDRESS")
        or "unsubscribe@" + mail_domain,
        send_connections=read.number(environ, "SEND_CONNECTIONS", 4, 1, 64),
        send_rate=float(read.number(environ, "SEND_RATE", 0, 0, 1_000_000)),
        send_batch_size=read.number(environ, "SEND_BATCH_SIZE", 1000, 1, 100_000),
        send_pause_after_failures=read.number(
            environ, "SEND_PAUSE_AFTER_FAILURES", 50, 1, 1_000_000
        ),
        send_job_timeout=read.number(environ, "SEND_JOB_TIMEOUT", 300, 5, 86_400),
        domain_throttle=read.domain_rules(environ, "DOMAIN_THROTTLE"),
        template_cpu_seconds=read.number(environ, "TEMPLATE_CPU_SECONDS", 2, 1, 60),
        template_max_bytes=read.number(
            environ, "TEMPLATE_MAX_BYTES", 1_000_000, 10_000, 100_000_000
        ),
        frequency_cap_messages=read.number(environ, "FREQUENCY_CAP_MESSAGES", 4, 0, 1000),
        frequency_cap_days=read.number(environ, "FREQUENCY_CAP_DAYS", 30, 1, 3650),
        call_list_ttl_days=read.number(environ, "CALL_LIST_TTL_DAYS", 7, 1, 365),
        robinson_max_age_days=read.number(environ, "ROBINSON_MAX_AGE_DAYS", 31, 1, 365),
        engagement_retention_days=read.number(environ, "ENGAGEMENT_RETENTION_DAYS", 395, 1, 3650),
        # Coarser networks are allowed, finer ones are not: the notice promises these.
        ip_v4_prefix=read.number(environ, "IP_V4_PREFIX", 24, 0, 24),
        ip_v6_prefix=read.number(environ, "IP_V6_PREFIX", 48, 0, 48),
        site_origins=read.origins(environ, "SITE_ORIGINS"),
        cors_origins=read.origins(environ, "CORS_ORIGINS"),
        session_idle_minutes=read.number(environ, "SESSION_IDLE_MINUTES", 30, 1, 24 * 60),
        session_max_hours=read.number(environ, "SESSION_MAX_HOURS", 12, 1, 7 * 24),
        visit_cookie_days=read.number(environ, "VISIT_COOKIE_DAYS", 395, 1, MAX_VISIT_COOKIE_DAYS),
        doi_expiry_days=read.number(environ, "DOI_EXPIRY_DAYS", 7, 1, 90),
        profile_transfer_dir=Path(
            read.text(environ, "PROFILE_TRANSFER_DIR") or var_dir / "profile-transfers"
        ),
        profile_vendor_name=read.text(environ, "PROFILE_VENDOR_NAME"),
        profile_vendor=vendor_settings(environ),
        profile_transfer_notice_days=read.number(
            environ, "PROFILE_TRANSFER_NOTICE_DAYS", 30, 1, 365
        ),
        request_retention_days=read.number(environ, "REQUEST_RETENTION_DAYS", 1095, 30, 3650),
        audit_retention_days=_audit_retention_days(environ),
        inbound_host=read.text(environ, "INBOUND_HOST") or "127.0.0.1",
        inbound_port=read.port(environ, "INBOUND_PORT", 2525),
        bounce_address=bounce_address,
        transactional_from=transactional_from,
        transactional_return_path=read.address(environ, "TRANSACTIONAL_RETURN_PATH")
        or bounce_address,
        soft_bounce_limit=read.number(environ, "SOFT_BOUNCE_LIMIT", 3, 1, 100),
        reply_to=read.address(environ, "REPLY_TO"),
        reply_forward_to=read.address(environ, "REPLY_FORWARD_TO"),
        policy_pause_after=read.number(environ, "POLICY_PAUSE_AFTER", 10, 1, 200),
        complaint_pause_rate=complaint_pause_rate(environ),
        backup_dir=Path(read.text(environ, "BACKUP_DIR") or var_dir / "backups"),
        backup_keep_days=read.number(environ, "BACKUP_KEEP_DAYS", 30, 1, 3650),
        backup_time=backup_time(environ),
        pg_bin_dir=Path(raw) if (raw := read.text(environ, "PG_BIN_DIR")) else None,
        log_format=read.choice(environ, "LOG_FORMAT", LogFormat, _default_log_format(env)),
        metrics_token=_metrics_token(environ),
        dkim=dkim_settings(
            environ,
            {
                "MAIL_FROM": mail_domain,
                "TRANSACTIONAL_FROM": transactional_from.rpartition("@")[2].rstrip(">"),
            },
        ),
        hooks=hook_settings(environ),
        sms_gateway_url=read.url(environ, "SMS_GATEWAY_URL", None, ("http", "https")),
        sms_gateway_token=read.text(environ, "SMS_GATEWAY_TOKEN"),
        sms_concurrency=read.number(environ, "SMS_CONCURRENCY", 4, 1, 64),
        sms_timeout_seconds=read.number(environ, "SMS_TIMEOUT_SECONDS", 10, 1, 120),
        sms_hook_secret=sms_hook_secret(environ),
    )


@cache
def get_settings() -> Settings:
    """The process-wide settings, validated on first use."""
    return load_settings()
