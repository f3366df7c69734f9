"""The web's answer to each error of `digest.errors`, told apart by type alone.

Pages: NotFound is a 404, any other error a 400. The API: InvalidField a 422 naming its
field, FieldErrors a 422 naming each, NotFound a 404, AlreadyExists a 409, any other
InvalidInput a 400, the rest a 503 (the deployment cannot do it now: a feed that cannot
be fetched, a mail server that refuses).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from digest.errors import (
    AlreadyExists,
    DigestError,
    FieldErrors,
    InvalidField,
    InvalidInput,
    NotFound,
)


def page_status(exc: DigestError) -> int:
    """The status of an HTML page that says what went wrong."""
    return 404 if isinstance(exc, NotFound) else 400


def api_status(exc: DigestError) -> int:
    if isinstance(exc, InvalidField | FieldErrors):
        return 422
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, AlreadyExists):
        return 409
    if isinstance(exc, InvalidInput):
        return 400
    return 503


def error_body(message: str, field: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return body


def api_error(exc: DigestError) -> JSONResponse:
    """The API's JSON answer: `error`, and `field` (FieldErrors: the first field, and
    `errors` with every field and its message)."""
    body: dict[str, Any]
    if isinstance(exc, InvalidField):
        body = error_body(str(exc), exc.field)
    elif isinstance(exc, FieldErrors):
        body = error_body(str(exc), next(iter(exc.errors), None))
        body["errors"] = [{"field": f, "error": e} for f, e in exc.errors.items()]
    else:
        body = error_body(str(exc))
    return JSONResponse(body, status_code=api_status(exc))


def as_field(field: str, exc: DigestError) -> InvalidField:
    """The error as one of `field` (the value given there was refused)."""
    return exc if isinstance(exc, InvalidField) else InvalidField(field, str(exc))


def bounce_status(exc: DigestError) -> int | None:
    """The incoming bounce hook's status for an error: a message that is no DSN is a 400, a
    DSN for no copy we sent a 422; None for the others (they are the server's)."""
    if isinstance(exc, InvalidInput):
        return 400
    if isinstance(exc, NotFound):
        return 422
    return None
