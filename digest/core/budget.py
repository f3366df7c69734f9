"""The error budget of a send, counted one batch at a time (pure: no database).

Every copy that fails for good (not a bounce: a refusal of our server, our login, our
message) adds one to its send's failures in a row, and a copy accepted sets the row back
to 0. At the limit (DIGEST_ERROR_BUDGET) the send is paused with the reason. A batch tells
its `ErrorBudget` each copy's end in the order sent; `exhausted` says when the batch alone
used up the budget (the sender stops at once and puts the rest back), and `runs` says what
the batch did to each send's row, for the store to write (digest.store.sends).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Outcome:
    """One copy's end as the budget counts it: accepted, or failed with this error."""

    delivery_id: int
    accepted: bool
    error: str = ""


@dataclass(frozen=True)
class SendRun:
    """What one batch did to one send's failures in a row."""

    failures: int  # the copies that failed at the end of the batch, in a row
    carried: bool  # none was accepted: the row goes on from the send's count before
    last_error: str | None  # the error of the batch's last failed copy (None: none failed)


@dataclass
class ErrorBudget:
    """Counts the copies that failed in a row within one batch.

    `outcome` is told each copy's end in the order sent (accepted or failed; bounces and
    deferrals are neither).
    """

    limit: int
    outcomes: list[Outcome] = field(default_factory=list)
    run: int = 0  # failures in a row within this batch

    def outcome(self, delivery_id: int, accepted: bool, error: str = "") -> None:
        self.outcomes.append(Outcome(delivery_id, accepted, error))
        self.run = 0 if accepted else self.run + 1

    @property
    def exhausted(self) -> bool:
        """This batch alone failed `limit` copies in a row: send no more of it."""
        return self.run >= self.limit

    @property
    def all_accepted(self) -> bool:
        """Every copy counted was accepted (the common case: each send's row is 0)."""
        return all(o.accepted for o in self.outcomes)

    @property
    def delivery_ids(self) -> list[int]:
        return [o.delivery_id for o in self.outcomes]

    def runs(self, send_of: Mapping[int, int]) -> dict[int, SendRun]:
        """Per send (`send_of` maps each delivery id counted to its send), the batch's
        trailing failures, whether they carry on the send's row, and the last error."""
        per_send: dict[int, list[Outcome]] = {}
        for o in self.outcomes:
            per_send.setdefault(send_of[o.delivery_id], []).append(o)
        runs: dict[int, SendRun] = {}
        for send_id, seen in per_send.items():
            trailing = 0
            for o in reversed(seen):
                if o.accepted:
                    break
                trailing += 1
            last_error = next((o.error for o in reversed(seen) if not o.accepted), None)
            runs[send_id] = SendRun(trailing, trailing == len(seen), last_error)
        return runs

    def pause_reason(self, count: int, last_error: str | None) -> str | None:
        """Why a send with `count` failures in a row is paused, or None when it is not."""
        if count < self.limit:
            return None
        return (
            f"{count} copies in a row failed (DIGEST_ERROR_BUDGET={self.limit}); "
            f"the last: {last_error}"
        )[:2000]
