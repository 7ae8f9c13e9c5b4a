"""``consentry dkim keygen`` and ``consentry dkim check`` (docs/deliverability.md).

``keygen --selector S [--domain D] [--out FILE] [--algorithm rsa|ed25519]``
writes a new private key (PEM, mode 0600, never over an existing file) and
prints the DNS record to publish, as one line:
``S._domainkey.D. IN TXT "v=DKIM1; k=rsa; p=…"``.

``check [--record TXT]`` signs a sample message with the configured key(s)
and verifies it with dkimpy against the record given, or the one found in
DNS: what a receiver will do. Exit 0 when every configured key verifies, 1
otherwise, with one line per key saying why.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import dkim as dkimpy
from dkim.dnsplug import get_txt

from service import private
from service.cli.common import CommandError
from service.delivery import dkim
from service.settings import Settings
from service.settings_readers import is_dns_name

logger = logging.getLogger("consentry.dkim")


def add_commands(subparsers: Any) -> None:
    group = subparsers.add_parser("dkim", help="DKIM signing keys and their DNS records")
    commands = group.add_subparsers(dest="dkim_command", required=True, metavar="COMMAND")
    keygen = commands.add_parser(
        "keygen", help="write a new signing key (0600) and print the DNS record to publish"
    )
    keygen.add_argument("--selector", required=True, help="the selector, e.g. cs2026")
    keygen.add_argument(
        "--domain", help="the signing domain (default: CONSENTRY_DKIM_DOMAIN or the From domain)"
    )
    keygen.add_argument(
        "--out", type=Path, metavar="FILE", help="where to write the key (default: VAR_DIR/dkim/)"
    )
    keygen.add_argument(
        "--algorithm",
        choices=[a.value for a in dkim.Algorithm],
        default=dkim.Algorithm.RSA.value,
        help="rsa (2048 bits, the default) or ed25519 (a second signature beside the RSA one)",
    )
    keygen.set_defaults(handler=cmd_keygen)
    check = commands.add_parser(
        "check", help="sign a sample with the configured key and verify it against DNS"
    )
    check.add_argument(
        "--record",
        metavar="TXT",
        help='the TXT record to check against instead of DNS ("v=DKIM1; k=rsa; p=…")',
    )
    check.set_defaults(handler=cmd_check)


def cmd_keygen(settings: Settings, args: argparse.Namespace) -> None:
    selector = args.selector.strip()
    domain = (args.domain or settings.dkim.domain).strip().lower().rstrip(".")
    for what, value in (("--selector", selector), ("--domain", domain)):
        if not is_dns_name(value):
            raise CommandError(f"{what}: not a DNS name part (letters, digits, inner hyphens)")
    algorithm = dkim.Algorithm(args.algorithm)
    out: Path = args.out or settings.var_dir / "dkim" / f"{selector}.{algorithm.value}.pem"
    if out.parent == settings.var_dir / "dkim":
        private.private_dir(out.parent)
    key = dkim.generate(algorithm)
    try:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, private.FILE_MODE)
    except FileExistsError:
        raise CommandError(f"{out} exists already; a key is never overwritten") from None
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc.strerror}") from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(dkim.pem(key))
    signing = dkim.SigningKey(selector, domain, key)
    print(signing.record_line())
    prefix = "CONSENTRY_DKIM" if algorithm is dkim.Algorithm.RSA else "CONSENTRY_DKIM_ED25519"
    print(
        f"consentry: wrote the private key to {out} (mode 0600). Publish the record above, "
        f"then set {prefix}_SELECTOR={selector} and {prefix}_KEY_FILE={out}",
        file=sys.stderr,
    )


def sample(settings: Settings) -> bytes:
    """A message shaped like campaign mail, to sign and verify."""
    public = settings.public_url
    lines = [
        f"From: {settings.mail_from}",
        f"To: dkim-check@{settings.dkim.domain}",
        "Subject: Consentry DKIM check",
        f"Date: {format_datetime(datetime.now(UTC))}",
        f"Message-ID: <dkim-check@{settings.dkim.domain}>",
        f"List-Id: <dkim-check.{settings.dkim.domain}>",
        f"List-Unsubscribe: <{public}/u/CHECK>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
        "",
        "A sample message, signed and verified by `consentry dkim check`.",
        "",
    ]
    return "\r\n".join(lines).encode()


def cmd_check(settings: Settings, args: argparse.Namespace) -> None:
    try:
        signer = dkim.signer_from_settings(settings)
    except dkim.DkimKeyError as exc:
        raise CommandError(str(exc)) from None
    if signer is None:
        raise CommandError(
            "no DKIM key is configured: set CONSENTRY_DKIM_SELECTOR and CONSENTRY_DKIM_KEY_FILE "
            "(`consentry dkim keygen` makes a key)"
        )
    message = sample(settings)
    failed = 0
    for key in signer.keys:
        problem = _check_key(key, message, args.record)
        name = key.record_name()
        if problem is None:
            fields = b":".join(dkim.DkimSigner.signed_fields(dkimpy.rfc822_parse(message)[0]))
            print(f"{name}: verifies ({key.algorithm.tag.decode()}; h={fields.decode()})")
        else:
            failed += 1
            print(f"{name}: FAILS: {problem}")
    if failed:
        raise SystemExit(1)


def _check_key(key: dkim.SigningKey, message: bytes, record: str | None) -> str | None:
    """Why a sample signed with ``key`` would not verify, or None when it does."""
    if record is not None and dkim.record_algorithm(record) != key.algorithm.value:
        if key.algorithm is dkim.Algorithm.RSA:
            return "the record given is not an RSA (k=rsa) record"
        record = None  # --record is the RSA key's; the Ed25519 one is looked up
    if record is None:
        try:
            found = get_txt(f"{key.record_name()}.".encode())
        except Exception as exc:
            return f"the DNS lookup failed ({type(exc).__name__})"
        if found is None:
            return "no TXT record found in DNS (publish the line `dkim keygen` printed)"
        record = found.decode("ascii", "replace")
    published = dkim.record_key(record)
    if published is None:
        return "the record has no readable p= (public key)"
    if published != key.public_value():
        return "the record's public key is not the configured key's"
    single = dkim.DkimSigner([key])
    if not dkim.verify(single.sign(message), dkim.record_lookup(record)):
        return "dkimpy does not verify the signature against the record"
    return None


def signing_line(settings: Settings) -> str:
    """How outgoing mail is signed, for the start-up summary of `run` and
    `worker`; a key file that cannot be used stops the command here rather
    than failing every batch. Production warns when mail goes out unsigned:
    Gmail, Yahoo and Microsoft require DKIM of bulk senders."""
    try:
        signer = dkim.signer_from_settings(settings)
    except dkim.DkimKeyError as exc:
        raise CommandError(f"CONSENTRY_DKIM_KEY_FILE: {exc}") from None
    if signer is None:
        if not settings.is_dev:
            logger.warning(
                "DKIM: outgoing mail is NOT signed; set CONSENTRY_DKIM_SELECTOR and "
                "CONSENTRY_DKIM_KEY_FILE (docs/deliverability.md). Gmail, Yahoo and "
                "Microsoft refuse or junk unsigned bulk mail."
            )
        return "  mail: not DKIM-signed (no CONSENTRY_DKIM_KEY_FILE)"
    names = ", ".join(key.record_name() for key in signer.keys)
    return f"  mail: DKIM-signed ({names})"
