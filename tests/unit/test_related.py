"""Tests for digest.content.related: "Read also" finds earlier articles about the same story.

The fixture tests/fixtures/content/stories.json holds short articles in English, German,
Arabic, Chinese, Korean and Burmese: several outlets telling the same fictional stories in
their own words, and unrelated articles sharing common words with them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.content import Doc, related_for_all

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "content" / "stories.json"
ARTICLES = json.loads(FIXTURE.read_text(encoding="utf-8"))["articles"]
DOCS = {
    a["id"]: Doc(a["id"], a["title"], a["text"], datetime.fromisoformat(a["published"]), a["lang"])
    for a in ARTICLES
}
STORY = {a["id"]: a["story"] for a in ARTICLES}
DUPLICATE = {a["id"]: a.get("duplicate_of") for a in ARTICLES}


def same_story(a: int, b: int) -> bool:
    if DUPLICATE[a] == b or DUPLICATE[b] == a:
        return False  # the same article under another address is no "Read also"
    return STORY[a] is not None and STORY[a] == STORY[b]


def links_for(target: int, **options: float) -> list[int]:
    archive = [d for i, d in DOCS.items() if i != target]
    return related_for_all([DOCS[target]], archive, **options)[target]  # type: ignore[arg-type]  # keyword arguments from a dict


def precision_recall() -> tuple[float, float]:
    found = wrong = expected = 0
    for target, doc in DOCS.items():
        links = links_for(target)
        found += sum(same_story(target, other) for other in links)
        wrong += sum(not same_story(target, other) for other in links)
        earlier = [
            i
            for i, d in DOCS.items()
            if i != target and same_story(target, i) and d.published <= doc.published  # type: ignore[operator]  # these documents have dates
        ]
        expected += min(3, len(earlier))
    return found / max(1, found + wrong), found / expected


def test_precision_and_recall_on_the_story_clusters() -> None:
    precision, recall = precision_recall()
    assert precision >= 0.9
    assert recall >= 0.8


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (2, 1),  # two rail strike reports in different words
        (13, 12),  # the actress's award, told twice
        (25, 24),  # German: the transit strike in Brunnheim
        (28, 27),  # Arabic: the new metro line
        (31, 30),  # Chinese: the new high-speed line
        (34, 33),  # Korean: the bus strike
        (37, 36),  # Burmese: the river flood
        (59, 58),  # Korean: the market fire
        (56, 55),  # Chinese: the typhoon
    ],
)
def test_same_story_pairs_in_each_language(target: int, expected: int) -> None:
    assert expected in links_for(target)


def test_common_words_alone_make_no_link() -> None:
    # "actress" and "award" are shared with the theatre story; the stories are not.
    assert links_for(14) == []
    # A charity award and a theatre award.
    assert 12 not in links_for(15) and 15 not in links_for(12)
    # A fire in a market and the same market's renovation.
    assert 60 not in links_for(58) and 60 not in links_for(59)


def test_the_same_article_under_another_address_is_never_a_link() -> None:
    assert 3 not in links_for(19)
    assert 1 in links_for(19)


def test_only_earlier_articles_and_never_the_items_of_the_same_email() -> None:
    # 1, 2 and 3 are one story; as items of one email none links to another.
    both = related_for_all([DOCS[2], DOCS[3]], [DOCS[1], DOCS[4]])
    assert both == {2: [1], 3: [1]}
    # An article published later than the target is not "Read also".
    assert related_for_all([DOCS[1]], [DOCS[2], DOCS[3]]) == {1: []}


def test_k_and_best_first() -> None:
    links = links_for(10)
    assert links[:2] == [9, 8] or set(links[:2]) == {8, 9}
    assert links_for(10, k=1) == links[:1]
    assert links_for(10, k=0) == []


def test_undated_target_may_link_any_dated_article() -> None:
    undated = Doc(100, DOCS[2].title + " (update)", DOCS[2].text, None, "en")
    assert 1 in related_for_all([undated], [DOCS[1], DOCS[7]])[100]


def test_ten_thousand_article_archive_is_fast_enough() -> None:
    # The edition scores ~20 items against the archive; the bench measures the full cost.
    words = [
        "harbour",
        "quay",
        "ferry",
        "council",
        "budget",
        "tram",
        "depot",
        "library",
        "river",
        "bridge",
    ]
    archive = [
        Doc(
            1000 + i,
            f"{words[i % 10]} {words[(i * 7) % 10]} report {i}",
            " ".join(words[(i + j) % 10] + str(j % 13) for j in range(60)),
            datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=i),
        )
        for i in range(2000)
    ]
    started = datetime.now(UTC)
    related_for_all(list(DOCS.values())[:20], archive)
    assert (datetime.now(UTC) - started).total_seconds() < 2.0
