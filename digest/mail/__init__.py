"""Building digest messages and handing them to a transport (SMTP or an outbox folder)."""

from digest.errors import MailError, PermanentError, TemporaryError, TransportDown
from digest.mail.message import build_message, message_id_for
from digest.mail.servers import transport_from_url
from digest.mail.transports import (
    OutboxTransport,
    SmtpTransport,
    Transport,
)

__all__ = [
    "MailError",
    "OutboxTransport",
    "PermanentError",
    "SmtpTransport",
    "TemporaryError",
    "Transport",
    "TransportDown",
    "build_message",
    "message_id_for",
    "transport_from_url",
]
