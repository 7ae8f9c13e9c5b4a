"""The one bounce rule: what a failed delivery says, and so what it does.

Every refusal, whichever way it reaches us (the relay's answer while
sending, a delivery report, a non-DSN bounce mail, an ESP's event), is put
into one of three classes (``BounceClass``) here and nowhere else:

* ``BAD_ADDRESS``: the mailbox or its domain does not exist (5.1.x except
  5.1.7 and 5.1.8, which are about *our* sender). The address is suppressed
  at once.
* ``SOFT``: the mailbox is full, the message too big, the failure temporary
  (4.x.x, 5.2.x, 5.3.4, an expired queue), or the cause unknown. Counted per
  address; suppressed at ``CONSENTRY_SOFT_BOUNCE_LIMIT``.
* ``POLICY``: our IP, domain or content was refused (5.7.x, 5.6.x, 5.1.7/8,
  block lists, spam and policy rejections), or deferred for our reputation
  (4.7.x, a listing in a 4xx). Counted against the campaign, never against
  the address: the person did nothing wrong.

The reasons and their wording follow sisimai (``Sisimai::Reason::*``:
userunknown, hostunknown, hasmoved, mailboxfull, mesgtoobig, exceedlimit,
expired, blocked, spamdetected, virusdetected, policyviolation, rejected,
norelaying, contenterror), which reads thousands of real bounces; an
enhanced status code decides where it is specific, the text where it is not.

A block-list listing wins over any code: receivers send "550 5.1.1" with a
Spamhaus text now and then, and suppressing a person for our IP's listing is
the mistake this module exists to prevent.
"""

from __future__ import annotations

import re
from typing import Final

from service.models.enums import BounceClass

# An RFC 3463 enhanced status code anywhere in a text.
STATUS: Final = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# X.1.7 and X.1.8: the *sender's* address is bad (ours), not the recipient's.
SENDER_STATUSES: Final = frozenset({"5.1.7", "5.1.8"})


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


# The reasons, in the order they are tried: the first that matches is the
# reason. Listings come first (see above), then the specific mailbox states,
# then the address, then the generic policy words that also appear in
# "Recipient address rejected: User unknown".
REASONS: Final[tuple[tuple[str, BounceClass, re.Pattern[str]], ...]] = (
    (
        "blocked",
        BounceClass.POLICY,
        _any(
            r"spamhaus",
            r"spamcop",
            r"\bsorbs\b",
            r"barracuda",
            r"\b(?:rbl|dnsbl|uribl|surbl)\b",
            r"black ?list",
            r"block ?list",
            r"\blisted (?:at|in|on|by)\b",
            r"banned sending ip",
            r"sending ip",
            r"\bip (?:address )?(?:\S+ )?(?:is )?(?:blocked|banned|listed|blacklisted)",
            r"reputation",
            r"client host .{0,60}(?:rejected|blocked)",
        ),
    ),
    (
        "rejected",  # our sender's address or domain refused
        BounceClass.POLICY,
        _any(
            r"sender address rejected",
            r"sender (?:domain|address) .{0,40}(?:not|does not|doesn't) exist",
            r"domain of sender address",
            r"please use the smtp server of your isp",
            # Our authentication failed (SPF, DKIM, DMARC), whatever the code:
            # Office 365 answers "550 5.1.0 … not allowed to send … per it's SPF".
            r"not allowed to send",
            r"\b(?:spf|dkim|dmarc)\b",
        ),
    ),
    (
        "mailboxfull",
        BounceClass.SOFT,
        _any(
            r"mailbox (?:is )?full",
            r"mailbox .{0,30}(?:over|exceed\w*) .{0,20}(?:quota|limit|size)",
            r"over ?quota",
            r"quota (?:exceeded|full)",
            r"exceeded .{0,30}quota",
            r"insufficient (?:system )?storage",
            r"not enough (?:storage|space)",
            r"mail ?box size limit",
            r"user has exhausted allowed storage",
        ),
    ),
    (
        "mesgtoobig",
        BounceClass.SOFT,
        _any(
            r"message (?:is )?too (?:big|large)",
            r"message size exceeds",
            r"size (?:limit|exceeds)",
            r"exceeds? .{0,30}size",
            r"too large",
        ),
    ),
    (
        "expired",
        BounceClass.SOFT,
        _any(
            r"delivery time expired",
            r"retry time(?:out)? (?:not reached|exceeded)",
            r"message (?:has )?expired",
            r"could not be delivered within",
            r"giving up",
            r"have been (?:failing|delayed) for",
        ),
    ),
    (
        "hostunknown",
        BounceClass.BAD_ADDRESS,
        _any(
            r"host unknown",
            r"unknown host",
            r"domain (?:name )?(?:not found|does not exist|doesn't exist)",
            r"no such domain",
            r"unrouteable (?:mail )?(?:address|domain)",
            r"host or domain name not found",
            r"name service error",
            r"\bnxdomain\b",
            r"null mx",
        ),
    ),
    (
        "userunknown",
        BounceClass.BAD_ADDRESS,
        _any(
            r"user unknown",
            r"unknown user",
            r"no such (?:user|mailbox|recipient|address|account|person)",
            r"(?:mailbox|user|recipient|account|address|addressee) "
            r"(?:does not|doesn't|did not|no longer) exist",
            r"does not exist",
            r"mailbox (?:is )?unavailable",
            r"mailbox not found",
            r"(?:recipient|user|address|addressee) not found",
            r"address not found",
            r"unknown (?:recipient|mailbox|address|local part)",
            r"invalid (?:recipient|mailbox|address)",
            r"not a valid (?:mailbox|recipient|user|address)",
            r"name is not recognized",
            r"no mailbox here",
            r"recipient address rejected: access denied",
            r"user not found",
            r"has moved",
        ),
    ),
    (
        "spamdetected",
        BounceClass.POLICY,
        _any(r"\bspam\b", r"\bjunk\b", r"unsolicited", r"bulk mail", r"virus", r"malware"),
    ),
    (
        "policyviolation",
        BounceClass.POLICY,
        _any(
            r"polic(?:y|ies)",
            r"content rejected",
            r"message (?:was )?rejected",
            r"prohibited",
            r"relay(?:ing)? (?:access )?(?:denied|not permitted)",
            r"not authori[sz]ed",
            r"blocked",
            r"denied",
        ),
    ),
)


def status_of(text: str) -> str | None:
    """The first enhanced status code in ``text`` ("5.1.1"), or None."""
    match = STATUS.search(text)
    return ".".join(match.groups()) if match else None


def reason(text: str) -> tuple[str, BounceClass] | None:
    """The sisimai-style reason a diagnostic text gives, with its class; None
    when it names none (a vacation reply, an empty report)."""
    for name, bounce_class, pattern in REASONS:
        if pattern.search(text):
            return name, bounce_class
    return None


def _by_status(status: str) -> BounceClass | None:
    """What a permanent (5.x.x) code alone says; None where it is too vague
    (5.0.0, 5.5.x, most of 5.3.x and 5.4.x) and the text must decide."""
    subject = status.split(".")[1]
    if status in SENDER_STATUSES:
        return BounceClass.POLICY
    if subject == "1":
        return BounceClass.BAD_ADDRESS
    if subject == "2":  # mailbox full, disabled, message too big for it
        return BounceClass.SOFT
    if status in ("5.3.4", "5.4.7"):  # too big for the system; delivery time expired
        return BounceClass.SOFT
    if status in ("5.4.4", "5.4.310"):  # unable to route; the domain does not exist
        return BounceClass.BAD_ADDRESS
    if subject in ("6", "7"):  # media (content) and security/policy
        return BounceClass.POLICY
    return None


def classify(status: str | None, text: str, *, permanent: bool | None) -> BounceClass:
    """The class of one failed delivery.

    ``status``: the RFC 3463 code when the source gives one (else it is
    looked for in ``text``); ``text``: the reply or diagnostic, read here and
    never stored; ``permanent``: whether the source calls the failure
    permanent (an SMTP 5xx, a DSN's "failed"), None when it does not say.
    """
    status = status_of(status or "") or status_of(text)
    temporary = status[0] == "4" if status is not None else permanent is False
    found = reason(text)
    if temporary:
        # A reputation deferral ("421 4.7.0 … unusual rate of unsolicited
        # mail", a block-list listing) is about us, like its permanent kin:
        # counted against the campaign, never against the address.
        if (status is not None and status.split(".")[1] == "7") or (
            found is not None and found[0] in ("blocked", "rejected", "spamdetected")
        ):
            return BounceClass.POLICY
        return BounceClass.SOFT
    if status in SENDER_STATUSES:
        return BounceClass.POLICY
    if found is not None and found[0] in ("blocked", "rejected"):
        return BounceClass.POLICY
    if status is not None and status[0] == "5":
        by_status = _by_status(status)
        if by_status is not None:
            return by_status
    if found is not None:
        return found[1]
    # A permanent failure that says nothing we know: counted, not believed
    # at once. Suppressing on it would be guessing.
    return BounceClass.SOFT
