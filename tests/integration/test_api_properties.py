"""Property-based: whatever JSON or query a client sends the API, the answer is never a 500
(on SQLite and on PostgreSQL, which refuses NUL characters SQLite stores)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.config import Settings

ROOT = Path(__file__).resolve().parents[2]
BEARER = {"Authorization": "Bearer property-token"}

FIELDS = [
    "url",
    "name",
    "topics",
    "paused",
    "email",
    "status",
    "frequency",
    "weekday",
    "day_of_month",
    "hour",
    "timezone",
    "topic",
    "as",
    "events",
    "secret",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "daily",
            "weekly",
            "last",
            "friday",
            "UTC",
            "confirmed",
            "a@example.org",
            "https://example.org/feed.xml",
            "send.finished",
            "\x00",
            "Europe/Paris",
        ]
    ),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.dictionaries(st.text(max_size=5), scalars, max_size=2),
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=6),
    st.lists(scalars, max_size=3),
    scalars,
)
OPERATIONS = [
    ("POST", "/api/v1/sources"),
    ("PATCH", "/api/v1/sources/1"),
    ("POST", "/api/v1/subscribers"),
    ("PATCH", "/api/v1/subscribers/1"),
    ("POST", "/api/v1/sends"),
    ("POST", "/api/v1/test-sends"),
    ("POST", "/api/v1/webhooks"),
]
QUERIES = ["/api/v1/subscribers", "/api/v1/sources", "/api/v1/deliveries", "/api/v1/preview"]
params = st.dictionaries(
    st.sampled_from(["q", "status", "topic", "limit", "offset", "send_id", "subscriber"]),
    st.one_of(st.text(max_size=30), st.integers(min_value=-(2**40), max_value=2**40).map(str)),
    max_size=4,
)


@pytest.fixture
def client(migrated_database_url: str, tmp_path: Path) -> TestClient:
    from digest.web import create_app

    app_settings = Settings(
        database_url=migrated_database_url,
        admin_token="property-token",
        templates_dir=ROOT / "templates",
        outbox_dir=tmp_path / "outbox",
    )
    client = TestClient(create_app(app_settings))
    # Something to change: one source and one subscriber with id 1.
    client.post(
        "/api/v1/sources",
        json={"url": "https://example.org/feed.xml", "topics": ["city"]},
        headers=BEARER,
    )
    client.post("/api/v1/subscribers", json={"email": "one@example.org"}, headers=BEARER)
    return client


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operation=st.sampled_from(OPERATIONS), body=bodies)
def test_no_body_gets_a_500(client: TestClient, operation: tuple[str, str], body: Any) -> None:
    method, path = operation
    answer = client.request(method, path, json=body, headers=BEARER)
    assert answer.status_code < 500, (method, path, body, answer.text)
    if answer.status_code in (400, 422):
        assert answer.json()["error"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(QUERIES), query=params)
def test_no_query_gets_a_500(client: TestClient, path: str, query: dict[str, str]) -> None:
    answer = client.get(path, params=query, headers=BEARER)
    assert answer.status_code < 500, (path, query, answer.text)
