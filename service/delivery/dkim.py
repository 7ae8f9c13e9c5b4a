"""DKIM signatures (RFC 6376) on every message we send, made through OpenSSL.

dkimpy parses the message, canonicalises it and lays out the
``DKIM-Signature`` field; its RSA arithmetic, though, is pure Python:
8.2 ms per RSA-2048 signature against 0.33 ms through OpenSSL (the issue's
measure; BENCHMARKS.md has ours). ``OpenSslDkim`` therefore replaces the two
steps that touch the key: ``sign`` takes a key already loaded (dkimpy would
parse the PEM again for every message, 0.6 ms) and ``gen_header`` hands the
header hash to ``cryptography``. Everything else is dkimpy's, and dkimpy
verifies what we sign (the tests and ``consentry dkim check``).

A message gets an RSA-SHA256 signature, and an Ed25519-SHA256 one (RFC 8463)
beside it when a second key is configured: receivers that know Ed25519 use
it, the others the RSA one. The signed fields are those of ``SIGNED`` that
the message has; From, Subject and both List-Unsubscribe fields are signed
once more than they occur, so nobody on the way can add one (RFC 8058 asks
that both List-Unsubscribe fields be covered).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Final

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils
from dkim.canonicalization import CanonicalizationPolicy
from dkim.crypto import HASH_ALGORITHMS
from dkim.util import parse_tag_value

from service.settings import Settings
from service.settings_delivery import DkimSettings

# RFC 6376 §5.4.1's list, the unsubscribe fields of RFC 2369 and RFC 8058, and
# what our mail carries besides; only those present are signed.
SIGNED: Final = (
    b"from",
    b"reply-to",
    b"to",
    b"cc",
    b"subject",
    b"date",
    b"message-id",
    b"in-reply-to",
    b"references",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
    b"auto-submitted",
    b"feedback-id",
)
# Signed once more than they occur: a second From, Subject or unsubscribe
# field added on the way breaks the signature.
OVERSIGNED: Final = frozenset({b"from", b"subject", b"list-unsubscribe", b"list-unsubscribe-post"})
# Relaxed headers (relays refold and recase them); the simple body, as Amazon
# SES signs: our bodies are quoted-printable lines with CRLF endings and no
# trailing blanks, which relays leave alone, and the relaxed body's two
# regular-expression passes over the whole body would cost more than the
# RSA signature itself (BENCHMARKS.md).
CANONICALIZATION: Final = b"relaxed/simple"
RSA_BITS: Final = 2048


class Algorithm(StrEnum):
    RSA = "rsa"
    ED25519 = "ed25519"

    @property
    def tag(self) -> bytes:
        """The signature's ``a=`` value."""
        return b"rsa-sha256" if self is Algorithm.RSA else b"ed25519-sha256"


PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


class Unsignable(ValueError):
    """dkimpy cannot read this message's header (a malformed field): that
    message fails, the others go on. The text names the kind of error only."""


class DkimKeyError(ValueError):
    """A key file that cannot be used; the message says why (never the key)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    selector: str
    domain: str
    private: PrivateKey

    @property
    def algorithm(self) -> Algorithm:
        return Algorithm.RSA if isinstance(self.private, rsa.RSAPrivateKey) else Algorithm.ED25519

    def public_value(self) -> str:
        """The ``p=`` value of the DNS record."""
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            der = public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        else:
            der = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.b64encode(der).decode("ascii")

    def record_value(self) -> str:
        """The TXT record's text: ``v=DKIM1; k=rsa; p=…``."""
        return f"v=DKIM1; k={self.algorithm.value}; p={self.public_value()}"

    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    def record_line(self) -> str:
        """The record as one zone-file line, the value split into quoted
        strings of at most 255 characters (a DNS TXT string's limit)."""
        value = self.record_value()
        pieces = " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))
        return f"{self.record_name()}. IN TXT {pieces}"


def generate(algorithm: Algorithm = Algorithm.RSA) -> PrivateKey:
    if algorithm is Algorithm.RSA:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    return ed25519.Ed25519PrivateKey.generate()


def pem(key: PrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM, the form ``load_key`` reads."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_key(path: Path) -> PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DkimKeyError(f"cannot read the DKIM key file {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise DkimKeyError(
            f"{path} holds no unencrypted PEM private key (make one with `consentry dkim keygen`)"
        ) from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < RSA_BITS:
            raise DkimKeyError(
                f"the RSA key in {path} has {key.key_size} bits; at least {RSA_BITS} are needed"
            )
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise DkimKeyError(f"the key in {path} is neither RSA nor Ed25519")


class OpenSslDkim(dkim.DKIM):  # type: ignore[misc]  # dkimpy has no type hints
    """dkimpy's DKIM with the signature itself made by OpenSSL."""

    def sign_with(self, key: SigningKey, include_headers: list[bytes]) -> bytes:
        """The ``DKIM-Signature`` field for this message, CRLF-terminated.

        What ``dkim.DKIM.sign`` does, less the parsing of a PEM key."""
        self.signature_algorithm = key.algorithm.tag
        self.hasher = HASH_ALGORITHMS[self.signature_algorithm]
        self.include_headers = tuple(include_headers)
        policy = CanonicalizationPolicy.from_c_value(CANONICALIZATION)
        body_hash = base64.b64encode(self.hasher(policy.canonicalize_body(self.body)).digest())
        domain = key.domain.encode("ascii")
        fields = [
            (b"v", b"1"),
            (b"a", self.signature_algorithm),
            (b"c", CANONICALIZATION),
            (b"d", domain),
            (b"i", b"@" + domain),
            (b"q", b"dns/txt"),
            (b"s", key.selector.encode("ascii")),
            (b"t", str(int(time.time())).encode("ascii")),
            (b"h", b" : ".join(include_headers)),
            (b"bh", body_hash),
            # b= is folded onto lines of its own, as dkimpy does.
            (b"b", b"0" * 60),
        ]
        value = self.gen_header(fields, include_headers, policy, b"DKIM-Signature", key.private)
        self.domain, self.selector = domain, key.selector.encode("ascii")
        self.signature_fields = dict(fields)
        return b"DKIM-Signature: " + bytes(value)

    def gen_header(
        self,
        fields: list[tuple[bytes, bytes]],
        include_headers: list[bytes],
        canon_policy: Any,
        header_name: bytes,
        pk: PrivateKey,
        standardize: bool = False,
    ) -> bytes:
        value = dkim.fold(b"; ".join(b"=".join(x) for x in fields), namelen=len(header_name))
        value = dkim.RE_BTAG.sub(b"\\1", value)
        hasher = self.hasher()
        headers = canon_policy.canonicalize_headers(self.headers)
        self.signed_headers = dkim.hash_headers(
            hasher, canon_policy, headers, include_headers, (header_name, b" " + value), {}
        )
        digest = hasher.digest()
        if isinstance(pk, rsa.RSAPrivateKey):
            signature = pk.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        else:
            signature = pk.sign(digest)  # RFC 8463: Ed25519 over the SHA-256 hash
        index = next(i for i, (tag, _) in enumerate(fields) if tag == b"b")
        fields[index] = (b"b", base64.b64encode(signature))
        value = b"; ".join(b"=".join(x) for x in fields) + self.linesep
        return bytes(dkim.fold(value, namelen=len(header_name), linesep=self.linesep))


class DkimSigner:
    """Signs whole messages with one or two keys of one domain."""

    def __init__(self, keys: list[SigningKey]) -> None:
        if not keys:
            raise ValueError("a signer needs at least one key")
        self.keys = keys

    @property
    def domain(self) -> str:
        return self.keys[0].domain

    @staticmethod
    def signed_fields(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
        """The ``h=`` list for a message with these header fields (lower-case names)."""
        present = [name.lower() for name, _ in headers]
        signed: list[bytes] = []
        for name in SIGNED:
            signed += [name] * (present.count(name) + (name in OVERSIGNED))
        return signed

    def sign(self, message: bytes) -> bytes:
        """The message with its signature fields in front; ``Unsignable``
        when dkimpy cannot read its header."""
        try:
            signer = OpenSslDkim(message)
            include = self.signed_fields(signer.headers)
            signatures = [signer.sign_with(key, include) for key in self.keys]
        except dkim.DKIMException as exc:
            raise Unsignable(f"the message cannot be DKIM-signed ({type(exc).__name__})") from None
        # The first field is the one a verifier tries first: RSA, understood by all.
        return b"".join(signatures) + message


def aligned(from_domain: str, dkim_domain: str) -> bool:
    """DMARC's relaxed alignment, roughly: the From domain is the signing
    domain or below it (``news.firma.fi`` under ``firma.fi``)."""
    from_domain, dkim_domain = from_domain.lower().rstrip("."), dkim_domain.lower().rstrip(".")
    return from_domain == dkim_domain or from_domain.endswith("." + dkim_domain)


def signer_from_settings(settings: Settings) -> DkimSigner | None:
    """The configured signer, or None when no key is configured (mail goes
    unsigned; production warns about it at start-up). Raises DkimKeyError
    for a key file that cannot be used."""
    if settings.dkim.key_file is None:
        return None
    return _signer(settings.dkim)


@cache
def _signer(config: DkimSettings) -> DkimSigner:
    """One signer per configuration, so the keys are read once per process."""
    assert config.selector is not None
    assert config.key_file is not None
    keys = [SigningKey(config.selector, config.domain, load_key(config.key_file))]
    if not isinstance(keys[0].private, rsa.RSAPrivateKey):
        raise DkimKeyError(f"{config.key_file} must hold an RSA key (Ed25519 goes beside it)")
    if config.ed25519_key_file is not None:
        assert config.ed25519_selector is not None
        key = load_key(config.ed25519_key_file)
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise DkimKeyError(f"{config.ed25519_key_file} holds no Ed25519 key")
        keys.append(SigningKey(config.ed25519_selector, config.domain, key))
    return DkimSigner(keys)


# -- checking a signature against a record ------------------------------------

DnsLookup = Callable[..., bytes | None]


def record_lookup(record: str) -> DnsLookup:
    """A DNS function for dkimpy that answers every query with ``record``
    (a TXT value, quoted pieces and all, or a whole zone-file line)."""
    value = record_text(record).encode("ascii")

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        return value

    return lookup


def record_text(record: str) -> str:
    """The TXT value of a record as given: a bare value, or quoted pieces,
    or a whole ``name IN TXT "…" "…"`` line."""
    if '"' not in record:
        return record.strip()
    return "".join(record.split('"')[1::2])


def record_key(record: str) -> str | None:
    """The ``p=`` of a TXT value, or None if it has none or cannot be read."""
    try:
        tags = parse_tag_value(record_text(record).encode("ascii"))
    except Exception:
        return None
    key = tags.get(b"p")
    return None if key is None else key.decode("ascii")


def record_algorithm(record: str) -> str:
    """The ``k=`` of a TXT value (``rsa`` when absent, as RFC 6376 says)."""
    try:
        tags = parse_tag_value(record_text(record).encode("ascii"))
    except Exception:
        return "rsa"
    return str(tags.get(b"k", b"rsa").decode("ascii", "replace")).strip().lower()


def verify(message: bytes, lookup: DnsLookup) -> bool:
    """Whether the message's first signature verifies with the record ``lookup`` gives."""
    return bool(dkim.verify(message, dnsfunc=lookup))
