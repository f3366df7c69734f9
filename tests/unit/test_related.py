"""Tests for digest.content.related: "Read also" candidates by TF-IDF similarity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.content import Doc, related_for_all


def related(target: Doc, others: list[Doc], **options: float) -> list[int]:
    """What the digest links from `target`, among `others` (target counted once)."""
    docs = [target, *(d for d in others if d.id != target.id)]
    return related_for_all(docs, **options)[target.id]  # type: ignore[arg-type]


T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


TRAM_OLD = Doc(
    1,
    "Riverside tram line: tracks reach the harbour",
    "Workers laid the last section of tram tracks on Mill Street this week. The Riverside "
    "tram line will connect the old town with the harbour district, and test runs of the new "
    "trams are planned from the Eastgate depot in the autumn.",
    ("transport",),
    at(0),
)
LIBRARY = Doc(
    2,
    "Central library reopens after renovation",
    "The central library reopened its doors on Saturday after two years of renovation. "
    "Readers can borrow books from a larger children's section, and the reading room on the "
    "top floor has new windows facing the park.",
    ("culture",),
    at(1),
)
FOOTBALL = Doc(
    3,
    "Athletic sign a teenage goalkeeper",
    "The football club has signed a seventeen-year-old goalkeeper from its own academy. The "
    "coach praised his reflexes, and the club hopes he will play in the cup match against "
    "the league leaders next month.",
    ("sport",),
    at(2),
)
HARBOUR = Doc(
    4,
    "Harbour expansion approved by port board",
    "The port board approved the expansion of the north harbour. A new quay for larger ferries "
    "will be built, and fishermen asked for a separate pier for their boats.",
    ("economy",),
    at(3),
)
TRAM_NEW = Doc(
    5,
    "Riverside tram line opens to passengers in March",
    "The first trams on the Riverside line will carry passengers in March. The tram line runs "
    "from the old town along Mill Street to the harbour district, with trams leaving the "
    "Eastgate depot every seven minutes.",
    ("transport",),
    at(4),
)
TRAM_LATER = Doc(
    6,
    "Riverside tram line timetable published",
    "The timetable for the Riverside tram line is out. Trams from the Eastgate depot will run "
    "along Mill Street to the harbour district every seven minutes.",
    ("transport",),
    at(5),
)
CORPUS = [TRAM_OLD, LIBRARY, FOOTBALL, HARBOUR, TRAM_NEW, TRAM_LATER]


def test_older_tram_article_ranks_first() -> None:
    result = related(TRAM_NEW, CORPUS)
    assert result[0] == TRAM_OLD.id
    assert LIBRARY.id not in result
    assert FOOTBALL.id not in result


def test_later_articles_never_returned() -> None:
    assert TRAM_LATER.id not in related(TRAM_NEW, CORPUS, min_score=0.0, k=10)
    assert related(TRAM_OLD, CORPUS, min_score=0.0, k=10) == []


def test_earlier_by_id_when_publication_time_missing() -> None:
    old = Doc(10, TRAM_OLD.title, TRAM_OLD.text)
    new = Doc(11, TRAM_NEW.title, TRAM_NEW.text)
    assert related(new, [old, new]) == [10]
    assert related(old, [old, new]) == []


def test_self_and_same_title_excluded() -> None:
    reposted = Doc(7, TRAM_NEW.title.upper(), TRAM_NEW.text, published=at(3.5))
    result = related(TRAM_NEW, [*CORPUS, reposted], min_score=0.0, k=10)
    assert TRAM_NEW.id not in result
    assert reposted.id not in result
    assert TRAM_OLD.id in result


def test_nothing_above_min_score() -> None:
    assert related(TRAM_NEW, [LIBRARY, FOOTBALL]) == []
    assert related(TRAM_NEW, CORPUS, min_score=0.99) == []
    assert related(TRAM_NEW, []) == []


def test_k_respected() -> None:
    assert len(related(TRAM_LATER, CORPUS, min_score=0.0, k=2)) == 2
    assert related(TRAM_LATER, CORPUS, k=1) == [TRAM_NEW.id]
    assert related(TRAM_LATER, CORPUS, k=0) == []


def test_ranking_best_first_and_ties_prefer_newer() -> None:
    assert related(TRAM_LATER, CORPUS)[:2] == [TRAM_NEW.id, TRAM_OLD.id]
    twin_a = Doc(20, "Ferry strike", HARBOUR.text, published=at(0))
    twin_b = Doc(21, "Quay works", HARBOUR.text, published=at(1))
    target = Doc(22, "North harbour quay", HARBOUR.text, published=at(2))
    assert related(target, [twin_a, twin_b]) == [21, 20]


def test_stopwords_and_numbers_do_not_relate() -> None:
    a = Doc(1, "The 2025 report", "It was the one that they said would be in 2025 and 2026.")
    b = Doc(2, "A 2025 note", "It was what they said it would be, in 2025 and 2026 too.")
    assert related(b, [a], min_score=0.0) == []


def test_related_for_all_agrees_with_related() -> None:
    everything = related_for_all(CORPUS)
    assert set(everything) == {doc.id for doc in CORPUS}
    for doc in CORPUS:
        assert everything[doc.id] == related(doc, CORPUS), doc.id
    assert related_for_all(CORPUS, k=1)[TRAM_LATER.id] == [TRAM_NEW.id]
