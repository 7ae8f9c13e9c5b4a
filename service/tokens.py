"""Signed tokens for public links (unsubscribe, preferences, tracking).

A token names a purpose and a few integer ids (a contact, a campaign) and
nothing else: no email, name or identity code. It is HMAC-SHA256 signed with a
key derived from ``CONSENTRY_SECRET_KEY``; the key id travels in the token, so
a new secret can be brought in while links signed with a retired one keep
working until the old secret is dropped from ``previous_secrets``.

Format: ``<kid>.<payload>.<mac>``, each part URL-safe base64 without padding;
payload is ``purpose:id:id…``.

A *compact* token (``sign_compact``) is for links that must be short, such as
an SMS's opt-out link, where every character is paid for: the ids as unsigned
LEB128 varints, then an 80-bit truncated HMAC-SHA256, one URL-safe base64 string
without padding and without a dot (22 characters for a contact id under 2**28
and a campaign id under 2**14), so it is never taken for a long token. The
purpose is not carried but signed (in the MAC input, under a key of its own),
so a compact token verifies only for the purpose it was made for; the key id is
not carried either: each known key is tried, the current one first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_MAC_BYTES = 16  # 128-bit tags: forging one is out of reach, and links stay short
# 80 bits: a compact link can only be guessed online, one request a try, and
# what a guess wins is withdrawing someone's consent; 2**80 tries is out of reach.
_COMPACT_MAC_BYTES = 10
_MAX_VARINT_BYTES = 10  # 64-bit ids


class InvalidToken(ValueError):
    """Forged, damaged, of another purpose, or signed with an unknown key."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str) -> tuple[str, bytes]:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"consentry/link-tokens/v1"
    ).derive(secret.encode())
    kid = _b64(hashlib.sha256(key).digest()[:3])
    return kid, key


def _compact_key(secret: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"consentry/compact-tokens/v1"
    ).derive(secret.encode())


def _varint(number: int) -> bytes:
    if number < 0:
        raise ValueError("a compact token holds non-negative ids only")
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        if not number:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def _unvarints(raw: bytes) -> tuple[int, ...]:
    """The ids of a payload; ValueError if it ends inside one or one is
    longer than 64 bits."""
    ids: list[int] = []
    number = shift = length = 0
    for byte in raw:
        number |= (byte & 0x7F) << shift
        shift, length = shift + 7, length + 1
        if length > _MAX_VARINT_BYTES:
            raise ValueError("an id is too long")
        if not byte & 0x80:
            ids.append(number)
            number = shift = length = 0
    if length:
        raise ValueError("the last id is cut short")
    return tuple(ids)


def _compact_mac(key: bytes, purpose: str, payload: bytes) -> bytes:
    message = purpose.encode() + b"\0" + payload
    return hmac.new(key, message, hashlib.sha256).digest()[:_COMPACT_MAC_BYTES]


def is_compact(token: str) -> bool:
    """Whether ``token`` is of the compact form: a long token always has two dots."""
    return "." not in token


class TokenSigner:
    def __init__(self, secret: str, previous_secrets: Iterable[str] = ()) -> None:
        self._kid, self._key = _key(secret)
        self._keys = dict([_key(old) for old in previous_secrets])
        self._keys[self._kid] = self._key
        # The current key first: a link signed today verifies at the first try.
        self._compact_keys = [_compact_key(secret)] + [_compact_key(s) for s in previous_secrets]

    def sign(self, purpose: str, *ids: int) -> str:
        payload = ":".join([purpose, *(str(int(i)) for i in ids)]).encode()
        mac = hmac.new(self._key, self._kid.encode() + b"." + payload, hashlib.sha256)
        return f"{self._kid}.{_b64(payload)}.{_b64(mac.digest()[:_MAC_BYTES])}"

    def message_tag(self, campaign_id: int, recipient_id: int, message_key: str) -> str:
        """The part of a campaign Message-ID that proves it is ours and names one
        recipient: <c{campaign}.r{recipient}.{tag}@domain>. Deterministic, so a
        message sent again after a crash keeps its Message-ID; keyed, so a
        recipient who knows their own cannot make another's (a forged
        delivery report would suppress someone else's address)."""
        return self._message_tag(self._key, campaign_id, recipient_id, message_key)

    def is_message_tag(
        self, tag: str, campaign_id: int, recipient_id: int, message_key: str
    ) -> bool:
        """Whether ``tag`` is the tag under this secret or a previous one."""
        return any(
            hmac.compare_digest(
                tag.encode(),
                self._message_tag(key, campaign_id, recipient_id, message_key).encode(),
            )
            for key in self._keys.values()
        )

    @staticmethod
    def _message_tag(key: bytes, campaign_id: int, recipient_id: int, message_key: str) -> str:
        payload = f"message-id:{campaign_id}:{recipient_id}:{message_key}".encode()
        return hmac.new(key, payload, hashlib.sha256).hexdigest()[:20]

    def verify(self, token: str, purpose: str) -> tuple[int, ...]:
        try:
            kid, payload_part, mac_part = token.split(".")
            key = self._keys[kid]
            payload, mac = _unb64(payload_part), _unb64(mac_part)
        except (ValueError, KeyError):
            raise InvalidToken("not a valid link") from None
        expected = hmac.new(key, kid.encode() + b"." + payload, hashlib.sha256).digest()
        if not hmac.compare_digest(expected[:_MAC_BYTES], mac):
            raise InvalidToken("not a valid link")
        name, *ids = payload.decode(errors="replace").split(":")
        if name != purpose or not all(i.isascii() and i.isdigit() for i in ids):
            raise InvalidToken("not a valid link")
        return tuple(int(i) for i in ids)

    def sign_compact(self, purpose: str, *ids: int) -> str:
        """A short token for ``purpose`` naming ``ids`` (non-negative integers)."""
        if "\0" in purpose:
            raise ValueError("a purpose is a plain name")
        payload = b"".join(_varint(int(i)) for i in ids)
        return _b64(payload + _compact_mac(self._compact_keys[0], purpose, payload))

    def verify_compact(self, token: str, purpose: str) -> tuple[int, ...]:
        """The ids of a compact token made for ``purpose`` under the current
        secret or a previous one; InvalidToken otherwise."""
        try:
            raw = _unb64(token)
        except ValueError:
            raise InvalidToken("not a valid link") from None
        # Only the one spelling we write: base64 decoding skips characters
        # outside its alphabet and ignores a last character's spare bits.
        if _b64(raw) != token or len(raw) <= _COMPACT_MAC_BYTES:
            raise InvalidToken("not a valid link")
        payload, mac = raw[:-_COMPACT_MAC_BYTES], raw[-_COMPACT_MAC_BYTES:]
        if not any(
            hmac.compare_digest(_compact_mac(key, purpose, payload), mac)
            for key in self._compact_keys
        ):
            raise InvalidToken("not a valid link")
        try:
            return _unvarints(payload)
        except ValueError:
            raise InvalidToken("not a valid link") from None
