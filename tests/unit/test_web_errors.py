"""The web tells errors apart by their type alone, whatever their message says."""

from __future__ import annotations

import json

import pytest

from digest.errors import (
    AlreadyExists,
    BadUrl,
    DigestError,
    FetchError,
    FieldErrors,
    InvalidField,
    InvalidInput,
    NotFound,
)
from digest.web.errors import api_error, api_status, bounce_status, page_status


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (InvalidField("topics", "no source found"), 422),
        (FieldErrors({"hour": "bad", "timezone": "unknown"}), 422),
        (NotFound("no topic here"), 404),
        (AlreadyExists("not found twice"), 409),
        (BadUrl("a topic URL"), 400),
        (InvalidInput("not found"), 400),
        (FetchError("https://example.org/feed.xml: timed out"), 503),
    ],
)
def test_api_status_by_type(exc: DigestError, status: int) -> None:
    assert api_status(exc) == status


def test_api_error_bodies_name_the_fields() -> None:
    one = api_error(InvalidField("url", "at most 2000 characters"))
    assert json.loads(one.body) == {"error": "url: at most 2000 characters", "field": "url"}
    many = json.loads(api_error(FieldErrors({"hour": "bad", "timezone": "unknown"})).body)
    assert many["field"] == "hour"
    assert many["errors"] == [
        {"field": "hour", "error": "bad"},
        {"field": "timezone", "error": "unknown"},
    ]
    assert json.loads(api_error(NotFound("no source 3")).body) == {"error": "no source 3"}


def test_pages_and_the_bounce_hook() -> None:
    assert page_status(NotFound("x")) == 404
    assert page_status(InvalidField("status", "NotFound")) == 400
    assert bounce_status(InvalidInput("not a DSN")) == 400
    assert bounce_status(NotFound("no such copy")) == 422
    assert bounce_status(AlreadyExists("x")) is None
