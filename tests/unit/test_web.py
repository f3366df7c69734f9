"""The public web pages: health, unsubscribe (RFC 8058 one-click and the button), preferences."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from digest.config import Settings
from digest.core.links import PREFERENCES, UNSUBSCRIBE, make_token
from digest.core.vocabulary import SubscriberStatus
from digest.services.sources import add_source
from digest.services.subscribers import add_subscriber
from digest.store import db, schema
from digest.store.models import Subscriber

ROOT = Path(__file__).resolve().parents[2]
SECRET = "web-test-secret"


@pytest.fixture
def settings(database_url: str) -> Settings:
    s = Settings(
        database_url=database_url,
        secret_key=SECRET,
        templates_dir=ROOT / "templates",
        list_name="Harbour News",
    )
    schema.upgrade(s.database_url)
    return s


@pytest.fixture
def client(settings: Settings) -> TestClient:
    from digest.web import create_app

    return TestClient(create_app(settings))


@pytest.fixture
def subscriber_id(settings: Settings) -> int:
    with db.session_scope(settings.database_url) as session:
        add_source(session, "https://harbour.example.org/feed", topics=["harbour"])
        return add_subscriber(session, "reader@example.org", confirmed=True, topics=["harbour"]).id


def status_of(settings: Settings, subscriber_id: int) -> str:
    with db.session_scope(settings.database_url) as session:
        sub = session.get(Subscriber, subscriber_id)
        assert sub is not None
        return sub.status


def test_health_reports_the_database(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_health_fails_when_the_database_is_unreachable(tmp_path: Path, kind: str) -> None:
    from digest.web import create_app

    with socket.socket() as s:  # a loopback port nobody listens on once it is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = {
        "sqlite": f"sqlite:///{tmp_path}/no/such/dir/x.db",
        "postgresql": f"postgresql+psycopg://digest@127.0.0.1:{port}/digest?connect_timeout=5",
    }[kind]
    broken = Settings(database_url=url, templates_dir=ROOT / "templates")
    response = TestClient(create_app(broken)).get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable"}


def test_one_click_post_unsubscribes_at_once(client, settings, subscriber_id) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    token = make_token(SECRET, UNSUBSCRIBE, subscriber_id)
    response = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "reader@example.org" in response.text
    assert status_of(settings, subscriber_id) == SubscriberStatus.UNSUBSCRIBED
    # A second click (mail clients retry) is fine and changes nothing.
    assert (
        client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code
        == 200
    )


def test_get_shows_a_button_and_does_not_unsubscribe(client, settings, subscriber_id) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    token = make_token(SECRET, UNSUBSCRIBE, subscriber_id)
    response = client.get(f"/unsubscribe/{token}")
    assert response.status_code == 200
    assert '<form method="post">' in response.text and "Unsubscribe" in response.text
    assert status_of(settings, subscriber_id) == SubscriberStatus.CONFIRMED
    # The page's button posts an empty form to the same URL.
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    assert status_of(settings, subscriber_id) == SubscriberStatus.UNSUBSCRIBED


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        make_token("another-secret", UNSUBSCRIBE, 1),
        make_token(SECRET, PREFERENCES, 1),  # right key, wrong purpose
    ],
)
def test_a_bad_token_gets_400_and_changes_nothing(client, settings, subscriber_id, token) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    assert (
        client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code
        == 400
    )
    assert client.get(f"/unsubscribe/{token}").status_code == 400
    assert status_of(settings, subscriber_id) == SubscriberStatus.CONFIRMED


def test_a_tampered_token_gets_400(client, settings, subscriber_id) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    token = make_token(SECRET, UNSUBSCRIBE, subscriber_id)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.post(f"/unsubscribe/{tampered}").status_code == 400
    assert status_of(settings, subscriber_id) == SubscriberStatus.CONFIRMED


def test_preferences_page_shows_the_subscription(client, subscriber_id) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    response = client.get(f"/preferences/{make_token(SECRET, PREFERENCES, subscriber_id)}")
    assert response.status_code == 200
    assert "reader@example.org" in response.text and "harbour" in response.text
    assert (
        client.get(f"/preferences/{make_token(SECRET, UNSUBSCRIBE, subscriber_id)}").status_code
        == 400
    )


def test_settings_warn_about_defaults_that_are_wrong_in_public() -> None:
    assert Settings(base_url="http://localhost:8000").warnings() == []
    public = Settings(base_url="http://news.example.org")
    assert [w.split(" ")[0] for w in public.warnings()] == ["DIGEST_SECRET_KEY", "DIGEST_BASE_URL"]
    assert Settings(base_url="https://news.example.org", secret_key="s3cret").warnings() == []


def test_the_archive_says_which_topics_each_edition_holds(
    settings: Settings, client: TestClient
) -> None:
    # Two editions of one day share their subject; the list tells them apart by topic.
    from datetime import UTC, datetime

    from digest.pipeline.editions import get_or_create_edition
    from digest.store.models import Article

    now = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    with db.session_scope(settings.database_url) as session:
        world = add_source(session, "https://world.example.org/feed", topics=["world"])
        city = add_source(session, "https://city.example.org/feed", topics=["city", "culture"])
        plain = add_source(session, "https://plain.example.org/feed")
        ids = {}
        for source, key in ((world, "w"), (city, "c"), (plain, "p")):
            article = Article(
                source_id=source.id,
                key=key,
                link=f"https://example.org/{key}",
                title="Harbour reopens",
                summary="",
                published_at=now,
                first_seen_at=now,
            )
            session.add(article)
            session.flush()
            ids[key] = article.id
        one = get_or_create_edition(session, [ids["w"]], settings, now)
        two = get_or_create_edition(session, [ids["c"], ids["p"]], settings, now)
        assert one.subject == two.subject
        one_id, two_id = one.id, two.id
    page = client.get("/archive")
    assert page.status_code == 200
    entries = page.text.split("<li>")[1:]
    by_id = {i: next(e for e in entries if f'href="/archive/{i}"' in e) for i in (one_id, two_id)}
    assert "topics: world" in by_id[one_id] and "city" not in by_id[one_id]
    assert "topics: city, culture, and sources without a topic" in by_id[two_id]
    assert "world" not in by_id[two_id]
