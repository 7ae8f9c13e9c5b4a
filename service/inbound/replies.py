"""Replies to campaign mail: they reach a person.

Mail to ``CONSENTRY_MAIL_FROM`` (or ``CONSENTRY_REPLY_TO``) that is neither a
delivery report, a complaint report nor an automatic reply was written by a
person. When their own words ask us to stop (service.inbound.reply_text),
the reply becomes an open objection to direct marketing in the requests
register, due a month after it arrived, for the privacy officer to confirm
into a ban (service.rights.service.confirm_ban). Any other reply is forwarded
to ``CONSENTRY_REPLY_FORWARD_TO``, or counted in the log when that is unset.

The sender's address can be forged, which is why a stop reply is filed for a
person to confirm rather than acted on, and why it may only ever lead to
less marketing. The request keeps the stop phrase found, never the message;
an address is kept only when no contact has it (as who asked, so that staff
can answer), and never logged.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from email.message import Message
from email.utils import format_datetime, getaddresses, make_msgid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.crypto import DataCipher
from service.delivery import dkim
from service.delivery.email import EmailMessenger
from service.delivery.messenger import Outcome, Outgoing
from service.delivery.smtp import SmtpConfig, SmtpPool
from service.inbound import mailto
from service.inbound.reply_text import stop_phrase, subject_words, what_they_wrote
from service.models import Contact, DataSubjectRequest
from service.models.enums import RequestChannel, RequestStatus, RequestType
from service.requests import service as requests
from service.requests.schemas import RequestCreate
from service.settings import Settings
from service.validation import InvalidValue, normalize_email

# RFC 3834 and the headers auto-responders set instead of (or as well as) it.
_AUTOMATIC_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply", "auto-reply"})
_AUTOMATIC_HEADERS = (
    "x-autoreply",
    "x-autorespond",
    "x-autoreply-from",
    "x-mail-autoreply",
    "x-failed-recipients",  # Exim's and Gmail's bounces
)
_AUTOMATIC_SUBJECT = re.compile(
    r"^\s*(?:auto(?:matic)?\s*(?:reply|response)|autoreply|out of (?:the )?office|"
    r"automaattinen vastaus|poissa|lomalla|autosvar|frånvaro|automatiskt svar|"
    # Bounces in formats other than RFC 3464, sometimes with a sender: the
    # bounce reading takes them, and their returned original says "unsubscribe".
    r"undeliver|undelivered mail|delivery status notification|mail delivery fail|"
    r"returned mail|failure notice|delivery failure|non.?delivery)",
    re.IGNORECASE,
)
_MAILER_DAEMONS = frozenset({"mailer-daemon", "postmaster", "mail-daemon"})


class ForwardFailed(Exception):
    """The relay did not take a forwarded reply; the sender should retry."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What a person's reply asks for, read before any database work."""

    stop: str | None  # the stop phrase found (one of ours), or None
    sender_hashes: tuple[str, ...]  # keyed hashes of the envelope sender and From
    requester: str | None  # the From address: kept only when no contact has it
    content: bytes  # the message as received, forwarded unaltered


def is_automatic(message: Message, envelope_sender: str | None) -> bool:
    """No person wrote it: a report, an auto-reply, a mailing list, a bounce."""
    if mailto.is_automatic(message) or message.get_content_type() == "multipart/report":
        return True
    if not (envelope_sender or "").strip("<> "):  # the null sender: reports, bounces
        return True
    if str(message.get("precedence", "")).strip().lower() in _AUTOMATIC_PRECEDENCE:
        return True
    if any(message.get(name) is not None for name in _AUTOMATIC_HEADERS):
        return True
    senders = [(envelope_sender or "").strip("<> ")]
    senders += [address for _, address in getaddresses([str(message.get("from", ""))])]
    if any(a.rpartition("@")[0].lower() in _MAILER_DAEMONS for a in senders if "@" in a):
        return True
    return bool(_AUTOMATIC_SUBJECT.match(subject_words(message)[0]))


def read(
    message: Message, content: bytes, envelope_sender: str | None, cipher: DataCipher
) -> Reply | None:
    """The reply a message is, or None when no person wrote it."""
    if is_automatic(message, envelope_sender):
        return None
    addresses = mailto.sender_addresses(message, envelope_sender)
    return Reply(
        stop=stop_phrase(what_they_wrote(message)),
        sender_hashes=tuple(cipher.lookup_hash("email", a) for a in addresses),
        # sender_addresses puts the From address last.
        requester=addresses[-1][:200] if addresses else None,
        content=content,
    )


async def apply(session: AsyncSession, *, reply: Reply, settings: Settings) -> str:
    """File a stop reply, forward any other; what happened, for the log."""
    if reply.stop is not None:
        return await record_stop(session, reply=reply)
    if settings.reply_forward_to is None:
        return "a reply was received and not forwarded: CONSENTRY_REPLY_FORWARD_TO is unset"
    if settings.smtp_host is None:
        return "a reply was received and not forwarded: CONSENTRY_SMTP_HOST is unset"
    await forward(reply, settings)
    return "a reply was forwarded to CONSENTRY_REPLY_FORWARD_TO"


async def record_stop(session: AsyncSession, *, reply: Reply) -> str:
    """An open objection request for each contact whose address sent the reply,
    or one naming the sender when none has it; none twice while one is open."""
    found = await session.exec(
        select(Contact.id).where(col(Contact.email_hash).in_(list(reply.sender_hashes)))
    )
    contact_ids = sorted({contact_id for contact_id in found.all() if contact_id is not None})
    open_ones = select(DataSubjectRequest.id).where(
        col(DataSubjectRequest.type) == RequestType.OBJECTION,
        col(DataSubjectRequest.channel) == RequestChannel.REPLY,
        col(DataSubjectRequest.status) == RequestStatus.OPEN,
    )
    description = (
        f'Asked by reply mail to stop direct marketing (its words include "{reply.stop}"). '
        "Confirm it into a ban, or refuse it with the reason."
    )
    filed = 0
    if contact_ids:
        for contact_id in contact_ids:
            query = open_ones.where(col(DataSubjectRequest.contact_id) == contact_id)
            if (await session.exec(query)).first() is None:
                await _file(session, description, contact_id=contact_id)
                filed += 1
        matched = len(contact_ids)
        return f"a stop reply: {filed} objection request(s) opened for {matched} contact(s)"
    if reply.requester is None:
        return "a stop reply from no readable address was ignored"
    query = open_ones.where(
        col(DataSubjectRequest.contact_id).is_(None),
        col(DataSubjectRequest.requester) == reply.requester,
    )
    if (await session.exec(query)).first() is None:
        await _file(session, description, requester=reply.requester)
        filed += 1
    return f"a stop reply from no known contact: {filed} unmatched objection request(s) opened"


async def _file(
    session: AsyncSession,
    description: str,
    *,
    contact_id: int | None = None,
    requester: str | None = None,
) -> DataSubjectRequest:
    data = RequestCreate(
        type=RequestType.OBJECTION,
        channel=RequestChannel.REPLY,
        received_on=clock.today(),
        contact_id=contact_id,
        requester=requester,
        description=description,
    )
    return await requests.create(session, data=data, user_id=None)


async def forward(reply: Reply, settings: Settings) -> None:
    """Send the reply on to CONSENTRY_REPLY_FORWARD_TO, wrapped whole as a
    message/rfc822 attachment; raise ForwardFailed when the relay refuses."""
    assert settings.reply_forward_to is not None
    wrapped = wrap(reply.content, settings=settings)
    async with SmtpPool(SmtpConfig.from_settings(settings), size=1) as pool:
        # Through the email messenger, so that the forward is DKIM-signed like
        # all our mail: it goes From our own address.
        messenger = EmailMessenger(
            pool,
            envelope_from=settings.bounce_address,
            signer=dkim.signer_from_settings(settings),
        )
        delivery = await messenger.send(
            Outgoing(recipient=settings.reply_forward_to, content=wrapped, message_id="")
        )
    if delivery.outcome is not Outcome.SENT:
        # The code only: the relay's text may quote an address.
        raise ForwardFailed(f"the relay answered {delivery.code}")


def wrap(content: bytes, *, settings: Settings) -> bytes:
    """A message from us to CONSENTRY_REPLY_FORWARD_TO holding ``content``
    byte for byte. Sent From our own address (a receiving server would
    refuse a stranger's From through our relay, DMARC); Reply-To is the
    person, so answering it answers them."""
    assert settings.reply_forward_to is not None
    boundary = f"==reply-{secrets.token_hex(12)}=="
    while boundary.encode("ascii") in content:  # practically never
        boundary = f"==reply-{secrets.token_hex(12)}=="
    domain = settings.mail_from_address.rpartition("@")[2] or "localhost"
    headers = [
        f"From: {settings.mail_from_address}",
        f"To: {settings.reply_forward_to}",
        "Subject: A reply to our mail (forwarded by Consentry)",
        f"Date: {format_datetime(clock.now())}",
        f"Message-ID: {make_msgid('reply', domain=domain)}",
        "Auto-Submitted: auto-forwarded",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary}"',
    ]
    person = _reply_to(content)
    if person is not None:
        headers.insert(2, f"Reply-To: {person}")
    note = (
        "Someone replied to mail Consentry sent. Their message is attached as it "
        "arrived; answering this mail answers them.\r\n"
    )
    return b"".join(
        (
            "\r\n".join(headers).encode("utf-8"),
            b"\r\n\r\n",
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{note}\r\n".encode(),
            f"--{boundary}\r\nContent-Type: message/rfc822\r\n".encode("ascii"),
            b"Content-Disposition: attachment; filename=reply.eml\r\n",
            # 8bit: the original is passed on as it is, whatever its bytes.
            b"Content-Transfer-Encoding: 8bit\r\n\r\n",
            content,
            b"" if content.endswith(b"\n") else b"\r\n",
            f"--{boundary}--\r\n".encode("ascii"),
        )
    )


def _reply_to(content: bytes) -> str | None:
    """The original's From address, when it is one we can write into a header."""
    head = content.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:64_000]
    text = head.decode("utf-8", "replace")
    fields = re.findall(r"^from:(.*(?:\r?\n[ \t].*)*)", text, re.IGNORECASE | re.MULTILINE)
    for _, address in getaddresses(fields[:1]):
        try:
            plain = normalize_email(address)
        except (InvalidValue, ValueError):
            return None
        return plain if plain.isascii() else None
    return None
