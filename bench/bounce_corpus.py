"""Measure: what Consentry reads of a public corpus of real bounce mail.

    .venv/bin/python -m bench.bounce_corpus [--corpus GIT_DIR] [--expected GIT_DIR]

The corpus is sisimai's set-of-emails (``maildir/bsd/*.eml``, real bounces
from dozens of mail servers, addresses replaced), the expectations are the
reasons sisimai's own tests assert for each file (rb-sisimai,
``test/public/*.rb``). Both are read from local git snapshots (the
library's ``fetch`` of github:sisimai/set-of-emails and github:sisimai/rb-sisimai),
never from the network, and nothing of them is copied into this repository.

Each file goes through what the inbound listener does with a mail to the
bounce address (service.inbound.bounce_mail.read_bounce, ARF reports through
service.inbound.arf) and the one bounce rule (service.delivery.bounces); the
class of the first failure read is compared with sisimai's reason mapped to
our three classes. Counted per family: files, files read (at least one
failure or complaint), agreement, and the two mistakes that matter: a
person's address suppressed for what sisimai calls a policy or reputation
problem, and a dead address read as policy (mail keeps going to it).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import re
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import report
from service.delivery.bounces import classify
from service.inbound import arf
from service.inbound.bounce_mail import read_bounce
from service.inbound.dsn import MalformedReport, is_delivery_report, parse_report
from service.models.enums import BounceClass

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = Path("/work/.mirror/sisimai+set-of-emails/repo")
DEFAULT_EXPECTED = Path("/work/.mirror/sisimai+rb-sisimai/repo")
# The families the issue named, and the other common MTAs and mailbox providers.
FAMILIES = (
    "lhost-exim",
    "lhost-exchange2003",
    "lhost-exchange2007",
    "lhost-gmail",
    "lhost-qmail",
    "lhost-postfix",
    "lhost-sendmail",
    "lhost-office365",
    "lhost-outlook",
    "lhost-yahoo",
    "lhost-amazonses",
    "lhost-opensmtpd",
    "lhost-courier",
    "lhost-domino",
    "lhost-gmx",
    "lhost-mailru",
    "lhost-yandex",
    "arf",
)
COMPLAINT = "complaint"
# sisimai's reasons (Sisimai::Reason.index) in our classes; "filtered" (a
# recipient-side filter: the person's rule or the receiver's policy) and
# "vacation"/"delivered" are no failure we can judge, and are left out.
CLASS_OF: dict[str, str] = {
    **dict.fromkeys(("userunknown", "hostunknown", "hasmoved", "notaccept"), "bad_address"),
    **dict.fromkeys(
        (
            "mailboxfull",
            "mesgtoobig",
            "exceedlimit",
            "expired",
            "suspend",
            "systemfull",
            "systemerror",
            "networkerror",
            "toomanyconn",
            "mailererror",
            "onhold",
            "undefined",
            "syntaxerror",
        ),
        "soft",
    ),
    **dict.fromkeys(
        (
            "authfailure",
            "badreputation",
            "blocked",
            "contenterror",
            "rejected",
            "norelaying",
            "speeding",
            "spamdetected",
            "virusdetected",
            "policyviolation",
            "securityerror",
            "requireptr",
            "notcompliantrfc",
        ),
        "policy",
    ),
    "feedback": COMPLAINT,
    "not-complaint": "not a complaint",
}
_ENTRY = re.compile(r"^\s*'(\d+)'\s*=>")
# [status, reply code, reason, hard bounce(, feedback type)]
_TUPLE = re.compile(r"\['[^']*',\s*'[^']*',\s*'([^']*)',\s*\w+(?:,\s*'([^']*)')?")
# Feedback types that are a complaint (service.inbound.arf); the rest are not.
COMPLAINT_TYPES = frozenset({"abuse", "fraud"})


def git_show(git_dir: Path, path: str) -> bytes:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"HEAD:{path}"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout


def expectations(git_dir: Path, family: str) -> dict[str, list[str]]:
    """sisimai's asserted reasons per file number, in recipient order."""
    text = git_show(git_dir, f"test/public/{family}.rb").decode()
    found: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if entry := _ENTRY.match(line):
            current = entry.group(1)
            found[current] = []
        if current is not None:
            for reason, feedback_type in _TUPLE.findall(line):
                if reason == "feedback":
                    reason = "feedback" if feedback_type in COMPLAINT_TYPES else "not-complaint"
                found[current].append(reason)
    return found


def ours(raw: bytes) -> str | None:
    """The class Consentry gives the mail's first failure, or None when it
    reads none."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if arf.is_feedback_report(message):
        try:
            feedback = arf.parse_feedback(message)
        except Exception:
            return None
        return COMPLAINT if arf.complaint_event(feedback) is not None else "not a complaint"
    events = read_bounce(message, None)
    if not events:
        return None
    first = events[0]
    return classify(first.status, first.diagnostic, permanent=first.permanent).value


def dsn_alone(raw: bytes) -> bool:
    """Whether an RFC 3464 reader alone finds a failure in the mail: all
    Consentry read before issue 15 (the reference column)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not is_delivery_report(message):
        return False
    try:
        return bool(parse_report(message).bounces)
    except MalformedReport:
        return False


_DELAY = re.compile(r"\bdelay(?:ed)?\b|\bwarning\b|still being retried", re.IGNORECASE)


def is_delay_warning(raw: bytes) -> bool:
    """A warning that delivery is delayed (its subject says so)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return bool(_DELAY.search(str(message.get("Subject", ""))))


def measure(corpus: Path, expected_dir: Path, family: str) -> dict[str, object]:
    expected = expectations(expected_dir, family)
    counts: Counter[str] = Counter()
    wrongly_suppressed: list[str] = []
    for number, reasons in sorted(expected.items()):
        try:
            raw = git_show(corpus, f"maildir/bsd/{family}-{number}.eml")
        except subprocess.CalledProcessError:
            continue
        counts["files"] += 1
        counts["dsn_alone"] += dsn_alone(raw)
        got = ours(raw)
        if got is None and is_delay_warning(raw):
            # Not a failure yet: the message is still being tried, and only
            # its final report counts (docs/deliverability.md, Bounces).
            counts["warnings"] += 1
            continue
        want = CLASS_OF.get(reasons[0]) if reasons else None
        if got is not None:
            counts["read"] += 1
        if want is None:
            counts["unjudged"] += 1
            continue
        counts["judged"] += 1
        if got == want:
            counts["agree"] += 1
        elif got == BounceClass.BAD_ADDRESS.value and want == "policy":
            counts["suppressed_for_policy"] += 1
            wrongly_suppressed.append(number)
        elif got == BounceClass.POLICY.value and want == "bad_address":
            counts["dead_read_as_policy"] += 1
    return {"family": family, "counts": counts, "wrongly": wrongly_suppressed}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--expected", type=Path, default=DEFAULT_EXPECTED)
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    started, clock = datetime.now(UTC), time.monotonic()
    machine = report.machine()
    results = [measure(args.corpus, args.expected, family) for family in FAMILIES]
    total: Counter[str] = Counter()
    rows = []
    for result in results:
        c: Counter[str] = result["counts"]  # type: ignore[assignment]
        total.update(c)
        if not c["files"]:
            continue
        rows.append(
            [
                str(result["family"]),
                str(c["files"]),
                f"{c['dsn_alone']} ({c['dsn_alone'] / c['files']:.0%})",
                str(c["warnings"]),
                f"{c['read']} ({c['read'] / max(1, c['files'] - c['warnings']):.0%})",
                f"{c['agree']} of {c['judged']}" if c["judged"] else "—",
                str(c["suppressed_for_policy"]),
                str(c["dead_read_as_policy"]),
            ]
        )
    rest = total["files"] - total["warnings"]
    rows.append(
        [
            "**all**",
            f"**{total['files']}**",
            f"**{total['dsn_alone']} ({total['dsn_alone'] / max(1, total['files']):.0%})**",
            f"**{total['warnings']}**",
            f"**{total['read']} ({total['read'] / max(1, rest):.0%})**",
            f"**{total['agree']} of {total['judged']} "
            f"({total['agree'] / max(1, total['judged']):.0%})**",
            f"**{total['suppressed_for_policy']}**",
            f"**{total['dead_read_as_policy']}**",
        ]
    )
    corpus_head = subprocess.run(
        ["git", f"--git-dir={args.corpus}", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    body = "\n\n".join(
        [
            "## Bounce corpus: what Consentry reads of real bounce mail (issue 15)",
            "Command: `.venv/bin/python -m bench.bounce_corpus` (local snapshots of "
            f"github:sisimai/set-of-emails at {corpus_head} and github:sisimai/rb-sisimai). "
            f"Code measured: {report.code_version(REPO)}.",
            report.machine_line(machine, started, time.monotonic() - clock, machine["load"]),
            "Each file of the family that sisimai's own tests cover, read as the inbound "
            "listener reads a mail to the bounce address, its first failure classed by the one "
            "bounce rule, compared with sisimai's asserted reason mapped to our classes "
            "(userunknown, hostunknown → bad address; mailboxfull, expired, systemerror … → "
            "soft; blocked, spamdetected, policyviolation, rejected, requireptr … → policy; "
            "feedback of type abuse or fraud → complaint, other feedback types → no complaint; "
            "`filtered` is not judged). *Suppressed for policy*: a person's "
            "address we would suppress where sisimai sees our reputation or content at fault — "
            "the mistake the rule exists to avoid. *Dead as policy*: a missing mailbox we would "
            "keep mailing. The reference column, measured in the same run, is what an RFC 3464 "
            "reader alone finds (service.inbound.dsn), all that was read before issue 15. "
            "Delay warnings (Gmail's \"Delivery Status Notification (Delay)\", Exim's "
            '"Warning: message … delayed") change nothing: the message is still being tried; '
            "they are left out of the agreement.",
            report.table(
                [
                    "family",
                    "files",
                    "read by RFC 3464 alone (reference: before)",
                    "delay warnings (changing nothing, by design)",
                    "read now (of the rest)",
                    "class agrees",
                    "suppressed for policy",
                    "dead as policy",
                ],
                rows,
            ),
        ]
    )
    report.write_section(args.out, "bounce-corpus:issue-15", body)
    print(body)
    for result in results:
        if result["wrongly"]:
            print(f"{result['family']}: suppressed for policy in files {result['wrongly']}")


if __name__ == "__main__":
    main()
