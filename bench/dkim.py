"""Benchmark: what a DKIM signature costs per message, beside its references.

    .venv/bin/python -m bench.dkim [--messages 2000] [--repeats 7] [--out BENCHMARKS.md]

Builds real campaign messages (service.mail.message, a 10 kB HTML and text
body), then measures, in one process and one run, the CPU time per message of:
building the message (what a worker does anyway), the bare OpenSSL RSA-2048
signature of one SHA-256 digest (the floor), Consentry's signer
(service.delivery.dkim: dkimpy's parsing and canonicalisation, OpenSSL's
signature) with RSA alone and with the Ed25519 signature beside it, and
dkimpy's own ``dkim.sign`` (pure-Python RSA) on fewer messages. Each figure
is the median of the repeats; writes its section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import dkim as dkimpy
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from bench import report
from service.delivery import dkim
from service.mail.message import build_message
from service.mail.render import Rendered

REPO = Path(__file__).resolve().parent.parent
PARAGRAPH = "Hyvä asiakas, tässä kuun tarjoukset ja uutiset. " * 4


def messages(count: int) -> list[bytes]:
    html = "".join(f"<p>{PARAGRAPH} {n}</p>\n" for n in range(40))
    text = "".join(f"{PARAGRAPH} {n}\n\n" for n in range(40))
    return [
        build_message(
            Rendered(language="fi", subject=f"Joulukuun uutiset {n}", html=html, text=text),
            mail_from="Firma Oy <uutiset@firma.fi>",
            to=f"asiakas{n}@example.fi",
            message_id=f"<c1.r{n}.tag@firma.fi>",
            list_id="<campaign-1.firma.fi>",
            unsubscribe_url=f"https://crm.firma.fi/u/token{n}",
            unsubscribe_mailto="mailto:unsubscribe@firma.fi?subject=unsubscribe",
        )
        for n in range(count)
    ]


def per_message(work: Callable[[bytes], object], batch: Sequence[bytes], repeats: int) -> float:
    """Median CPU seconds per message over ``repeats`` passes of ``batch``."""
    runs = []
    for _ in range(repeats):
        started = time.process_time()
        for message in batch:
            work(message)
        runs.append((time.process_time() - started) / len(batch))
    return statistics.median(runs)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    started, clock = datetime.now(UTC), time.monotonic()
    machine = report.machine()
    batch = messages(args.messages)
    size = statistics.mean(len(m) for m in batch)
    rsa_key = dkim.SigningKey("cs2026", "firma.fi", dkim.generate())
    ed_key = dkim.SigningKey("ed2026", "firma.fi", dkim.generate(dkim.Algorithm.ED25519))
    private = rsa_key.private
    assert isinstance(private, rsa.RSAPrivateKey)
    digest = hashlib.sha256(b"x").digest()
    one, two = dkim.DkimSigner([rsa_key]), dkim.DkimSigner([rsa_key, ed_key])
    pem = dkim.pem(private)
    few = batch[: max(20, args.messages // 50)]
    figures = {
        "build": per_message(lambda _: messages(1), batch[:200], args.repeats),
        "openssl": per_message(
            lambda _: private.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())),
            batch,
            args.repeats,
        ),
        "rsa": per_message(one.sign, batch, args.repeats),
        "both": per_message(two.sign, batch, args.repeats),
        "dkimpy": per_message(
            lambda m: dkimpy.sign(
                m, b"cs2026", b"firma.fi", pem, canonicalize=(b"relaxed", b"simple")
            ),
            few,
            max(3, args.repeats // 2),
        ),
    }
    # What we sign must verify: a benchmark of a broken signer would mean nothing.
    lookup = dkim.record_lookup(rsa_key.record_value())
    assert dkim.verify(one.sign(batch[0]), lookup)
    seconds = time.monotonic() - clock
    ms = report.seconds
    rows = [
        ["building the message (service.mail.message, reference)", ms(figures["build"]), "—"],
        [
            "bare OpenSSL RSA-2048 signature of one digest (reference, the floor)",
            ms(figures["openssl"]),
            "—",
        ],
        [
            "**Consentry: RSA-2048 (dkimpy canonicalises, OpenSSL signs)**",
            f"**{ms(figures['rsa'])}**",
            f"{figures['rsa'] / figures['build']:.2f}",
        ],
        [
            "Consentry: RSA-2048 and Ed25519 side by side",
            ms(figures["both"]),
            f"{figures['both'] / figures['build']:.2f}",
        ],
        [
            "dkimpy's own `dkim.sign` (pure-Python RSA, reference)",
            ms(figures["dkimpy"]),
            f"{figures['dkimpy'] / figures['build']:.2f}",
        ],
    ]
    body = "\n\n".join(
        [
            "## DKIM: the signing cost per message (issue 15)",
            f"Command: `.venv/bin/python -m bench.dkim --messages {args.messages} "
            f"--repeats {args.repeats}`. Code measured: {report.code_version(REPO)}.",
            report.machine_line(machine, started, seconds, report.machine()["load"]),
            f"{args.messages:,} campaign messages of {size / 1024:.1f} kB each (HTML and text, "
            "List-Unsubscribe and -Post), signed relaxed/simple over 14 header fields "
            "(from, subject and both unsubscribe fields signed once more than present); "
            "CPU time per message, the median of "
            f"{args.repeats} passes (dkimpy's own signer: {len(few)} messages, "
            f"{max(3, args.repeats // 2)} passes), all in one process in this run.",
            report.table(["work per message", "CPU", "÷ building the message"], rows),
            f"Signing through OpenSSL costs {figures['rsa'] / figures['dkimpy']:.2f} of "
            f"dkimpy's own signer ({figures['dkimpy'] / figures['rsa']:.0f} times as fast); of its "
            f"{ms(figures['rsa'])}, the RSA signature itself is {ms(figures['openssl'])} and "
            "the rest is dkimpy parsing, canonicalising and hashing the message.",
        ]
    )
    report.write_section(args.out, "dkim:issue-15", body)
    print(body)


if __name__ == "__main__":
    main()
