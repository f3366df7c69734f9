"""Topics as rows: names normalized and shared, each subscriber's sources chosen in SQL, an
edition's articles in digest order, and what removing a source leaves behind.

Every test takes `database_url`, a fresh empty database (SQLite, and PostgreSQL where the
shared conftest provides one).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from digest import pipeline
from digest.config import Settings
from digest.core.vocabulary import utcnow
from digest.mail import transport_from_url
from digest.pipeline.plan import allowed_sources, new_articles
from digest.services.sources import add_source, remove_source
from digest.services.subscribers import add_subscriber
from digest.store import db, schema
from digest.store.models import (
    Article,
    Delivery,
    Edition,
    EditionArticle,
    Source,
    Subscriber,
    Topic,
    source_topics,
)
from digest.store.topics import topics_named

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def url(database_url: str) -> str:
    schema.upgrade(database_url)
    return database_url


@pytest.fixture
def settings(url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=url,
        outbox_dir=tmp_path / "outbox",
        base_url="https://news.example.org",
        secret_key="test-secret",
        DIGEST_FROM="Digest <digest@news.example.org>",
        templates_dir=ROOT / "templates",
    )


# Source name -> its topics, as an admin might type them.
SOURCES = {
    "harbour": ["Harbour"],
    "culture": ["culture", "  Events "],
    "both": ["harbour", "CULTURE"],
    "none": [],
}


def add_sources_with_articles(url: str) -> dict[str, tuple[int, int]]:
    """One source per entry of SOURCES with one fresh article each: name -> (source, article)."""
    now = utcnow()
    ids: dict[str, tuple[int, int]] = {}
    with db.session_scope(url) as session:
        for name, topics in SOURCES.items():
            source = add_source(
                session, f"https://{name}.example.org/feed", name=name, topics=topics
            )
            article = Article(
                source_id=source.id,
                key=name,
                link=f"https://{name}.example.org/1",
                title=f"News from {name}",
                summary=f"News from {name}.",
                first_seen_at=now - timedelta(hours=len(ids) + 1),
            )
            session.add(article)
            session.flush()
            ids[name] = (source.id, article.id)
    return ids


def subscribe(url: str, email: str, topics: list[str], *, new_topics: bool = False) -> int:
    with db.session_scope(url) as session:
        return add_subscriber(
            session, email, confirmed=True, topics=topics, new_topics=new_topics
        ).id


def test_topic_names_are_normalized_and_stored_once(url: str) -> None:
    add_sources_with_articles(url)
    subscribe(url, "ann@example.org", [" HARBOUR ", "Events", "harbour"])
    with db.session_scope(url) as session:
        assert list(session.scalars(select(Topic.name).order_by(Topic.name))) == [
            "culture",
            "events",
            "harbour",
        ]
        both = session.scalars(select(Source).where(Source.name == "both")).one()
        assert both.topic_names == ["culture", "harbour"]
        ann = session.scalars(select(Subscriber)).one()
        assert ann.topic_names == ["events", "harbour"]
        # Asking again for known names adds nothing.
        assert [t.name for t in topics_named(session, ["Culture", "culture "])] == ["culture"]
        assert session.scalar(select(func.count()).select_from(Topic)) == 3


def test_each_subscriber_gets_the_sources_sharing_a_topic(url: str, settings: Settings) -> None:
    ids = add_sources_with_articles(url)
    everyone = subscribe(url, "all@example.org", [])
    harbour = subscribe(url, "harbour@example.org", ["  Harbour"])
    two = subscribe(url, "two@example.org", ["harbour", "EVENTS"])
    # A topic no source has (any longer): made on purpose, it brings nothing.
    nothing = subscribe(url, "gardens@example.org", ["gardening"], new_topics=True)
    source = {name: pair[0] for name, pair in ids.items()}
    article = {name: pair[1] for name, pair in ids.items()}

    with db.session_scope(url) as session:
        allowed = allowed_sources(session, [everyone, harbour, two, nothing])
        assert allowed == {
            everyone: None,  # no topics: every source, the one without a topic too
            harbour: frozenset({source["harbour"], source["both"]}),
            two: frozenset({source["harbour"], source["both"], source["culture"]}),
            nothing: frozenset(),
        }
        subscribers = list(session.scalars(select(Subscriber).order_by(Subscriber.id)))
        new = new_articles(session, subscribers, settings, utcnow())

    def newest_first(*names: str) -> tuple[int, ...]:
        return tuple(sorted((article[n] for n in names), reverse=True))

    assert new == {
        everyone: newest_first("harbour", "culture", "both", "none"),
        harbour: newest_first("harbour", "both"),
        two: newest_first("harbour", "culture", "both"),
        nothing: (),
    }


def test_allowed_sources_reads_many_subscribers_in_chunks(url: str) -> None:
    ids = add_sources_with_articles(url)
    subscribers = [
        subscribe(url, f"r{i}@example.org", ["culture"] if i % 2 else []) for i in range(5)
    ]
    with db.session_scope(url) as session:
        allowed = allowed_sources(session, subscribers, size=2)  # three chunks, one short
    culture = frozenset({ids["culture"][0], ids["both"][0]})
    assert allowed == {s: culture if i % 2 else None for i, s in enumerate(subscribers)}


def test_an_edition_keeps_its_articles_in_digest_order(url: str, settings: Settings) -> None:
    ids = add_sources_with_articles(url)
    subscribe(url, "all@example.org", [])
    plan = pipeline.plan_send(settings, kind="now")
    with db.session_scope(url) as session:
        edition = session.scalars(select(Edition)).one()
        # Newest first: the articles were first seen one hour apart, in SOURCES' order.
        assert edition.article_ids == [ids[name][1] for name in SOURCES]
        assert [e.position for e in edition.entries] == [0, 1, 2, 3]
        assert pipeline.editions.content_key(edition.article_ids) == edition.content_key
    transport = transport_from_url(None, settings.outbox_dir)
    report = pipeline.deliver_in_process(settings, plan.delivery_ids, transport)
    assert report.sent == 1
    with db.session_scope(url) as session:
        reader = session.scalars(select(Subscriber)).one()
        assert reader.last_article_id == max(article for _, article in ids.values())


def test_removing_a_source_drops_its_links_and_edition_rows_not_the_edition(
    url: str, settings: Settings
) -> None:
    ids = add_sources_with_articles(url)
    subscribe(url, "all@example.org", [])
    pipeline.plan_send(settings, kind="now")
    with db.session_scope(url) as session:
        remove_source(session, str(ids["both"][0]))
    with db.session_scope(url) as session:
        edition = session.scalars(select(Edition)).one()
        assert edition.article_ids == [ids[name][1] for name in ("harbour", "culture", "none")]
        assert "News from both" in edition.html  # what was sent stays as it was
        linked = session.scalars(select(source_topics.c.source_id).distinct())
        assert ids["both"][0] not in set(linked)
        # The topics stay, for the sources and subscribers still using them.
        assert session.scalar(select(func.count()).select_from(Topic)) == 3
        assert session.scalar(select(func.count()).select_from(EditionArticle)) == 3


STRIKE = (
    "Train drivers at Norland Railways will strike for 48 hours next week after talks on "
    "rosters and overtime pay collapsed, the drivers' union said on Monday."
)


def test_read_also_and_latest_come_from_the_readers_topics(url: str, settings: Settings) -> None:
    """A reader of `world` gets "Read also" and "Latest" of world's sources only; a reader
    of no topic, of every source. Both get the same new article, in editions of their own."""
    now = utcnow()
    with db.session_scope(url) as session:
        sources = {
            name: add_source(session, f"https://{name}.example.org/feed", name=name, topics=topics)
            for name, topics in {
                "world": ["world"],
                "city": ["city"],
                "tech": ["tech"],
                "plain": [],
            }.items()
        }

        def add(source: str, key: str, days: float, body: str = "") -> None:
            session.add(
                Article(
                    source_id=sources[source].id,
                    key=key,
                    link=f"https://{source}.example.org/{key}",
                    title=key.replace("-", " ").capitalize(),
                    summary=body[:80],
                    body_text=body,
                    published_at=now - timedelta(days=days),
                    first_seen_at=now - timedelta(days=days),
                )
            )
            session.flush()

        # Older than a first digest reaches back: never new, only "Read also" or "Latest".
        add("world", "world-drivers-vote-to-strike", 10, STRIKE)
        add("world", "world-summit-ends", 11)
        add("city", "city-drivers-strike-warning", 9, STRIKE.replace("Monday", "Sunday"))
        add("city", "city-council-meets", 9)
        add("tech", "tech-phone-launch", 8)
        add("plain", "plain-about-page", 8)
        add("world", "world-rail-strike-next-week", 0.1, STRIKE.replace("Monday", "Tuesday"))
    world = subscribe(url, "world@example.org", ["world"])
    everyone = subscribe(url, "all@example.org", [])

    plan = pipeline.plan_send(settings, kind="now")
    assert plan.planned == 2
    with db.session_scope(url) as session:
        html = {
            d.subscriber_id: d.edition.html
            for d in session.scalars(select(Delivery).where(Delivery.send_id == plan.send_id))
        }
    assert set(html) == {world, everyone}
    assert html[world] != html[everyone]
    for title in ("World drivers vote to strike", "World summit ends"):
        assert title in html[world] and title in html[everyone]
    for title in (
        "City drivers strike warning",
        "City council meets",
        "Tech phone launch",
        "Plain about page",
    ):
        assert title not in html[world]
    assert "City drivers strike warning" in html[everyone]  # "Read also" of any source
    assert "Tech phone launch" in html[everyone]  # and "Latest" of any source

    # The preview of the world reader says the same.
    previewed = pipeline.preview(settings, email="world@example.org")
    assert previewed is not None
    assert "World summit ends" in previewed[1]
    assert "City" not in previewed[1] and "Tech phone" not in previewed[1]
