"""The last step before the transport: the VERP return path and the DKIM signature.

`Finisher.finish(copy, delivery_id)` takes a copy made from the edition's template (see
digest.mail.template) and returns it with its own envelope sender (the signed VERP
address, when DIGEST_BOUNCE_ADDRESS is set) and, when DIGEST_DKIM_KEY_FILE is set, a
DKIM-Signature and a Return-Path in front of its bytes. Signing works on the bytes the
transport sends; a copy's quoted-printable fallback (for a server without 8BITMIME) is
signed the same way when it is asked for.
"""

from __future__ import annotations

from dataclasses import replace
from email import message_from_bytes
from email.message import EmailMessage

from digest.core.verp import return_path
from digest.mail.dkim import Signer
from digest.mail.message import HEADER_POLICY
from digest.mail.template import OutgoingCopy


class Finisher:
    def __init__(self, signer: Signer | None, bounce_address: str | None, secret_key: str) -> None:
        self.signer = signer
        self.bounce_address = bounce_address
        self.secret_key = secret_key

    @property
    def active(self) -> bool:
        return self.signer is not None or self.bounce_address is not None

    def envelope_from(self, delivery_id: int) -> str | None:
        if not self.bounce_address:
            return None
        return return_path(self.bounce_address, self.secret_key, delivery_id)

    def _front(self, plain: bytes, sender: str | None) -> bytes:
        """The header lines that go in front of a copy's bytes (none start with a dot)."""
        front = b"Return-Path: <" + sender.encode() + b">\r\n" if sender else b""
        if self.signer is not None:
            front += self.signer.header(plain)
        return front

    def finish(self, copy: OutgoingCopy, delivery_id: int) -> OutgoingCopy:
        if not self.active:
            return copy
        sender = self.envelope_from(delivery_id)
        original_fallback = copy.fallback

        def fallback() -> EmailMessage:
            plain = original_fallback().as_bytes(policy=HEADER_POLICY)
            signed = self._front(plain, sender) + plain
            return message_from_bytes(signed, _class=EmailMessage, policy=HEADER_POLICY)

        stuffed = copy.stuffed
        if stuffed is not None:
            # Only a signature needs the copy's plain (unstuffed) bytes.
            plain = copy.plain() if self.signer is not None else b""
            stuffed = self._front(plain, sender) + stuffed
        return replace(
            copy,
            mail_from=sender or copy.mail_from,
            stuffed=stuffed,
            fallback=fallback,
            _plain=None,
        )
