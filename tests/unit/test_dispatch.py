"""The seam picks where work runs from the settings; the faces hand in the workers' side."""

from __future__ import annotations

import pytest

from digest.config import Settings
from digest.errors import DigestError
from digest.runtime import dispatch


def test_no_broker_runs_in_this_process_and_never_builds_the_workers_side() -> None:
    def refuse(settings, on_warning):  # type: ignore[no-untyped-def]  # a stand-in with the patched function's arguments
        raise AssertionError("built without a broker")

    chosen = dispatch.dispatcher_for(Settings(broker_url=None), workers=refuse)
    assert isinstance(chosen, dispatch.InProcess)


def test_a_broker_hands_the_work_to_what_the_face_built() -> None:
    built = []

    def workers(settings, on_warning):  # type: ignore[no-untyped-def]  # a stand-in with the patched function's arguments
        built.append((settings.broker_url, on_warning))
        return dispatch.InProcess(settings)  # any Dispatcher will do here

    settings = Settings(broker_url="redis://127.0.0.1:6379/3")
    dispatch.dispatcher_for(settings, workers=workers, on_warning=print)
    assert built == [("redis://127.0.0.1:6379/3", print)]


def test_a_broker_with_no_way_to_the_workers_is_a_clear_error() -> None:
    with pytest.raises(DigestError, match="DIGEST_BROKER_URL"):
        dispatch.dispatcher_for(Settings(broker_url="redis://127.0.0.1:6379/3"))


def test_poll_interval_follows_the_rate_between_its_bounds() -> None:
    from workers.dispatch import POLL_LONGEST, POLL_SECONDS, poll_interval

    assert poll_interval(0, 100, 1.0) == POLL_SECONDS  # no rate yet
    assert poll_interval(1000, 99_000, 1.0) == POLL_LONGEST  # 99 s to go
    assert poll_interval(1000, 400, 1.0) == pytest.approx(0.1)  # 0.4 s to go
    assert poll_interval(1000, 10, 1.0) == 0.05  # the end is near


def test_batches_are_as_few_as_the_size_allows_and_even() -> None:
    from digest.pipeline import batches

    ids = list(range(1, 601))
    assert [len(b) for b in batches(ids, 500)] == [300, 300]
    assert [len(b) for b in batches(ids, 100)] == [100] * 6
    assert [len(b) for b in batches(ids[:7], 3)] == [3, 3, 1]
    assert [len(b) for b in batches(list(range(1001)), 500)] == [334, 334, 333]
    assert [i for b in batches(ids, 250) for i in b] == ids  # all, once, in order
    assert list(batches([], 500)) == []


def test_a_deferred_copy_taken_between_two_reads_is_counted_again(
    migrated_database_url: str,
) -> None:
    """The watcher read one copy deferred; by the time it asks when that copy is due, a
    worker has taken it (the ledger holds none deferred). It must look again rather than
    stop and report the copy as deferred while it is being sent."""
    from digest.core.vocabulary import DeliveryStatus
    from workers.dispatch import CeleryDispatcher

    watcher = CeleryDispatcher(
        Settings(database_url=migrated_database_url, broker_url="redis://127.0.0.1:1/0")
    )
    assert watcher._retry_soon({DeliveryStatus.DEFERRED: 1}, waited=0.0) is True
    assert watcher._retry_soon({DeliveryStatus.SENT: 3}, waited=0.0) is False
