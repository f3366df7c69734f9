"""The planning rules, with no database: who gets which articles, who waits, what is taken
over. `decide` is a pure function; these are its specifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.core.plan import Takeover, Unsettled, decide, due_recipients
from digest.core.schedule import ScheduleInfo
from digest.core.vocabulary import SendKind

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
CLAIM_TIMEOUT = 600.0
LONG_AGO = NOW - timedelta(days=2)


def subscriber(sid: int, hour: int = 7, since: datetime = LONG_AGO) -> ScheduleInfo:
    return ScheduleInfo(sid, "daily", hour, "UTC", since)


def plan(recipients, unsettled=(), new=None, kind=SendKind.DUE):  # type: ignore[no-untyped-def]  # an untyped helper
    return decide(
        recipients,
        list(unsettled),
        new if new is not None else {r.subscriber_id: (3, 2, 1) for r in recipients},
        NOW,
        kind=kind,
        claim_timeout=CLAIM_TIMEOUT,
    )


def test_an_abandoned_copy_of_someone_not_due_is_taken_over_without_a_negative_in_flight() -> None:
    # A send --now was planned for subscriber 1 and never delivered; after the claim
    # timeout a scheduled send runs before their hour has come (10:00 > 09:30).
    later = subscriber(1, hour=10, since=NOW - timedelta(hours=1))
    abandoned = Unsettled(delivery_id=5, subscriber_id=1, touched_at=NOW - timedelta(hours=1))
    decision = plan([later], [abandoned])
    assert [t.delivery_id for t in decision.takeovers] == [5]
    assert decision.in_flight == ()  # counted from rows: nobody, not 0 - 1
    assert decision.copies == {} and decision.nothing_new == ()


def test_who_is_due_gets_the_new_articles_grouped_by_content() -> None:
    a, b, c = subscriber(1), subscriber(2), subscriber(3)
    decision = plan([a, b, c], new={1: (9, 8), 2: (9, 8), 3: (9,)})
    assert decision.copies == {(9, 8): (1, 2), (9,): (3,)}


def test_a_scheduled_send_skips_who_is_not_due_a_send_now_does_not() -> None:
    due, later = subscriber(1, hour=7), subscriber(2, hour=10, since=NOW - timedelta(hours=1))
    assert plan([due, later]).copies == {(3, 2, 1): (1,)}
    assert plan([due, later], kind=SendKind.NOW).copies == {(3, 2, 1): (1, 2)}
    assert [r.subscriber_id for r in due_recipients([due, later], SendKind.DUE, NOW)] == [1]


def test_nothing_new_means_no_copy() -> None:
    decision = plan([subscriber(1), subscriber(2)], new={1: (4,), 2: ()})
    assert decision.copies == {(4,): (1,)} and decision.nothing_new == (2,)


def test_a_copy_still_being_sent_holds_back_the_next_one() -> None:
    fresh = Unsettled(delivery_id=7, subscriber_id=1, touched_at=NOW - timedelta(seconds=30))
    decision = plan([subscriber(1), subscriber(2)], [fresh])
    assert decision.in_flight == (1,)
    assert decision.copies == {(3, 2, 1): (2,)} and decision.takeovers == ()


def test_a_stale_copy_is_taken_over_and_its_subscriber_gets_nothing_else_now() -> None:
    stale = Unsettled(delivery_id=7, subscriber_id=1, touched_at=NOW - timedelta(seconds=601))
    decision = plan([subscriber(1)], [stale])
    assert decision.takeovers == (Takeover(7, 1, "untouched for 601 s (claim timeout 600 s)"),)
    assert decision.in_flight == () and decision.copies == {}


def test_the_claim_timeout_is_a_strict_boundary() -> None:
    exactly = Unsettled(delivery_id=7, subscriber_id=1, touched_at=NOW - timedelta(seconds=600))
    decision = plan([subscriber(1)], [exactly])
    assert decision.takeovers == () and decision.in_flight == (1,)


def test_copies_of_people_outside_this_send_are_left_alone() -> None:
    # Unsubscribed, or not the one addressed by send --to: not this send's business.
    other = Unsettled(delivery_id=9, subscriber_id=99, touched_at=LONG_AGO)
    decision = plan([subscriber(1)], [other])
    assert decision.takeovers == () and decision.copies == {(3, 2, 1): (1,)}


def test_several_unsettled_rows_of_one_subscriber_are_each_accounted_for() -> None:
    rows = [
        Unsettled(delivery_id=3, subscriber_id=1, touched_at=LONG_AGO),
        Unsettled(delivery_id=4, subscriber_id=1, touched_at=NOW - timedelta(seconds=5)),
    ]
    decision = plan([subscriber(1)], rows)
    assert [t.delivery_id for t in decision.takeovers] == [3]
    assert decision.in_flight == () and decision.copies == {}
