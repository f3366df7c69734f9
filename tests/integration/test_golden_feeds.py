"""Golden files from feed to digest: a fixture feed in, the plain-text digest out.

Each case serves tests/fixtures/feeds/<feed> on loopback, gathers it into a fresh database
and renders the digest a first-time subscriber would get at a fixed moment. The expected
text is in tests/golden/feeds/<feed>.txt; a reader sees what the product does with a feed
without reading code. UPDATE_GOLDEN=1 rewrites them after an intended change.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest import db, pipeline
from digest.config import Settings
from digest.samples_server import serve_samples
from digest.sources import add_source

ROOT = Path(__file__).resolve().parents[2]
FEEDS = ROOT / "tests" / "fixtures" / "feeds"
GOLDEN = ROOT / "tests" / "golden" / "feeds"
NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize("feed", ["rss20.xml", "atom.xml", "jsonfeed11.json", "rss10.rdf"])
def test_feed_to_digest_matches_golden_file(feed: str, database_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        templates_dir=ROOT / "templates",
        base_url="https://news.example.org",
        secret_key="golden",
        list_name="Golden",
        first_digest_days=100_000,  # fixture dates lie in the past
    )
    db.upgrade(settings.database_url)
    with serve_samples(FEEDS) as base:
        with db.session_scope(settings.database_url) as session:
            add_source(session, f"{base}/{feed}", name="Fixture")
        (result,) = pipeline.gather_all(settings)
        assert result.error is None
        subject, _, text = pipeline.preview(settings, now=NOW) or ("", "", "")
    actual = f"Subject: {subject}\n\n{text}".replace(base, "http://fixtures.test")
    golden = GOLDEN / f"{feed}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert actual == golden.read_text(encoding="utf-8")
