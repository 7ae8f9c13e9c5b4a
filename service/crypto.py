"""Encryption of personal identity codes at rest, and keyed hashes for look-ups.

Both keys are derived from ``CONSENTRY_DATA_KEY`` with HKDF, one per use, so
that the hash key (which must stay stable for look-ups and the suppression
list) never doubles as an encryption key.

Ciphertext layout: ``v1:`` + urlsafe-base64(nonce(12) || AES-256-GCM(code)).
The version prefix leaves room for key rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode()
    )


class DecryptionError(ValueError):
    """A stored ciphertext cannot be opened with the configured data key."""


class DataCipher:
    def __init__(self, data_key: str) -> None:
        self._aead = AESGCM(_derive(data_key, b"consentry/identity-code/encrypt/v1"))
        self._hash_key = _derive(data_key, b"consentry/lookup-hash/v1")

    def encrypt(self, plaintext: str, *, context: bytes = b"") -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context)
        return f"{_VERSION}:" + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, *, context: bytes = b"") -> str:
        version, _, body = token.partition(":")
        if version != _VERSION:
            raise DecryptionError("unknown ciphertext version")
        raw = base64.urlsafe_b64decode(body)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], context).decode()
        except InvalidTag:
            raise DecryptionError("ciphertext does not match the data key") from None

    def lookup_hash(self, kind: str, value: str) -> str:
        """A keyed hash of a normalised value: equal inputs give equal hashes, and
        nobody without the data key can test a guess against it."""
        message = kind.encode() + b"\x00" + value.encode()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()
