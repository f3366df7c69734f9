"""Errors a user can act on; the CLI and the web print their message without a traceback."""


class DigestError(Exception):
    """Base class: the message says what went wrong and what to do."""


class InvalidInput(DigestError):
    pass


class NotFound(DigestError):
    pass


class AlreadyExists(DigestError):
    pass


class SchemaOutOfDate(DigestError):
    """The database has no schema, or not the one this version of digest needs."""


class ConfigError(DigestError):
    """A setting is wrong or names something that cannot be reached.

    Each line of the message names one ``DIGEST_...`` variable and what is wrong with it.
    """


class InvalidField(InvalidInput):
    """A bad value in one named field (a form field, a CSV column): `field` says which, so
    a form can show the message at that field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message
