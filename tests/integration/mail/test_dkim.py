"""DKIM (issue 15 item 1): a key made by `consentry dkim keygen` signs every
message the real jobs send, campaign and system mail alike, and dkimpy
verifies it against the record the command printed; ``h=`` covers both
List-Unsubscribe fields (RFC 8058); `consentry dkim check` says whether a
record fits the configured key."""

from __future__ import annotations

import re
import stat
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import dkim as dkimpy
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.db import SessionMaker
from service.delivery import dkim
from service.delivery.messenger import Outcome
from service.delivery.smtp import SmtpConfig, SmtpPool
from service.embedded import MailCatcher
from service.retention.notice import TransferNotice, send_notice
from service.settings import Settings, SettingsError, load_settings
from service.tokens import TokenSigner
from tests.support.consentry_run import consentry, make_env
from tests.support.factories import add_recipient
from tests.support.worker import drain, worker_context

Client = AsyncTestClient[Litestar]
DOMAIN = "firma.fi"


def keygen(root: Path, selector: str, *extra: str) -> tuple[Path, str]:
    """Run the real command; the key file and the DNS line it printed."""
    out = root / f"{selector}.pem"
    done = consentry(
        make_env(root), "dkim", "keygen", "--selector", selector, "--domain", DOMAIN,
        "--out", str(out), *extra,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out, done.stdout.strip()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    root = tmp_path_factory.mktemp("dkim")
    return {
        "rsa": keygen(root, "cs2026"),
        "ed25519": keygen(root, "ed2026", "--algorithm", "ed25519"),
    }


def dns_from(*lines: str) -> dkim.DnsLookup:
    """A resolver serving the zone-file lines `keygen` printed."""
    zone = {}
    for line in lines:
        name, _, rest = line.partition(" IN TXT ")
        zone[name.encode()] = dkim.record_text(rest).encode()

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return zone.get(name)

    return lookup


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    server = MailCatcher(tmp_path / "outbox")
    with server:
        yield server


@pytest.fixture
def settings(
    settings: Settings,
    settings_env: dict[str, str],
    catcher: MailCatcher,
    keys: dict[str, tuple[Path, str]],
) -> Settings:
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": settings.database_url,
            "CONSENTRY_REDIS_URL": settings.redis_url or "",
            "CONSENTRY_SMTP_HOST": "127.0.0.1",
            "CONSENTRY_SMTP_PORT": str(catcher.port),
            "CONSENTRY_MAIL_FROM": f"Firma Oy <uutiset@{DOMAIN}>",
            "CONSENTRY_DKIM_SELECTOR": "cs2026",
            "CONSENTRY_DKIM_KEY_FILE": str(keys["rsa"][0]),
            "CONSENTRY_DKIM_ED25519_SELECTOR": "ed2026",
            "CONSENTRY_DKIM_ED25519_KEY_FILE": str(keys["ed25519"][0]),
        }
    )


@pytest.fixture
async def ctx(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[dict[str, Any]]:
    async with worker_context(settings, sessionmaker) as context:
        await context["redis"].flushdb()
        yield context


def raw_to(catcher: MailCatcher, address: str) -> bytes:
    found = [p.read_bytes() for p in catcher.outbox.glob("*.eml")]
    mine = [raw for raw in found if f"X-Envelope-To: {address}".encode() in raw]
    assert len(mine) == 1
    return mine[0]


def signature_fields(raw: bytes, index: int = 0) -> dict[bytes, bytes]:
    headers = [v for k, v in dkimpy.rfc822_parse(raw)[0] if k.lower() == b"dkim-signature"]
    return dkimpy.util.parse_tag_value(re.sub(rb"\s+", b"", headers[index]))


def test_keygen_writes_a_private_key_and_prints_one_record_line(
    keys: dict[str, tuple[Path, str]],
) -> None:
    path, line = keys["rsa"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "\n" not in line
    assert re.fullmatch(r'cs2026\._domainkey\.firma\.fi\. IN TXT( "[^"]{1,255}")+', line), line
    assert dkim.record_text(line).startswith("v=DKIM1; k=rsa; p=MII")
    assert keys["ed25519"][1].startswith('ed2026._domainkey.firma.fi. IN TXT "v=DKIM1; k=ed25519;')


def test_keygen_never_overwrites_a_key(keys: dict[str, tuple[Path, str]]) -> None:
    path, _ = keys["rsa"]
    before = path.read_bytes()
    done = consentry(
        make_env(path.parent), "dkim", "keygen", "--selector", "cs2026", "--out", str(path)
    )
    assert done.returncode == 1
    assert "exists already" in done.stderr
    assert path.read_bytes() == before


async def test_campaign_mail_is_signed_and_verifies_against_the_printed_records(
    admin: Client,
    ctx: dict[str, Any],
    catcher: MailCatcher,
    keys: dict[str, tuple[Path, str]],
) -> None:
    tag = f"dkim-{uuid.uuid4().hex[:8]}"
    address = f"{tag}@example.fi"
    await add_recipient(admin, address, tags=[tag])
    created = await admin.post(
        "/api/v1/campaigns",
        json={
            "name": "Signed",
            "channel": "email",
            "subject": "Hyvää joulua",
            "body_html": "<p>Hei {{ contact.full_name }}</p>",
            "body_text": "Hei",
            "segment": {"tags": [tag]},
        },
    )
    assert created.status_code == 201, created.text
    assert (await admin.post(f"/api/v1/campaigns/{created.json()['id']}/send")).status_code == 202
    await drain(ctx)
    raw = raw_to(catcher, address)
    dns = dns_from(keys["rsa"][1], keys["ed25519"][1])

    # The first signature is RSA: every receiver understands it.
    rsa_tags = signature_fields(raw)
    assert rsa_tags[b"a"] == b"rsa-sha256"
    assert rsa_tags[b"d"] == DOMAIN.encode()
    signed = rsa_tags[b"h"].lower().split(b":")
    for name in (b"from", b"to", b"subject", b"date", b"message-id", b"list-id",
                 b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version",
                 b"content-type"):  # fmt: skip
        assert name in signed, name
    # Signed once more than present: nobody can add a second one on the way.
    assert signed.count(b"list-unsubscribe") == 2
    assert signed.count(b"list-unsubscribe-post") == 2
    assert dkimpy.verify(raw, dnsfunc=dns)
    # The Ed25519 one beside it verifies too (RFC 8463).
    assert signature_fields(raw, 1)[b"a"] == b"ed25519-sha256"
    assert dkimpy.DKIM(raw).verify(idx=1, dnsfunc=dns)

    # A changed subject, an added unsubscribe field, or another key: no longer valid.
    assert not dkimpy.verify(raw.replace(b"Subject: ", b"Subject: Re: ", 1), dnsfunc=dns)
    added = raw.replace(b"\r\n\r\n", b"\r\nList-Unsubscribe: <https://evil.example/u>\r\n\r\n", 1)
    assert not dkimpy.verify(added, dnsfunc=dns)
    other = dkim.SigningKey("cs2026", DOMAIN, dkim.generate())
    assert not dkimpy.verify(raw, dnsfunc=dkim.record_lookup(other.record_value()))


async def test_system_mail_is_signed_too(
    settings: Settings, catcher: MailCatcher, keys: dict[str, tuple[Path, str]]
) -> None:
    notice = TransferNotice(
        profile_id=1,
        email="someone@example.fi",
        name="Maija",
        language="fi",
        completed_on=date(2026, 1, 5),
        transfer_on=date(2027, 1, 5),
    )
    signer = TokenSigner(settings.secret_key, settings.previous_secret_keys)
    async with SmtpPool(SmtpConfig.from_settings(settings), size=1) as pool:
        delivery = await send_notice(pool, notice, settings=settings, signer=signer)
    assert delivery.outcome is Outcome.SENT
    raw = raw_to(catcher, "someone@example.fi")
    assert dkimpy.verify(raw, dnsfunc=dns_from(keys["rsa"][1]))
    # System mail has no unsubscribe field, and none can be added on the way.
    signed = signature_fields(raw)[b"h"].lower().split(b":")
    assert signed.count(b"list-unsubscribe") == 1
    assert b"auto-submitted" in signed


def test_check_verifies_a_matching_record_and_refuses_another(
    tmp_path: Path, keys: dict[str, tuple[Path, str]]
) -> None:
    path, line = keys["rsa"]
    env = make_env(
        tmp_path,
        CONSENTRY_MAIL_FROM=f"uutiset@{DOMAIN}",
        CONSENTRY_DKIM_SELECTOR="cs2026",
        CONSENTRY_DKIM_KEY_FILE=str(path),
    )
    good = consentry(env, "dkim", "check", "--record", dkim.record_text(line))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "cs2026._domainkey.firma.fi: verifies" in good.stdout
    assert "list-unsubscribe:list-unsubscribe-post" in good.stdout

    other = dkim.SigningKey("cs2026", DOMAIN, dkim.generate()).record_value()
    bad = consentry(env, "dkim", "check", "--record", other)
    assert bad.returncode == 1
    assert "not the configured key" in bad.stdout

    garbage = consentry(env, "dkim", "check", "--record", "v=DKIM1; k=rsa; p=!!!")
    assert garbage.returncode == 1
    assert "Traceback" not in garbage.stderr


def test_signing_is_refused_when_the_domain_does_not_align(tmp_path: Path) -> None:
    base = {
        "CONSENTRY_VAR_DIR": str(tmp_path),
        "CONSENTRY_MAIL_FROM": "news@mail.firma.fi",
        "CONSENTRY_DKIM_SELECTOR": "s1",
        "CONSENTRY_DKIM_KEY_FILE": str(tmp_path / "k.pem"),
    }
    # A subdomain From aligns with the organisational signing domain...
    assert load_settings({**base, "CONSENTRY_DKIM_DOMAIN": "firma.fi"}).dkim.domain == "firma.fi"
    # ...a foreign one does not, and neither does a half setting.
    with pytest.raises(SettingsError, match="does not align"):
        load_settings({**base, "CONSENTRY_DKIM_DOMAIN": "other.fi"})
    with pytest.raises(SettingsError, match="DKIM_KEY_FILE"):
        load_settings({**base, "CONSENTRY_DKIM_KEY_FILE": ""})
    with pytest.raises(SettingsError, match="SELECTOR"):
        load_settings({**base, "CONSENTRY_DKIM_SELECTOR": "bad selector"})


def test_an_unusable_key_file_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    weak = tmp_path / "weak.pem"
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak.write_bytes(dkim.pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)))  # noqa: S505
    with pytest.raises(dkim.DkimKeyError, match="at least 2048"):
        dkim.load_key(weak)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    with pytest.raises(dkim.DkimKeyError, match="no unencrypted PEM"):
        dkim.load_key(junk)
    with pytest.raises(dkim.DkimKeyError, match="cannot read"):
        dkim.load_key(tmp_path / "missing.pem")
