"""The last step before the transport: the VERP return path and the DKIM signature.

`Finisher.send(transport, msg, delivery_id, recipient)` sends the message as the
transport always did when neither DIGEST_BOUNCE_ADDRESS nor DIGEST_DKIM_KEY_FILE is set;
otherwise it turns the copy into bytes, adds a Return-Path, signs it, and hands the
bytes over with the copy's own envelope sender (`transport.send_raw`).
"""

from __future__ import annotations

from email.message import EmailMessage

from digest.config import Settings
from digest.mail.dkim import Signer
from digest.mail.message import HEADER_POLICY
from digest.mail.transports import Transport
from digest.mail.verp import return_path


class Finisher:
    def __init__(self, settings: Settings) -> None:
        self.signer = Signer.from_settings(settings)
        self.bounce_address = settings.bounce_address
        self.secret_key = settings.secret_key

    @property
    def active(self) -> bool:
        return self.signer is not None or self.bounce_address is not None

    def envelope_from(self, delivery_id: int) -> str | None:
        if not self.bounce_address:
            return None
        return return_path(self.bounce_address, self.secret_key, delivery_id)

    def finish(self, data: bytes, delivery_id: int) -> bytes:
        """The copy's bytes, signed, behind its Return-Path."""
        if self.signer is not None:
            data = self.signer.sign(data)
        sender = self.envelope_from(delivery_id)
        if sender is not None:
            data = b"Return-Path: <" + sender.encode() + b">\r\n" + data
        return data

    def send(
        self, transport: Transport, msg: EmailMessage, delivery_id: int, recipient: str
    ) -> None:
        if not self.active:
            transport.send(msg)
            return
        sender = self.envelope_from(delivery_id) or str(msg["From"].addresses[0].addr_spec)
        data = self.finish(msg.as_bytes(policy=HEADER_POLICY), delivery_id)
        transport.send_raw(data, sender, [recipient], str(msg["Message-ID"]))
