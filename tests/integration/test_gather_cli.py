"""The gathering commands as a user runs them: `sources add/list/import/export`, `gather`
and `articles list`, each its own process, against a loopback site, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gather_pages import LOREM, article_page, rss, section_page
from web_site import Site, serve_site

from digest.store.schema import upgrade

ROOT = Path(__file__).resolve().parents[2]
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve_site() as served:
        yield served


@pytest.fixture
def run(tmp_path: Path, database_url: str) -> Run:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    environ.update(PYTHONPATH=str(ROOT), COLUMNS="200", DIGEST_DATABASE_URL=database_url)
    environ["DIGEST_FETCH_ALLOW_NETWORKS"] = os.environ["DIGEST_FETCH_ALLOW_NETWORKS"]  # loopback
    upgrade(database_url)

    def digest(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "digest", *args],
            cwd=tmp_path,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return digest


def test_gather_exits_1_naming_the_failed_source_and_lists_what_was_stored(
    run: Run, site: Site
) -> None:
    feed = rss(
        [
            {
                "title": f"Story {i}",
                "link": f"{site.base}/cli/story-{i}",
                "description": " ".join(LOREM),
                "pubDate": f"Fri, 2{i} Feb 2026 07:30:00 GMT",
            }
            for i in range(3)
        ],
        extra="<language>en</language>",
    )
    good = site.add("/cli/feed.xml", feed, content_type="application/rss+xml")
    assert run("sources", "add", good, "--full-text", "never", "--topic", "Harbour").returncode == 0
    assert run("sources", "add", f"{site.base}/cli/missing", "--name", "Gone").returncode == 0

    gathered = run("gather", "--json")
    assert gathered.returncode == 1
    assert "failed: #2 Gone" in gathered.stderr and "HTTP 404" in gathered.stderr
    assert gathered.stdout.startswith("["), gathered.stdout + gathered.stderr
    rows = json.loads(gathered.stdout)
    assert [(r["status"], r["new"]) for r in rows] == [("ok", 3), ("failed", 0)]

    main_job = run("run")
    assert main_job.returncode == 1 and "failed: #2 Gone" in main_job.stderr
    assert "sources failed" in main_job.stdout

    sources = json.loads(run("sources", "list", "--json").stdout)
    assert set(sources[0]) >= {
        "id",
        "name",
        "url",
        "kind",
        "topics",
        "articles",
        "last_ok_at",
        "last_error",
        "error_count",
        "retry_after",
        "not_modified",
    }
    assert sources[0]["kind"] == "feed" and sources[0]["articles"] == 3
    assert sources[1]["error_count"] == 2 and "404" in sources[1]["last_error"]

    articles = json.loads(run("articles", "list", "--json", "--limit", "2").stdout)
    assert [a["title"] for a in articles] == ["Story 2", "Story 1"]  # newest first
    assert set(articles[0]) >= {
        "id",
        "source_id",
        "title",
        "link",
        "published_at",
        "author",
        "language",
        "summary",
        "text",
        "full_text",
    }
    assert articles[0]["language"] == "en" and articles[0]["full_text"] is False
    assert "Skippers say" in articles[0]["text"]
    since = run("articles", "list", "--json", "--source", "1", "--since", "2026-02-21T12:00:00")
    assert [a["title"] for a in json.loads(since.stdout)] == ["Story 2"]


def test_check_finds_the_feed_of_a_home_page(run: Run, site: Site) -> None:
    site.add("/site/feed.xml", rss([], title="Site feed"), content_type="application/rss+xml")
    links = [(f"/site/2026/story-number-{i}", f"Story number {i} of the day") for i in range(6)]
    home = site.add("/site/", section_page(links, feed="/site/feed.xml"))
    result = run("sources", "add", home, "--check")
    assert result.returncode == 0, result.stderr
    assert "found the feed" in result.stdout and "Site feed" in result.stdout
    (source,) = json.loads(run("sources", "list", "--json").stdout)
    assert source["url"] == f"{site.base}/site/feed.xml" and source["kind"] == "feed"

    site.add("/site/story", article_page("A story on its own"))
    page = run("sources", "add", f"{site.base}/site/story", "--check")
    assert "is an article page (its main content is" in page.stdout
    assert "'A story on its own'" in page.stdout


def test_bad_urls_are_refused_when_added_or_imported_and_nothing_is_imported_twice(
    run: Run, tmp_path: Path
) -> None:
    refused = run("sources", "add", "http://exa mple.com/feed")
    assert refused.returncode == 1
    assert "cannot contain spaces" in refused.stderr and "Traceback" not in refused.stderr

    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<?xml version="1.0"?>\n<opml version="2.0"><head><title>x</title></head><body>\n'
        '<outline text="City">\n'
        '  <outline text="Courier" type="rss" xmlUrl="https://courier.example/feed"/>\n'
        '  <outline text="Broken" type="rss" xmlUrl="http://bro ken.example/rss"/>\n'
        "</outline>\n"
        '<outline text="Blog" type="rss" xmlUrl="https://blog.example/atom.xml"'
        ' category="tech"/>\n'
        '<outline text="Nothing" type="rss"/>\n'
        "</body></opml>\n",
        encoding="utf-8",
    )
    first = run("sources", "import", str(opml), "--json")
    assert first.returncode == 1
    summary = json.loads(first.stdout)
    assert summary["added"] == 2 and summary["known"] == 0
    assert [(e["position"], e["error"][-30:]) for e in summary["errors"]] == [
        ("line 5", "ot contain spaces or control characters"[-30:]),
        ("line 8", "outline 'Nothing' has no xmlUrl"[-30:]),
    ]
    again = json.loads(run("sources", "import", str(opml), "--json").stdout)
    assert again["added"] == 0 and again["known"] == 2

    exported = run("sources", "export")
    assert exported.returncode == 0
    assert 'xmlUrl="https://courier.example/feed" category="city"' in exported.stdout
    assert 'xmlUrl="https://blog.example/atom.xml" category="tech"' in exported.stdout
    out = tmp_path / "back.opml"
    run("sources", "export", "--output", str(out))
    back = json.loads(run("sources", "import", str(out), "--json").stdout)
    assert back == {"added": 0, "known": 2, "errors": []}


def test_sources_set_changes_what_is_given_and_refuses_what_is_wrong(run: Run, site: Site) -> None:
    url = f"{site.base}/cli/set-feed.xml"
    assert run("sources", "add", url, "--topic", "Harbour").returncode == 0

    changed = run(
        "sources", "set", url, "--name", "Quay Log", "--full-text", "never", "--pause",
        "--topic", "Ferries", "--topic", "weather",
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert "paused, feed, full text never, ferries, weather" in changed.stdout
    [row] = json.loads(run("sources", "list", "--json").stdout)
    assert (row["name"], row["full_text"], row["paused"], row["topics"]) == (
        "Quay Log", "never", True, ["ferries", "weather"],
    )  # fmt: skip

    # Only what is given changes.
    assert run("sources", "set", str(row["id"]), "--resume", "--no-topics").returncode == 0
    [row] = json.loads(run("sources", "list", "--json").stdout)
    assert (row["name"], row["full_text"], row["paused"], row["topics"]) == (
        "Quay Log", "never", False, [],
    )  # fmt: skip

    refused = [
        run("sources", "set", url, "--full-text", "sometimes"),
        run("sources", "set", url, "--name", "  "),
        run("sources", "set", url, "--topic", "x", "--no-topics"),
        run("sources", "set", "999", "--pause"),
    ]
    assert [r.returncode != 0 for r in refused] == [True] * 4
    assert "sometimes" in refused[0].stderr
    assert "name must not be empty" in refused[1].stderr
    assert "not both" in refused[2].stderr
    assert "no source 999" in refused[3].stderr
    [after] = json.loads(run("sources", "list", "--json").stdout)
    assert after == row  # nothing changed by a refused command


def test_a_kind_given_by_hand_and_the_reasons_of_the_last_read(run: Run, site: Site) -> None:
    links = [
        (f"/kinds/2026/harbour-story-number-{i}", f"Harbour story number {i}") for i in range(6)
    ]
    for href, text in links:
        site.add(href, article_page(text))
    page = site.add(
        "/kinds/2026/the-harbour-day",
        section_page(links).replace("<main>", "<main>" + "".join(f"<p>{p}</p>" for p in LOREM)),
    )
    checked = run("sources", "add", page, "--check", "--kind", "section")
    assert checked.returncode == 0, checked.stderr
    assert "is a section page (set by hand), with 6 article links" in checked.stdout
    assert run("gather").returncode == 0

    shown = run("sources", "show", "1", "--json")
    assert shown.returncode == 0, shown.stderr
    row = json.loads(shown.stdout)
    assert (row["kind"], row["kind_origin"], row["entries"], row["stored"]) == (
        "section",
        "set",
        6,
        6,
    )
    assert row["left_out_entries"] == []

    assert run("gather").returncode == 0  # the second read: every link stored before
    row = json.loads(run("sources", "show", "1", "--json").stdout)
    assert (row["entries"], row["stored"], row["left_out_summary"]) == (6, 0, "6 stored before")
    assert {e["code"] for e in row["left_out_entries"]} == {"stored"}
    table = run("sources", "show", "1")
    assert "stored before as article" in table.stdout and "0 of 6 stored" in table.stdout
    listed = run("sources", "list")
    assert "section (set)" in listed.stdout and "0 of 6 stored" in listed.stdout

    changed = run("sources", "set", "1", "--kind", "auto")
    assert changed.returncode == 0 and "found at the next read" in changed.stdout
    assert run("sources", "set", "1", "--kind", "podcast").returncode != 0
