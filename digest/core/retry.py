"""When something that failed is tried again: copies and mails after a temporary SMTP
failure, webhook events after a failed POST, sources after failed fetches."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """When a copy that met a temporary failure is tried again: after about base, 2*base,
    4*base... seconds (at most `max_delay`; each drawn between half and all of it, so
    copies deferred together do not come back together), and never later than `window`
    seconds after the copy was planned. Past the window the copy fails."""

    base_delay: float = 30.0
    max_delay: float = 3600.0
    window: float = 86400.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the `attempt`-th try (1-based) failed."""
        ceiling = min(self.base_delay * 2.0 ** min(attempt - 1, 40), self.max_delay)
        return ceiling * (0.5 + rand() / 2)

    def after(self, when: datetime, planned_at: datetime) -> datetime | None:
        """`when`, unless it falls after the window (None: the window is over)."""
        deadline = planned_at + timedelta(seconds=self.window)
        return when if when < deadline else None

    def next_attempt(
        self,
        attempt: int,
        planned_at: datetime,
        now: datetime,
        rand: Callable[[], float] = random.random,
    ) -> datetime | None:
        """When to try again after the `attempt`-th try failed; None: the window is over."""
        deadline = planned_at + timedelta(seconds=self.window)
        if now >= deadline:
            return None
        return min(now + timedelta(seconds=self.delay(attempt, rand)), deadline)


MAX_BACKOFF = timedelta(days=1)


def backoff_until(
    error_count: int, now: datetime, base: float, asked: datetime | None = None
) -> datetime | None:
    """When a source that failed ``error_count`` times in a row is tried again: at once
    after the first failure, then base, 2*base, 4*base... seconds, at most a day; never
    sooner than the server asked (Retry-After, itself at most a week)."""
    until = None
    if error_count >= 2:
        until = now + min(timedelta(seconds=base * 2 ** (error_count - 2)), MAX_BACKOFF)
    if asked is not None and asked > now:
        asked = min(asked, now + timedelta(days=7))
        until = max(until, asked) if until else asked
    return until
