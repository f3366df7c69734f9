"""Which articles an edition shows: newest by publication date, undated after dated, each
source its share, "and N more" to the archive; a first digest by publication date; "Latest"
only dated articles not shown; "Read also" never an item of the same email.

`choose_items` is pure; the rest runs on a fresh database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.config import Settings, load_settings
from digest.core.items import Candidate, choose_items
from digest.errors import ConfigError
from digest.pipeline.editions import edition_content, get_or_create_edition, render_subject
from digest.pipeline.plan import new_articles
from digest.services.subscribers import add_subscriber
from digest.store import db, schema
from digest.store.models import Article, Edition, Source

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


class TestChooseItems:
    def test_newest_by_publication_date_not_by_storage_order(self) -> None:
        # Source 2 was gathered last (higher ids) but its articles are older.
        candidates = [
            Candidate(1, 1, ago(1), ago(0.5)),
            Candidate(2, 1, ago(2), ago(0.5)),
            Candidate(3, 2, ago(30), ago(0.1)),
            Candidate(4, 2, ago(40), ago(0.1)),
        ]
        assert choose_items(candidates, 4) == ([1, 2, 3, 4], [])

    def test_undated_articles_come_after_dated_ones(self) -> None:
        candidates = [
            Candidate(1, 1, None, ago(0)),  # an old page without a date, seen just now
            Candidate(2, 1, ago(50), ago(0)),
            Candidate(3, 1, ago(5), ago(0)),
        ]
        assert choose_items(candidates, 2) == ([3, 2], [1])

    def test_a_date_after_first_seen_counts_as_first_seen(self) -> None:
        candidates = [
            Candidate(1, 1, NOW + timedelta(days=300), ago(10)),  # a feed's wrong date
            Candidate(2, 1, ago(1), ago(1)),
        ]
        assert choose_items(candidates, 1) == ([2], [1])

    def test_one_busy_source_cannot_crowd_out_the_others(self) -> None:
        busy = [Candidate(i, 1, ago(i), ago(0)) for i in range(1, 11)]  # all newer
        quiet = [Candidate(100 + i, 2, ago(20 + i), ago(0)) for i in range(1, 3)]
        third = [Candidate(200, 3, ago(48), ago(0))]
        shown, left_out = choose_items([*busy, *quiet, *third], 6)
        assert shown == [1, 2, 3, 101, 102, 200]  # 2 each, newest first
        assert len(left_out) == 7 and left_out[0] == 4

    def test_places_a_quiet_source_leaves_go_to_the_newest_of_the_rest(self) -> None:
        busy = [Candidate(i, 1, ago(i), ago(0)) for i in range(1, 11)]
        quiet = [Candidate(100, 2, ago(30), ago(0))]
        shown, left_out = choose_items([*busy, *quiet], 5)
        assert shown == [1, 2, 3, 4, 100]
        assert left_out == [5, 6, 7, 8, 9, 10]

    def test_nothing_or_no_room(self) -> None:
        assert choose_items([], 5) == ([], [])
        assert choose_items([Candidate(1, 1, None, NOW)], 0) == ([], [1])


# --- over the database ----------------------------------------------------------------------


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    schema.upgrade(database_url)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]  # pydantic-settings' own argument
        database_url=database_url,
        outbox_dir=tmp_path / "outbox",
        base_url="https://news.example.org/",
        secret_key="test-secret",
        templates_dir=ROOT / "templates",
        max_articles=3,
        first_digest_days=7,
    )


def add_article(
    session: Session,
    source: Source,
    key: str,
    *,
    published: datetime | None,
    seen: datetime = NOW,
    body: str = "",
    language: str | None = "en",
) -> Article:
    article = Article(
        source_id=source.id,
        key=key,
        link=f"https://{source.name}.example.org/{key}",
        title=key.replace("-", " ").capitalize(),
        published_at=published,
        first_seen_at=seen,
        body_text=body,
        summary=body[:80],
        language=language,
        image_url=f"https://img.example.org/{key}.jpg",
    )
    session.add(article)
    session.flush()
    return article


def test_first_digest_reaches_back_by_publication_date(settings: Settings) -> None:
    with db.session_scope(settings.database_url) as session:
        source = Source(name="gazette", url="https://gazette.example.org/feed")
        session.add(source)
        session.flush()
        recent = add_article(session, source, "recent", published=ago(24 * 3))
        old = add_article(session, source, "old-but-just-gathered", published=ago(24 * 30))
        undated = add_article(session, source, "undated-seen-now", published=None)
        stale = add_article(session, source, "undated-seen-long-ago", published=None,
                            seen=ago(24 * 10))  # fmt: skip
        sub = add_subscriber(session, "new@example.org", confirmed=True)
        session.flush()
        new = new_articles(session, [sub], settings, NOW)[sub.id]
        assert set(new) == {recent.id, undated.id}
        assert old.id not in new and stale.id not in new


def test_edition_shows_the_choice_counts_the_rest_and_links_the_archive(
    settings: Settings,
) -> None:
    with db.session_scope(settings.database_url) as session:
        busy = Source(name="busy", url="https://busy.example.org/feed")
        quiet = Source(name="quiet", url="https://quiet.example.org/feed")
        session.add_all([busy, quiet])
        session.flush()
        q = add_article(session, quiet, "quiet-story", published=ago(30), language="ar")
        b = [add_article(session, busy, f"busy-{i}", published=ago(i)) for i in range(1, 5)]
        undated = add_article(session, busy, "about-us", published=None)
        ids = [q.id, *(a.id for a in b), undated.id]

        edition = get_or_create_edition(session, ids, settings, NOW)
        # Busy's two newest and the quiet source's one; the rest is "and 3 more".
        assert edition.subject == "Digest, 10 Mar 2026: Busy 1"  # the top of the choice
        assert edition.article_ids == [b[0].id, b[1].id, q.id, b[2].id, b[3].id, undated.id]
        archive = f"https://news.example.org/archive/{edition.id}"
        assert re.search(rf'<a [^>]*href="{re.escape(archive)}"', edition.html)
        assert "And 3 more articles in this edition." in edition.html
        assert "And 3 more articles in this edition." in edition.text
        assert f"Read the full edition on the web: {archive}" in edition.text
        assert "About us" not in edition.html.split("And 3 more")[0]

        content = edition_content(session, ids, settings, NOW)
        assert [i.title for i in content.items] == ["Busy 1", "Busy 2", "Quiet story"]
        assert content.items[2].language == "ar"
        assert content.items[2].image_url == "https://img.example.org/quiet-story.jpg"
        assert content.more == 3
        assert render_subject(session, ids, settings, NOW) == edition.subject

        # The same set again is the same edition, rendered once.
        assert get_or_create_edition(session, ids, settings, NOW).id == edition.id
        assert len(list(session.scalars(select(Edition)))) == 1


def test_no_more_line_when_everything_fits(settings: Settings) -> None:
    with db.session_scope(settings.database_url) as session:
        source = Source(name="gazette", url="https://gazette.example.org/feed")
        session.add(source)
        session.flush()
        ids = [add_article(session, source, f"story-{i}", published=ago(i)).id for i in (1, 2)]
        content = edition_content(session, ids, settings, NOW, more_url="https://x.example/a")
        assert content.more == 0 and content.more_url is None
        edition = get_or_create_edition(session, ids, settings, NOW)
        assert "more</a>" not in edition.html and "archive/" not in edition.text


def test_latest_is_only_dated_articles_not_shown(settings: Settings) -> None:
    with db.session_scope(settings.database_url) as session:
        source = Source(name="gazette", url="https://gazette.example.org/feed")
        session.add(source)
        session.flush()
        older = [
            add_article(session, source, f"earlier-{i}", published=ago(100 + i), seen=ago(99))
            for i in range(3)
        ]
        add_article(session, source, "contact-page", published=None, seen=ago(1))
        add_article(session, source, "wrong-date", published=NOW + timedelta(days=400))
        item = add_article(session, source, "today", published=ago(1))
        content = edition_content(session, [item.id], settings, NOW)
        titles = [link.title for link in content.latest]
        assert titles == [a.title for a in older]
        assert "Contact page" not in titles and "Today" not in titles
        assert "Wrong date" not in titles


def test_read_also_never_links_an_item_of_the_same_email(settings: Settings) -> None:
    body = (
        "Train drivers at Norland Railways will strike for 48 hours next week after talks on "
        "rosters and overtime pay collapsed, the drivers' union said on Monday."
    )
    with db.session_scope(settings.database_url) as session:
        source = Source(name="gazette", url="https://gazette.example.org/feed")
        session.add(source)
        session.flush()
        earlier = add_article(session, source, "norland-drivers-vote-to-strike",
                              published=ago(48), seen=ago(47), body=body)  # fmt: skip
        first = add_article(session, source, "norland-rail-strike-next-week",
                            published=ago(5), body=body.replace("Monday", "Tuesday"))  # fmt: skip
        second = add_article(session, source, "norland-railways-strike-confirmed",
                             published=ago(3), body=body.replace("Monday", "Friday"))  # fmt: skip
        content = edition_content(session, [first.id, second.id], settings, NOW)
        for item in content.items:
            assert [link.title for link in item.read_also] == [earlier.title]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DIGEST_MAX_ARTICLES", "0"),
        ("DIGEST_FIRST_DIGEST_DAYS", "-1"),
        ("DIGEST_SUMMARY_SENTENCES", "0"),
        ("DIGEST_SUMMARY_WORDS", "5"),
        ("DIGEST_SUMMARY_WORDS", "sixty"),
    ],
)
def test_bad_content_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).startswith(f"{variable}: ")


def test_subscriber_last_article_covers_the_ones_left_out(settings: Settings) -> None:
    # Every candidate is stored with the edition, so the high-water mark passes them all
    # and nobody gets a left-out article in the next digest.
    with db.session_scope(settings.database_url) as session:
        source = Source(name="gazette", url="https://gazette.example.org/feed")
        session.add(source)
        session.flush()
        ids = [add_article(session, source, f"s-{i}", published=ago(i)).id for i in range(6)]
        edition = get_or_create_edition(session, ids, settings, NOW)
        assert sorted(edition.article_ids) == sorted(ids)
