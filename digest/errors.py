"""Errors a user can act on: one tree, rooted at `DigestError`.

The CLI prints their message without a traceback and exits 1; the web and the API map
them to a status by their type (`InvalidField` names the field, `NotFound` is a 404,
`AlreadyExists` a 409, any other `InvalidInput` a 400, the rest a 503). Every room raises
these, from the edges (a feed that cannot be fetched, a mail server that refuses) to the
faces, so nothing is told apart by its message or its class name.
"""

from __future__ import annotations

from datetime import datetime


class DigestError(Exception):
    """Base class: the message says what went wrong and what to do."""


# --- what a person typed or sent --------------------------------------------------------------


class InvalidInput(DigestError):
    pass


class InvalidField(InvalidInput):
    """A bad value in one named field (a form field, a CSV column, a JSON key): `field`
    says which, so a form can show the message at that field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class FieldErrors(InvalidInput):
    """Bad values in a form, by field name: the page shows each message at its field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class ExpiredLink(InvalidInput):
    """A genuine link past its age: the page can offer to send a new one."""


class BadUrl(InvalidInput, ValueError):
    """A URL that cannot be a source; the message says what is wrong with it."""


class OpmlError(InvalidInput, ValueError):
    """The file is not OPML at all."""


class NotFound(DigestError):
    pass


class AlreadyExists(DigestError):
    pass


# --- how the deployment is set up -------------------------------------------------------------


class SchemaOutOfDate(DigestError):
    """The database has no schema, or not the one this version of digest needs."""


class ConfigError(DigestError):
    """A setting is wrong or names something that cannot be reached.

    Each line of the message names one ``DIGEST_...`` variable and what is wrong with it.
    """


# --- the outside world: sources ---------------------------------------------------------------


class FetchError(DigestError):
    """A source could not be fetched; the message names the URL and what went wrong.

    `retry_after` is the server's Retry-After header (429/503), if it sent one."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class FeedError(DigestError):
    """A body is not a readable feed or article; the message says why."""


# --- the outside world: mail servers ----------------------------------------------------------


class MailError(DigestError):
    pass


class TemporaryError(MailError):
    """Worth trying again later: a 4xx, a lost connection, a timeout."""


class RateLimited(TemporaryError):
    """Every server is at its limit for longer than a batch should wait."""

    def __init__(self, message: str, until: datetime) -> None:
        super().__init__(message)
        self.until = until


class PermanentError(MailError):
    """Will not get better by waiting: a 5xx, a message no server can take."""


class Bounced(PermanentError):
    """The recipient's server refused the copy for good (5xx to RCPT or DATA)."""


class SoftBounce(TemporaryError):
    """The recipient's server refused the copy for now (4xx to RCPT or DATA)."""


class TransportDown(TemporaryError):
    """The server cannot be reached at all: the copies after this one need not try."""
