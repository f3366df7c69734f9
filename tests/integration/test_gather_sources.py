"""Gathering what real sites send, against a real HTTP server on loopback, stored in SQLite
and PostgreSQL: full text for teasers, conditional GET, backoff, robots.txt, discovery,
section pages, and one source's bad answer recorded on that source alone."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from gather_pages import (
    LOREM,
    article_page,
    card_section_page,
    linked_article_page,
    rss,
    section_page,
)
from sqlalchemy import select
from web_site import Site, serve_site

from digest import pipeline
from digest.config import Settings
from digest.gather import FeedEntry
from digest.services.sources import add_source, source_listing
from digest.store import db
from digest.store.models import Article, Source

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve_site() as served:
        yield served


@pytest.fixture
def web(site: Site) -> Site:
    site.reset()
    return site


@pytest.fixture
def settings(migrated_database_url: str) -> Settings:
    return Settings(
        database_url=migrated_database_url,
        base_url="https://digest.example.org",
        fetch_timeout=1.5,
        fetch_max_bytes=300_000,
        gather_backoff_base=60,
    )


def add(settings: Settings, url: str, **options: object) -> int:
    paused = options.pop("paused", False)
    with db.session_scope(settings.database_url) as session:
        source = add_source(session, url, **options)  # type: ignore[arg-type]  # keyword arguments from a dict
        source.paused = bool(paused)
        return source.id


def gather(settings: Settings, now: datetime = NOW) -> dict[int, pipeline.GatherResult]:
    return {r.source_id: r for r in pipeline.gather_all(settings, now=now)}


def stored(settings: Settings, source_id: int | None = None) -> list[Article]:
    with db.session_scope(settings.database_url) as session:
        query = select(Article).order_by(Article.id)
        if source_id is not None:
            query = query.where(Article.source_id == source_id)
        articles = list(session.scalars(query))
        session.expunge_all()
        return articles


def source_row(settings: Settings, source_id: int) -> Source:
    with db.session_scope(settings.database_url) as session:
        source = session.get(Source, source_id)
        assert source is not None
        session.expunge(source)
        return source


def test_teasers_get_their_page_text_and_undated_entries_the_page_date(
    settings: Settings, web: Site
) -> None:
    base = web.base
    web.add(
        "/ferry",
        article_page(
            "Ferry to run every half hour",
            image="/img/ferry.jpg",
            author="Mara Lind",
            date="2026-02-27T08:30:00+01:00",
        ),
    )
    web.add("/bridge", article_page("Bridge repairs start in March", date="2026-02-20T10:00:00Z"))
    web.add("/market", article_page("Market moves to the quay"))
    feed = rss(
        [
            {
                "title": "Ferry to run every half hour",
                "link": f"{base}/ferry?utm_source=rss",
                "description": "The ferry between the two harbour towns will run…",
                "pubDate": "Fri, 27 Feb 2026 07:30:00 GMT",
            },
            {
                "title": "Bridge repairs start in March",
                "link": f"{base}/bridge",
                "description": "Repairs start soon. Read more",
            },
            {
                "title": "Market moves to the quay",
                "link": f"{base}/market",
                "description": " ".join(LOREM * 2),
                "pubDate": "Thu, 26 Feb 2026 07:30:00 GMT",
            },
        ],
        extra="<language>en-GB</language>",
    )
    auto = add(settings, web.add("/teasers.xml", feed, content_type="application/rss+xml"))
    never = add(
        settings,
        web.add(
            "/teasers-never.xml",
            feed.replace(base, base + "/n"),
            content_type="application/rss+xml",
        ),
        full_text="never",
    )

    results = gather(settings)
    assert results[auto].status == "ok" and results[auto].new == 3
    assert results[auto].full_text == 2
    by_title = {a.title.split()[0]: a for a in stored(settings, auto)}
    ferry, bridge, market = by_title["Ferry"], by_title["Bridge"], by_title["Market"]
    assert ferry.full_text and not ferry.is_teaser
    assert "Skippers say the older of the two boats" in ferry.body_text  # from the page
    assert ferry.link == f"{base}/ferry"  # the tracking parameter is gone
    assert ferry.image_url == f"{base}/img/ferry.jpg"
    assert ferry.author == "Mara Lind"  # the page's, as the feed had none
    assert ferry.language == "en"  # the feed's declaration
    assert ferry.published_at.replace(tzinfo=UTC) == datetime(2026, 2, 27, 7, 30, tzinfo=UTC)
    assert bridge.full_text
    # The feed gave no date: the page's.
    assert bridge.published_at.replace(tzinfo=UTC) == datetime(2026, 2, 20, 10, 0, tzinfo=UTC)
    # A full entry with a date needs no page.
    assert not market.full_text and not web.hits("/market")

    never_articles = stored(settings, never)
    assert len(never_articles) == 3 and not any(a.full_text for a in never_articles)
    assert not web.hits("/n/ferry")


def test_an_unchanged_feed_answers_304_and_costs_nothing(settings: Settings, web: Site) -> None:
    feed = rss(
        [
            {
                "title": "One",
                "link": f"{web.base}/one",
                "guid": "one",
                "description": " ".join(LOREM),
                "pubDate": "Fri, 27 Feb 2026 07:30:00 GMT",
            }
        ]
    )
    url = web.add("/etag.xml", feed, content_type="application/rss+xml", etag='"v7"')
    source_id = add(settings, url)

    first = gather(settings)[source_id]
    assert first.status == "ok" and first.new == 1
    second = gather(settings, NOW + timedelta(minutes=15))[source_id]
    assert second.status == "not modified" and second.new == 0, second

    hits = web.hits("/etag.xml")
    assert "if-none-match" not in hits[0].headers
    assert hits[1].headers["if-none-match"] == '"v7"'
    agent = hits[0].headers["user-agent"]
    assert agent.startswith("digest/") and "https://digest.example.org" in agent
    row = source_row(settings, source_id)
    assert row.not_modified and row.etag == '"v7"' and row.last_error is None
    (listed,) = source_listing(settings)["items"]
    assert listed["not_modified"] is True and listed["kind"] == "feed"


def test_failing_sources_back_off_paused_ones_wait_and_the_rest_go_on(
    settings: Settings, web: Site
) -> None:
    good = add(
        settings,
        web.add(
            "/good.xml",
            rss([{"title": "Fine", "link": f"{web.base}/f", "description": " ".join(LOREM)}]),
            content_type="application/rss+xml",
        ),
    )
    busy = add(
        settings,
        web.add(
            "/busy.xml",
            "slow down",
            content_type="text/plain",
            status=429,
            headers={"Retry-After": "7200"},
        ),
    )
    broken = add(settings, web.add("/broken.xml", "oops", content_type="text/plain", status=500))
    paused = add(
        settings, web.add("/paused.xml", "never asked", content_type="text/plain"), paused=True
    )

    results = gather(settings)
    assert results[good].status == "ok" and results[good].new == 1
    assert results[busy].status == "failed" and "HTTP 429" in (results[busy].error or "")
    assert results[busy].retry_after == (NOW + timedelta(hours=2)).isoformat()
    assert results[broken].status == "failed" and results[broken].retry_after is None
    assert results[paused].status == "skipped" and results[paused].note == "paused"
    assert not web.hits("/paused.xml")

    later = gather(settings, NOW + timedelta(minutes=15))
    assert later[busy].status == "skipped" and "backing off until" in (later[busy].note or "")
    assert len(web.hits("/busy.xml")) == 1
    # The second failure in a row: left alone for the base delay, then twice as long.
    assert later[broken].status == "failed"
    assert later[broken].retry_after == (NOW + timedelta(minutes=16)).isoformat()
    third = gather(settings, NOW + timedelta(minutes=17))
    assert third[broken].retry_after == (NOW + timedelta(minutes=19)).isoformat()
    row = source_row(settings, broken)
    assert row.error_count == 3 and "HTTP 500" in (row.last_error or "")
    listed = {r["id"]: r for r in source_listing(settings)["items"]}
    assert listed[broken]["error_count"] == 3 and listed[broken]["retry_after"] is not None


def test_one_article_under_several_urls_is_stored_once(settings: Settings, web: Site) -> None:
    b = web.base
    text = " ".join(LOREM)
    first = add(
        settings,
        web.add(
            "/a.xml",
            rss(
                [
                    {
                        "title": "Harbour",
                        "guid": "g-1",
                        "link": f"{b}/news/harbour?id=4&utm_medium=social",
                        "description": text,
                    },
                    {
                        "title": "Shared guid",
                        "guid": "same-guid",
                        "link": f"{b}/news/one",
                        "description": text,
                    },
                ]
            ),
            content_type="application/rss+xml",
        ),
    )
    assert gather(settings)[first].new == 2
    host = b.removeprefix("http://")
    second = add(
        settings,
        web.add(
            "/b.xml",
            rss(
                [
                    {
                        "title": "Harbour (AMP)",
                        "guid": "x-9",
                        "link": f"http://www.{host}/news/harbour/amp?id=4",
                        "description": text,
                    },
                    {
                        "title": "Harbour (mobile)",
                        "guid": "x-10",
                        "link": f"https://m.{host}/news/harbour?id=4",
                        "description": text,
                    },
                    {
                        "title": "Shared guid too",
                        "guid": "same-guid",
                        "link": f"{b}/news/two",
                        "description": text,
                    },
                ]
            ),
            content_type="application/rss+xml",
        ),
    )

    results = gather(settings, NOW + timedelta(minutes=15))
    assert results[first].new == 0
    # The same GUID in another source with another link is that source's own entry.
    assert results[second].new == 1 and results[second].seen == 2
    links = sorted(a.link or "" for a in stored(settings))
    assert links == [f"{b}/news/harbour?id=4", f"{b}/news/one", f"{b}/news/two"]


def test_robots_txt_keeps_pages_out(settings: Settings, web: Site) -> None:
    web.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    web.add("/private/story", article_page("A private story"))
    feed = rss(
        [
            {
                "title": "A private story",
                "link": f"{web.base}/private/story",
                "description": "Short…",
                "pubDate": "Fri, 27 Feb 2026 07:30:00 GMT",
            }
        ]
    )
    feed_id = add(settings, web.add("/feed.xml", feed, content_type="application/rss+xml"))
    page_id = add(settings, f"{web.base}/private/story", kind="article")

    results = gather(settings)
    (teaser,) = stored(settings, feed_id)
    assert teaser.is_teaser and not teaser.full_text  # stored from the feed all the same
    assert not web.hits("/private/story")
    assert results[page_id].status == "failed"
    assert "robots.txt" in (results[page_id].error or "")
    assert len(web.hits("/robots.txt")) == 1  # read once per gather


def test_a_home_page_leads_to_its_feed_and_a_section_page_is_followed(
    settings: Settings, web: Site
) -> None:
    b = web.base
    links = [
        (f"/2026/02/story-number-{i}", f"Story number {i} about the harbour") for i in range(6)
    ]
    web.add(
        "/feeds/all.xml",
        rss(
            [{"title": "From the feed", "link": f"{b}/x", "description": " ".join(LOREM)}],
            title="Courier feed",
        ),
        content_type="application/rss+xml",
    )
    home = add(settings, web.add("/", section_page(links, feed="/feeds/all.xml")))
    section = add(settings, web.add("/city", section_page(links[:3])))
    for href, text in links:
        web.add(href, article_page(text, [*LOREM, f"This is {text}."]))

    results = gather(settings)
    assert results[home].kind == "feed" and "found the feed" in (results[home].note or "")
    assert source_row(settings, home).url == f"{b}/feeds/all.xml"
    assert [a.title for a in stored(settings, home)] == ["From the feed"]
    assert results[section].kind == "section" and results[section].new == 3
    assert {a.title for a in stored(settings, section)} == {t for _, t in links[:3]}

    web.add("/city", section_page(links[:4]))
    again = gather(settings, NOW + timedelta(minutes=15))
    assert again[section].new == 1 and again[section].seen == 3
    assert len(web.hits(links[0][0])) == 1  # known articles are not fetched again


def test_each_bad_answer_is_recorded_on_its_source_and_the_rest_go_on(
    settings: Settings, web: Site
) -> None:
    good_feed = rss([{"title": "Still here", "link": f"{web.base}/ok", "description": "x" * 600}])
    cases = {
        "/plain": (dict(body="just words", content_type="text/plain"), "neither a feed nor"),
        "/truncated.xml": (
            dict(body=good_feed, content_type="application/rss+xml", truncate=True),
            "the server broke off the response",
        ),
        "/broken.xml": (
            dict(body="<rss><channel><item><title>unclosed", content_type="application/xml"),
            "the feed ends early",
        ),
        "/gone": (dict(body="gone", content_type="text/plain", status=410), "HTTP 410"),
        "/missing": (dict(body="no", content_type="text/plain", status=404), "HTTP 404"),
        "/error": (dict(body="no", content_type="text/plain", status=500), "HTTP 500"),
        "/slow.xml": (
            dict(body=good_feed, content_type="application/rss+xml", delay=3),
            "timed out",
        ),
        "/huge.xml": (
            dict(body="<rss>" + "x" * 400_000, content_type="application/rss+xml"),
            "larger than 300000 bytes",
        ),
        "/loop": (dict(status=302, headers={"Location": "/loop2"}), "redirect loop"),
        "/loop2": (dict(status=302, headers={"Location": "/loop"}), None),
        "/to-ftp": (
            dict(status=301, headers={"Location": "ftp://127.0.0.1/feed"}),
            "only http and https",
        ),
    }
    ids = {}
    for path, (route, _) in cases.items():
        url = web.add(path, **route)  # type: ignore[arg-type]  # keyword arguments from a dict
        if cases[path][1] is not None:
            ids[path] = add(settings, url)
    good = add(settings, web.add("/fine.xml", good_feed, content_type="application/rss+xml"))

    results = gather(settings)
    assert results[good].status == "ok" and results[good].new == 1
    for path, source_id in ids.items():
        result = results[source_id]
        expected = cases[path][1]
        assert result.status == "failed", path
        assert expected and expected in (result.error or ""), (path, result.error)
        assert expected in (source_row(settings, source_id).last_error or "")


def test_entries_missing_links_titles_dates_or_full_of_hostile_html_are_stored(
    settings: Settings, web: Site
) -> None:
    hostile = (
        '<script>alert(1)</script><img src=x onerror="alert(2)"><iframe src="javascript:x">'
        '</iframe><p style="background:url(javascript:y)">Text that survives the cleaning'
        " of every dangerous part of this entry.</p>"
    )
    items = [
        {
            "description": f"Entry {i}. " + "Words in the body of a bare entry." * 3,
        }
        for i in range(2000)
    ]
    items += [
        {
            "title": f"Hostile {i}",
            "link": f"{web.base}/h{i}",
            "description": hostile,
            "pubDate": "Fri, 27 Feb 2026 07:30:00 GMT",
        }
        for i in range(3)
    ]
    settings = settings.model_copy(update={"fetch_max_bytes": 5_000_000})
    source_id = add(
        settings,
        web.add("/many.xml", rss(items), content_type="application/rss+xml"),
        full_text="never",
    )

    result = gather(settings)[source_id]
    assert result.status == "ok" and result.new == 2003 and result.error is None, result
    articles = stored(settings, source_id)
    bare = [a for a in articles if a.title.startswith("Entry")]
    assert len(bare) == 2000
    assert bare[0].link is None and bare[0].published_at is None
    assert bare[0].first_seen_at.replace(tzinfo=UTC) == NOW  # the date first seen
    hostile_rows = [a for a in articles if a.title.startswith("Hostile")]
    for article in hostile_rows:
        assert "Text that survives" in article.body_text
        for bad in ("<script", "onerror", "javascript:", "<iframe"):
            assert bad not in article.content_html


def test_a_known_feed_answering_with_a_listing_page_stays_a_feed(
    settings: Settings, web: Site
) -> None:
    feed = rss([{"title": "Fine", "link": f"{web.base}/fine", "description": " ".join(LOREM)}])
    url = web.add("/known.xml", feed, content_type="application/rss+xml")
    source_id = add(settings, url)
    assert gather(settings)[source_id].new == 1

    links = [(f"/2026/02/other-story-number-{i}", f"Other story number {i}") for i in range(6)]
    web.add("/known.xml", section_page(links))  # a portal or error page, for once
    result = gather(settings, NOW + timedelta(minutes=15))[source_id]
    assert result.status == "failed" and "expected a feed" in (result.error or "")
    assert source_row(settings, source_id).kind == "feed"
    assert not web.hits(links[0][0])


def test_a_large_gather_is_shared_over_processes_and_reports_every_source(
    settings: Settings, web: Site
) -> None:
    count = pipeline.gather.PROCESSES_FROM + 4
    # Two host names for the one loopback server: each host is gathered by one process.
    other = web.base.replace("127.0.0.1", "localhost")
    for i in range(count):
        item = {"title": f"Item {i}", "link": f"{web.base}/p/{i}", "description": " ".join(LOREM)}
        url = web.add(f"/p/{i}.xml", rss([item]), content_type="application/rss+xml")
        add(settings, url if i % 2 else url.replace(web.base, other))
    web.add("/p/broken.xml", "no", content_type="text/plain", status=500)
    broken = add(settings, f"{web.base}/p/broken.xml")
    seen: list[int] = []
    settings = settings.model_copy(update={"gather_processes": 2})

    def signed(entry: FeedEntry, source_id: int, now: datetime) -> Article:
        article = pipeline.article_from_entry(entry, source_id, now)
        article.author = str(os.getpid())  # which process made it
        return article

    results = pipeline.gather_all(
        settings, now=NOW, on_result=lambda r: seen.append(r.source_id), process=signed
    )
    assert [r.source_id for r in results] == sorted(seen) == list(range(1, count + 2))
    makers = {a.author for a in stored(settings)}
    assert len(makers) == 2 and str(os.getpid()) not in makers
    assert all(r.status == "ok" and r.new == 1 for r in results if r.source_id != broken)
    assert results[-1].status == "failed" and "HTTP 500" in (results[-1].error or "")
    assert len(stored(settings)) == count
    assert source_row(settings, broken).error_count == 1


# --- page kinds ---------------------------------------------------------------------------


def _story_links(count: int, prefix: str = "/2026/03/") -> list[tuple[str, str]]:
    return [
        (f"{prefix}harbour-story-number-{i}", f"Harbour story number {i} told")
        for i in range(count)
    ]


def test_an_article_page_with_many_links_is_an_article(settings: Settings, web: Site) -> None:
    links = _story_links(12)
    plain = add(
        settings,
        web.add(
            "/2026/03/ferry-timetable-agreed", linked_article_page("Ferry timetable agreed", links)
        ),
    )
    json_ld = (
        '{"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Quay reopens"}'
    )
    described = add(
        settings, web.add("/news/quay", linked_article_page("Quay reopens", links, json_ld=json_ld))
    )

    results = gather(settings)
    for source_id, title in ((plain, "Ferry timetable agreed"), (described, "Quay reopens")):
        assert results[source_id].kind == "article", results[source_id]
        assert [a.title for a in stored(settings, source_id)] == [title]
    assert "running text" in (source_row(settings, plain).kind_reason or "")
    assert "JSON-LD says it is a NewsArticle" in (source_row(settings, described).kind_reason or "")
    assert not any(web.hits(href) for href, _ in links)  # no "Read also" link was followed

    # A page source is named after its site, not after its first article's headline.
    named = add(settings, web.add("/2026/03/night-buses", article_page("Night buses return")))
    gather(settings, NOW + timedelta(minutes=15))
    assert source_row(settings, named).name == "Harbour Courier"


def test_a_page_of_headline_cards_is_a_section_and_one_whose_links_fail_says_so(
    settings: Settings, web: Site
) -> None:
    links = _story_links(6)
    section = add(settings, web.add("/harbour", card_section_page(links, "A line of teaser.")))
    for href, text in links:
        web.add(href, article_page(text, [*LOREM, f"This is {text}."]))
    broken_links = _story_links(5, "/2026/04/")
    broken = add(settings, web.add("/quays", card_section_page(broken_links)))  # all answer 404

    results = gather(settings)
    assert results[section].kind == "section" and results[section].new == 6
    assert "linked headlines" in (source_row(settings, section).kind_reason or "")
    assert results[broken].failed and not stored(settings, broken)
    assert "none of the section's new article 5 links could be read" in (
        results[broken].error or ""
    )
    row = source_row(settings, broken)
    assert row.last_error == results[broken].error
    assert f"`digest sources show {broken}` lists them all" in (row.last_error or "")
    assert (row.last_entries, row.last_stored) == (5, 0)  # the failed read is accounted too
    assert {e["code"] for e in row.last_left_out or []} == {"unreadable"}
    assert all("404" in e["reason"] for e in row.last_left_out or [])


def test_a_kind_set_by_hand_is_kept(settings: Settings, web: Site) -> None:
    links = _story_links(6)
    for href, text in links:
        web.add(href, article_page(text, [*LOREM, f"This is {text}."]))
    # Read as it looks, it is an article; set by hand, its links are followed.
    url = web.add(
        "/2026/03/ferry-timetable-agreed", linked_article_page("Ferry timetable agreed", links)
    )
    source_id = add(settings, url, kind="section", kind_set=True)
    results = gather(settings)
    assert results[source_id].kind == "section" and results[source_id].new == 6
    row = source_row(settings, source_id)
    assert (row.kind, row.kind_origin, row.last_entries, row.last_stored) == (
        "section",
        "set",
        6,
        6,
    )

    with db.session_scope(settings.database_url) as session:
        from digest.services.sources import update_source

        update_source(session, session.get(Source, source_id), kind="auto")  # type: ignore[arg-type]
    again = gather(settings, NOW + timedelta(minutes=15))
    assert again[source_id].kind == "article"
    assert source_row(settings, source_id).kind_origin == "found"


# --- every entry accounted for ------------------------------------------------------------


def test_every_entry_is_stored_or_left_out_with_its_reason(settings: Settings, web: Site) -> None:
    b = web.base
    text = " ".join(LOREM)
    first = add(
        settings,
        web.add(
            "/first.xml",
            rss([{"title": "Quay reopens", "link": f"{b}/news/quay", "description": text}]),
            content_type="application/rss+xml",
        ),
    )
    assert gather(settings)[first].new == 1
    [quay] = stored(settings, first)
    items = [
        {"title": "Nets mended", "guid": "n-1", "link": f"{b}/news/nets", "description": text},
        {
            "title": "Nets mended again",
            "guid": "n-1",
            "link": f"{b}/news/nets",
            "description": text,
        },
        {
            "title": "The quay, told again",
            "guid": "q-9",
            "link": f"{b}/news/quay?utm_source=x",
            "description": text,
        },
        {"title": "", "raw": ""},
        {
            "title": "Scripted",
            "raw": "<description>&lt;script&gt;document.write('x')&lt;/script&gt;"
            "&lt;iframe src=x&gt;a frame&lt;/iframe&gt;</description>",
        },
    ]
    second = add(settings, web.add("/second.xml", rss(items), content_type="application/rss+xml"))

    result = gather(settings, NOW + timedelta(minutes=15))[second]
    assert (result.entries, result.new, result.left_out) == (5, 1, 4)
    row = source_row(settings, second)
    assert (row.last_entries, row.last_stored) == (5, 1)
    reasons = {e["title"]: e for e in row.last_left_out or []}
    assert reasons["Nets mended again"]["code"] == "duplicate"
    assert reasons["The quay, told again"]["code"] == "duplicate"
    assert reasons["The quay, told again"]["article_id"] == quay.id
    assert reasons["The quay, told again"]["source_id"] == first
    assert f"article {quay.id} of source {first}" in reasons["The quay, told again"]["reason"]
    assert reasons["(untitled)"]["code"] == "empty"
    assert reasons["Scripted"]["code"] == "sanitizer"
    assert "refused by the sanitizer" in (row.last_error or "")  # said on the row, not only counted

    # Read again: the one stored is "stored before" now, and says which article it is.
    again = gather(settings, NOW + timedelta(minutes=30))[second]
    assert again.new == 0
    [nets] = stored(settings, second)
    codes = {
        e["title"]: (e["code"], e["article_id"])
        for e in source_row(settings, second).last_left_out or []
    }
    assert codes["Nets mended"] == ("stored", nets.id)


def test_a_feed_that_stores_none_of_its_entries_says_why(settings: Settings, web: Site) -> None:
    b = web.base
    text = " ".join(LOREM)
    feed = rss(
        [
            {"title": f"Copy {i}", "link": f"{b}/news/copy-{i}", "description": text}
            for i in range(3)
        ]
    )
    first = add(settings, web.add("/a.xml", feed, content_type="application/rss+xml"))
    assert gather(settings)[first].new == 3
    mirror = add(
        settings,
        web.add("/mirror.xml", feed.replace("Copy", "Mirror"), content_type="application/rss+xml"),
    )

    result = gather(settings, NOW + timedelta(minutes=15))[mirror]
    assert result.new == 0 and result.entries == 3
    assert result.error == "none of its 3 entries stored: 3 duplicates"
    [listed] = [s for s in source_listing(settings)["items"] if s["id"] == mirror]
    assert (listed["entries"], listed["stored"], listed["left_out_summary"]) == (
        3,
        0,
        "3 duplicates",
    )
    assert listed["last_error"] == result.error
