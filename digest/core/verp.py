"""VERP return paths: each copy's envelope sender names its delivery, signed.

`DIGEST_BOUNCE_ADDRESS` is either a plain address (`bounces@example.org`, the delivery is
added after a `+`) or a template with `{delivery_id}` in its local part
(`bounces+{delivery_id}@example.org`). The delivery id travels with an HMAC of it under
the secret key, so a forged DSN cannot name someone else's delivery and suppress them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from email.utils import getaddresses

PLACEHOLDER = "{delivery_id}"
SIGNATURE_LENGTH = 10  # hex digits: 40 bits, lowercase so case-folding MTAs keep it valid


def bounce_address_problem(address: str) -> str | None:
    """What is wrong with a DIGEST_BOUNCE_ADDRESS, or None."""
    if any(c.isspace() or c in '<>"(),;:\\' for c in address):
        return f"{address!r} must be a bare address like bounces@example.org, without a name"
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain:
        return f"{address!r} is not an address like bounces@example.org"
    if address.count(PLACEHOLDER) > 1 or ("{" in address and PLACEHOLDER not in local):
        return f"{address!r} may hold {PLACEHOLDER} once, in the part before the @"
    return None


def _template(bounce_address: str) -> str:
    if PLACEHOLDER in bounce_address:
        return bounce_address
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{PLACEHOLDER}@{domain}"


def signature(secret_key: str, delivery_id: int) -> str:
    mac = hmac.new(secret_key.encode(), f"verp:{delivery_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:SIGNATURE_LENGTH]


def return_path(bounce_address: str, secret_key: str, delivery_id: int) -> str:
    """The envelope sender for one copy: bounces+{id}-{signature}@domain."""
    token = f"{delivery_id}-{signature(secret_key, delivery_id)}"
    return _template(bounce_address).replace(PLACEHOLDER, token)


def _pattern(bounce_address: str) -> re.Pattern[str]:
    before, _, after = _template(bounce_address).partition(PLACEHOLDER)
    return re.compile(
        re.escape(before) + rf"(\d{{1,18}})-([0-9a-f]{{{SIGNATURE_LENGTH}}})" + re.escape(after),
        re.IGNORECASE,
    )


def delivery_for_address(bounce_address: str, secret_key: str, address: str) -> int | None:
    """The delivery id a VERP address names, when its signature holds; else None."""
    match = _pattern(bounce_address).fullmatch(address.strip().strip("<>"))
    if not match:
        return None
    delivery_id, sig = int(match.group(1)), match.group(2).lower()
    return delivery_id if hmac.compare_digest(sig, signature(secret_key, delivery_id)) else None


def delivery_in_headers(bounce_address: str, secret_key: str, values: list[str]) -> int | None:
    """The first correctly signed VERP address among header values (To, Delivered-To...)."""
    for _, address in getaddresses(values):
        found = delivery_for_address(bounce_address, secret_key, address)
        if found is not None:
            return found
    return None
