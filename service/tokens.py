"""Signed tokens for public links (unsubscribe, preferences, tracking).

A token names a purpose and a few integer ids (a contact, a campaign) and
nothing else: no email, name or identity code. It is HMAC-SHA256 signed with a
key derived from ``CONSENTRY_SECRET_KEY``; the key id travels in the token, so
a new secret can be brought in while links signed with a retired one keep
working until the old secret is dropped from ``previous_secrets``.

Format: ``<kid>.<payload>.<mac>``, each part URL-safe base64 without padding;
payload is ``purpose:id:id…``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_MAC_BYTES = 16  # 128-bit tags: forging one is out of reach, and links stay short


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


class TokenSigner:
    def __init__(self, secret: str, previous_secrets: Iterable[str] = ()) -> None:
        self._kid, self._key = _key(secret)
        self._keys = dict([_key(old) for old in previous_secrets])
        self._keys[self._kid] = self._key

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
