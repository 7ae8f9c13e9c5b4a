"""The aiosmtpd handler: which recipients are accepted and what a message does.

aiosmtpd runs the handler on the loop of the Controller's own thread. The
database engine is therefore created here, lazily, on that loop: an
AsyncEngine's pooled connections belong to the loop that opened them, and
the process's other engines (the API's, a test's) live on other loops.

A message is answered ``250`` only after what it asked for has committed, so
a database failure becomes a ``451`` and the sending MTA keeps the message
and tries again: nothing is lost. Messages that cannot be understood are
accepted and dropped, since retrying them would change nothing.

Log lines name what happened, never an address or a subject: both are
personal data.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import logging
import traceback
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from service.crypto import DataCipher
from service.db import SessionMaker, create_engine, create_sessionmaker, session_scope
from service.delivery import verp
from service.inbound import arf, complaints, events, mailto, replies
from service.inbound import service as inbound_service
from service.inbound.bounce_mail import read_bounce
from service.inbound.dsn import is_delivery_report
from service.inbound.events import DeliveryEvent
from service.settings import Settings
from service.tokens import TokenSigner

log = logging.getLogger("service.inbound")
_PACKAGE = Path(__file__).resolve().parent.parent

ACCEPTED = "250 2.0.0 Accepted"
RETRY = "451 4.3.0 Temporary failure, please try again later"
SHUTTING_DOWN = "451 4.3.2 Shutting down, please try again later"
NO_SUCH_RECIPIENT = "550 5.1.1 No such recipient here"


@dataclass(frozen=True, slots=True)
class Intent:
    """What one message asks for, read before any database work."""

    token: tuple[int, int] | None = None  # (contact id, campaign id)
    sender_hashes: tuple[str, ...] = ()
    # Bounces read from a mail to the bounce address (or its VERP form).
    bounces: tuple[DeliveryEvent, ...] = ()
    complaint: arf.Feedback | None = None  # an ARF report, to any of our addresses
    # The VERP token of the return path the report was delivered to, if any:
    # it names the message complained about when the report redacts it.
    complaint_verp: str | None = None
    reply: replies.Reply | None = None  # a person's reply to the From or Reply-To address

    @property
    def empty(self) -> bool:
        return (
            self.token is None
            and not self.sender_hashes
            and not self.bounces
            and self.complaint is None
            and self.reply is None
        )


def plain_address(address: str) -> str:
    return address.strip().strip("<>").strip().lower()


def where(exc: BaseException) -> str:
    """The exception's type and the innermost line of ours it passed: enough to
    find a bug, and unlike its message it cannot quote an address."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if Path(f.filename).is_relative_to(_PACKAGE)] or frames
    place = f" at {Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else ""
    return f"{type(exc).__name__}{place}"


class InboundHandler:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._signer = TokenSigner(settings.secret_key, settings.previous_secret_keys)
        self._cipher = DataCipher(settings.data_key)
        self.unsubscribe_addresses = frozenset({plain_address(settings.unsubscribe_address)})
        self.bounce_addresses = frozenset(
            {plain_address(settings.mail_from_address), plain_address(settings.bounce_address)}
        )
        self.reply_addresses = frozenset(
            plain_address(a) for a in (settings.mail_from_address, settings.reply_to) if a
        )
        self._engine: AsyncEngine | None = None
        self._sessionmaker: SessionMaker | None = None
        # Messages whose transaction is under way, for a clean stop.
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False

    # -- aiosmtpd hooks ------------------------------------------------------

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        plain = plain_address(address)
        if (
            plain not in self.unsubscribe_addresses
            and plain not in self.reply_addresses
            and not self._is_bounce_address(plain)
        ):
            return NO_SUCH_RECIPIENT
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self._closing:
            return SHUTTING_DOWN
        try:
            intent = self.read(envelope.content, envelope.mail_from, envelope.rcpt_tos)
        except Exception as exc:
            # Hostile or broken input must not make the sender retry forever.
            log.warning("inbound: a message could not be read (%s); ignored", where(exc))
            return ACCEPTED
        if intent.empty:
            return ACCEPTED
        self._busy += 1
        self._idle.clear()
        try:
            async with session_scope(self._sessions()) as db:
                outcome = await self.apply(db, intent)
        except Exception as exc:
            log.warning("inbound: could not record a message (%s); asked to retry", where(exc))
            return RETRY
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()
        log.info("inbound: %s", outcome)
        return ACCEPTED

    async def handle_exception(self, error: Exception) -> str:
        # aiosmtpd's default answer quotes the exception's message to the client.
        log.warning("inbound: SMTP session error (%s)", where(error))
        return RETRY

    # -- reading and applying ------------------------------------------------

    def read(self, content: bytes, envelope_sender: str | None, recipients: list[str]) -> Intent:
        message = email.message_from_bytes(content, policy=email.policy.default)
        plain = {plain_address(r) for r in recipients}
        token: tuple[int, int] | None = None
        hashes: tuple[str, ...] = ()
        bounces: tuple[DeliveryEvent, ...] = ()
        reply: replies.Reply | None = None
        bounce_to = [r for r in plain if self._is_bounce_address(r)]
        if (
            bounce_to or plain & (self.unsubscribe_addresses | self.reply_addresses)
        ) and arf.is_feedback_report(message):
            # A complaint, wherever the feedback loop sends it (the return
            # path too); the original it quotes carries our unsubscribe link,
            # which it must not be taken for.
            return Intent(
                complaint=self._feedback(message), complaint_verp=self._verp_token(bounce_to)
            )
        if plain & self.unsubscribe_addresses:
            if is_delivery_report(message):
                log.info("inbound: a delivery report to the unsubscribe address was ignored")
            else:
                token = mailto.token_ids(message, self._signer)
                if token is None:
                    hashes = self._sender_hashes(message, envelope_sender)
        if plain & self.reply_addresses:
            # None for reports and auto-replies: they go the bounce address's way.
            reply = replies.read(message, content, envelope_sender, self._cipher)
        if bounce_to and reply is None:
            bounces = self._bounces(message, bounce_to)
        return Intent(token=token, sender_hashes=hashes, bounces=bounces, reply=reply)

    def _is_bounce_address(self, plain: str) -> bool:
        return plain in self.bounce_addresses or verp.is_bounce_address(
            plain, self._settings.bounce_address
        )

    def _sender_hashes(self, message: Message, envelope_sender: str | None) -> tuple[str, ...]:
        if mailto.is_automatic(message):
            log.info("inbound: an automatic reply to the unsubscribe address was ignored")
            return ()
        addresses = mailto.sender_addresses(message, envelope_sender)
        return tuple(self._cipher.lookup_hash("email", address) for address in addresses)

    def _verp_token(self, recipients: list[str]) -> str | None:
        # A report goes to one return path; the first VERP token found names it.
        return next(
            (
                t
                for r in recipients
                if (t := verp.token_of(r, self._settings.bounce_address)) is not None
            ),
            None,
        )

    def _bounces(self, message: Message, recipients: list[str]) -> tuple[DeliveryEvent, ...]:
        bounces = read_bounce(message, self._verp_token(recipients))
        if not bounces:
            log.info("inbound: a message to the bounce address that reports no bounce was ignored")
        return bounces

    def _feedback(self, message: Message) -> arf.Feedback | None:
        try:
            return arf.parse_feedback(message)
        except arf.MalformedFeedback as exc:
            log.info("inbound: a malformed feedback report was ignored: %s", exc)
            return None

    async def apply(self, session: AsyncSession, intent: Intent) -> str:
        done: list[str] = []
        if intent.token is not None:
            contact_id, campaign_id = intent.token
            known = await inbound_service.unsubscribe_by_token(
                session, contact_id=contact_id, campaign_id=campaign_id
            )
            done.append(
                f"unsubscribe by signed token (campaign {campaign_id})"
                + ("" if known else ": the contact no longer exists")
            )
        elif intent.sender_hashes:
            count = await inbound_service.unsubscribe_by_sender(
                session, email_hashes=intent.sender_hashes
            )
            done.append(
                f"unsubscribe by sender address: {count} contact(s)"
                if count
                else "an unsubscribe mail with no valid token from no known contact was ignored"
            )
        if intent.bounces:
            done.append(await self._apply_bounces(session, intent.bounces))
        if intent.complaint is not None:
            done.append(
                await self._apply_complaint(session, intent.complaint, intent.complaint_verp)
            )
        if intent.reply is not None:
            # A relay failure while forwarding raises: 451, and the sender retries.
            done.append(await replies.apply(session, reply=intent.reply, settings=self._settings))
        return "; ".join(done)

    async def _apply_complaint(
        self, session: AsyncSession, feedback: arf.Feedback, return_path: str | None
    ) -> str:
        event = arf.complaint_event(feedback)
        if event is None:
            return f"a feedback report ({feedback.type_for_log}) that is no complaint was ignored"
        # Providers often redact the original (Yahoo, AOL, Microsoft strip its
        # headers): then the return path the report reached, or the one its
        # Original-Mail-From quotes, names the message, checked like the
        # Message-ID.
        match = await complaints.match_original(
            session,
            message_id=event.message_id,
            verp_tokens=(return_path, feedback.verp),
            signer=self._signer,
        )
        if match is None:
            # Answered 250 all the same: a forger learns nothing about what we sent.
            return "a complaint that refers to no message we sent was ignored"
        summary = await complaints.record_complaint(
            session,
            contact_id=match.contact_id,
            campaign_id=match.campaign_id,
            recipient_id=match.recipient_id,
            value_hash=match.value_hash,
            source=event.source.value,
            provider_event_id=match.event_id,
            settings=self._settings,
        )
        return f"{summary} (found by its {match.via})"

    async def _apply_bounces(
        self, session: AsyncSession, bounces: tuple[DeliveryEvent, ...]
    ) -> str:
        # Answered 250 whatever it did: a forger learns nothing about what we sent.
        summary = await events.record(
            session, bounces, cipher=self._cipher, signer=self._signer, settings=self._settings
        )
        return f"bounce mail: {summary}"

    # -- the engine, on the Controller's loop -------------------------------

    def _sessions(self) -> SessionMaker:
        if self._sessionmaker is None:
            self._engine = create_engine(self._settings.database_url)
            self._sessionmaker = create_sessionmaker(self._engine)
        return self._sessionmaker

    async def close(self, grace: float) -> None:
        """Refuse new messages, let those being recorded finish, close the engine.
        Must run on the Controller's loop, before the loop stops."""
        self._closing = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)
        engine, self._engine, self._sessionmaker = self._engine, None, None
        if engine is not None:
            await engine.dispose()
