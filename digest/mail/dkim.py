"""DKIM signatures (RFC 6376, and RFC 8463 for Ed25519) with dkimpy.

`Signer.from_settings` loads `DIGEST_DKIM_KEY_FILE` once (a PEM RSA key, PKCS#1 or PKCS#8,
or an Ed25519 key in PKCS#8) and `Signer.sign(message bytes)` returns the bytes with a
DKIM-Signature header in front. It works on finished bytes, so it signs whatever the
sending path built, one copy at a time.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from digest.config import Settings
from digest.errors import ConfigError
from digest.mail.message import domain_of

SIGNED_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
)


@dataclass(frozen=True)
class Signer:
    selector: bytes
    domain: bytes
    key: bytes  # what dkimpy takes: PKCS#1 PEM for RSA, base64 of the seed for Ed25519
    algorithm: bytes  # rsa-sha256 or ed25519-sha256

    @classmethod
    def from_settings(cls, settings: Settings) -> Signer | None:
        """The signer the settings describe, None when DKIM is off; a bad key or a
        missing selector is a one-line ConfigError naming the setting."""
        if not settings.dkim_key_file:
            return None
        if not settings.dkim_selector:
            raise ConfigError("DIGEST_DKIM_SELECTOR: needed with DIGEST_DKIM_KEY_FILE")
        key, algorithm = load_key(settings.dkim_key_file)
        domain = settings.dkim_domain or domain_of(settings.from_address)
        return cls(settings.dkim_selector.encode(), domain.encode(), key, algorithm)

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header prepended."""
        return self.header(message) + message

    def header(self, message: bytes) -> bytes:
        return dkim.sign(
            message,
            self.selector,
            self.domain,
            self.key,
            include_headers=list(SIGNED_HEADERS),
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=self.algorithm,
            linesep=b"\r\n",
        )


def load_key(path: Path) -> tuple[bytes, bytes]:
    """Read a PEM private key into dkimpy's form and its algorithm."""
    setting = "DIGEST_DKIM_KEY_FILE"
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"{setting}: {path} is not an unencrypted PEM RSA or Ed25519 private key ({reason})"
        ) from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 1024:
            raise ConfigError(f"{setting}: {path} is a {key.key_size}-bit RSA key; use 2048")
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        return pem, b"rsa-sha256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        seed = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return base64.b64encode(seed), b"ed25519-sha256"
    raise ConfigError(
        f"{setting}: {path} holds a {type(key).__name__.removesuffix('PrivateKey')} key; "
        "DKIM takes RSA or Ed25519"
    )


def dns_record(public_pem: bytes) -> bytes:
    """The TXT record to publish at selector._domainkey.domain for a PEM public key."""
    key = serialization.load_pem_public_key(public_pem)
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw)
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
