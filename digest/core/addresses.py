"""Email addresses as people type them, in the one form they are stored and compared in."""

from __future__ import annotations

from digest.errors import InvalidInput


def normalize_email(address: str) -> str:
    """The canonical form of an address, or InvalidInput saying why it is not one."""
    # Loaded on first use: its patterns cost every command 20 ms, and a send reads none.
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"{address!r} is not a valid email address: {exc}") from None
    # An IDN domain is kept in its ASCII (punycode) form: a Unicode domain cannot go in a
    # To header or RCPT TO without SMTPUTF8, and Python would emit an encoded-word there.
    return (result.ascii_email or result.normalized).lower()
