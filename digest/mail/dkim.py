"""DKIM signatures (RFC 6376, and RFC 8463 for Ed25519), made at the byte level.

`Signer.load` (called by `digest.wiring.signer`) loads `DIGEST_DKIM_KEY_FILE` once (a PEM
RSA key, PKCS#1 or PKCS#8, or an Ed25519 key in PKCS#8) and `Signer.sign(message bytes)`
returns the bytes with a DKIM-Signature header in front. It works on finished bytes, so it
signs whatever the sending path built, one copy at a time.

Every copy's body differs (its own links), so each needs its own body hash and
signature; what is left to make cheap is the rest. Canonicalisation is `relaxed` for the
headers (a relay may refold them) and `simple` for the body: the body bytes are ours,
CRLF throughout and sent 8bit, so the simple form is the bytes with trailing empty lines
cut, hashed in one call, where a relaxed body would rewrite every line per copy. The
signature is one call into `cryptography` with the key loaded once. dkimpy, which parses
and canonicalises each message in Python (6.5 ms a copy with Ed25519, 29 ms with RSA
here), is kept as the verifier the tests check every signature with.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from digest.errors import ConfigError

if TYPE_CHECKING:  # cryptography is loaded where a key is: most sends sign nothing
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

SIGNED_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
)


_WSP = re.compile(rb"[ \t]+")
_FOLD = re.compile(rb"\r\n(?=[ \t])")


def relaxed_header(name: bytes, value: bytes) -> bytes:
    """RFC 6376 3.4.2: lower-case name, unfolded value, runs of blanks as one space, no
    blanks at either end of the value."""
    value = _WSP.sub(b" ", _FOLD.sub(b"", value)).strip(b" \r\n")
    return name.strip().lower() + b":" + value


def headers_of(head: bytes) -> dict[bytes, bytes]:
    """Header fields by lower-case name, the last of each (signed bottom-up, RFC 6376
    5.4.2: one instance each here); values as they stand, folds and all."""
    found: dict[bytes, bytes] = {}
    for field_ in re.split(rb"\r\n(?![ \t])", head):
        name, sep, value = field_.partition(b":")
        if sep:
            found[name.strip().lower()] = value
    return found


@dataclass(frozen=True)
class Signer:
    selector: bytes
    domain: bytes
    private_key: PrivateKey = field(repr=False)
    algorithm: bytes  # rsa-sha256 or ed25519-sha256

    @classmethod
    def load(cls, key_file: Path, *, selector: str, domain: str) -> Signer:
        """A signer with the key of this PEM file; a bad key is a ConfigError."""
        key, algorithm = load_key(key_file)
        return cls(selector.encode(), domain.encode(), key, algorithm)

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header prepended."""
        return self.header(message) + message

    def header(self, message: bytes, now: float | None = None) -> bytes:
        """The DKIM-Signature header line (CRLF-terminated) for these message bytes."""
        head, sep, body = message.partition(b"\r\n\r\n")
        if not sep:  # no body at all
            head, body = message.removesuffix(b"\r\n"), b""
        body = body.rstrip(b"\r\n") + b"\r\n" if body.strip(b"\r\n") else b"\r\n"
        body_hash = base64.b64encode(hashlib.sha256(body).digest())
        fields = headers_of(head)
        signed = [n for n in SIGNED_HEADERS if n.lower() in fields]
        tags = b"".join(
            (
                b"v=1; a=" + self.algorithm + b"; c=relaxed/simple; d=" + self.domain,
                b"; s=" + self.selector + b"; t=%d" % int(time.time() if now is None else now),
                b"; h=" + b":".join(n.lower() for n in signed),
                b"; bh=" + body_hash + b"; b=",
            )
        )
        data = b"".join(relaxed_header(n, fields[n.lower()]) + b"\r\n" for n in signed)
        data += relaxed_header(b"DKIM-Signature", tags)  # the header itself, b= empty
        key = self.private_key
        if self.algorithm == b"rsa-sha256":
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding, rsa

            assert isinstance(key, rsa.RSAPrivateKey)  # load_key names the algorithm by the key
            signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        else:  # RFC 8463: Ed25519 over the SHA-256 of the data
            from cryptography.hazmat.primitives.asymmetric import ed25519

            assert isinstance(key, ed25519.Ed25519PrivateKey)
            signature = key.sign(hashlib.sha256(data).digest())
        b64 = base64.b64encode(signature)
        # Folded inside b= only: verifiers drop that value with its white space.
        folded = b"\r\n\t".join(b64[i : i + 72] for i in range(0, len(b64), 72))
        return b"DKIM-Signature: " + tags + folded + b"\r\n"


def load_key(path: Path) -> tuple[PrivateKey, bytes]:
    """Read a PEM private key and name its DKIM algorithm."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

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
        return key, b"rsa-sha256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key, b"ed25519-sha256"
    raise ConfigError(
        f"{setting}: {path} holds a {type(key).__name__.removesuffix('PrivateKey')} key; "
        "DKIM takes RSA or Ed25519"
    )


def dns_record(public_pem: bytes) -> bytes:
    """The TXT record to publish at selector._domainkey.domain for a PEM public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = serialization.load_pem_public_key(public_pem)
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw)
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
