"""The second factor: time-based one-time passwords (RFC 6238) and recovery codes.

Codes are the authenticator-app defaults every app understands: SHA-1,
six digits, 30-second steps. One step of clock drift either way is
accepted, and a step once used is refused (``last_step``), so a code seen
over a shoulder or in a proxy log cannot be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno

ISSUER = "Consentry"
STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
# Crockford's base32 without look-alikes (no I, L, O, U): easy to copy from paper.
_RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RECOVERY_GROUPS = 3
_RECOVERY_GROUP_LENGTH = 4  # 12 characters of 5 bits: 60 random bits a code


def base32(raw: bytes) -> str:
    """A secret as authenticator apps take it: base32 without padding."""
    return base64.b32encode(raw).decode().rstrip("=")


def provisioning_uri(secret: str, account: str) -> str:
    """The ``otpauth://`` URI the QR code carries (the account shown in the app)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code: no image request, nothing for a CSP to allow."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=5, dark="#1f2933", light="#ffffff")
    return svg


def step_of(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def verify(secret: str, code: str, *, now: datetime, last_step: int | None) -> int | None:
    """The step the code belongs to, or None when it is wrong, too old or used."""
    code = code.replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = step_of(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Codes like ``7KQ2-M9XD-4TPA``, shown once at enrolment."""
    return [
        "-".join(
            "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_GROUP_LENGTH))
            for _ in range(_RECOVERY_GROUPS)
        )
        for _ in range(RECOVERY_CODE_COUNT)
    ]


def normalize_recovery_code(code: str) -> str | None:
    """The canonical form of a typed code (case, spaces and dashes forgiven), or None."""
    cleaned = "".join(code.upper().split()).replace("-", "")
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    length = _RECOVERY_GROUPS * _RECOVERY_GROUP_LENGTH
    if len(cleaned) != length or any(char not in _RECOVERY_ALPHABET for char in cleaned):
        return None
    return "-".join(
        cleaned[i : i + _RECOVERY_GROUP_LENGTH] for i in range(0, length, _RECOVERY_GROUP_LENGTH)
    )


def hash_recovery_code(secret_key: str, code: str) -> str:
    """A keyed hash: 60 random bits are far beyond guessing online, and the key
    keeps a stolen table from being searched offline."""
    return hmac.new(
        secret_key.encode(), b"consentry/recovery-code/v1\x00" + code.encode(), hashlib.sha256
    ).hexdigest()
