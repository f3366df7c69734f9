"""The rule book of a send: who is due, who gets which articles, which abandoned copies
are taken over and why, who waits for a copy still on its way, who has nothing new. A
pure function of the recipients, the copies not yet settled, what is new and the clock."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from digest.core.schedule import ScheduleInfo, due_subscribers
from digest.core.vocabulary import SendKind


@dataclass(frozen=True)
class Unsettled:
    """A delivery still pending or being sent, from this send or an earlier one."""

    delivery_id: int
    subscriber_id: int
    touched_at: datetime  # when it was last claimed by a sender, else when it was planned
    # Deferred after a temporary failure: waiting for its next attempt, not abandoned.
    deferred: bool = False


@dataclass(frozen=True)
class Takeover:
    delivery_id: int
    subscriber_id: int
    reason: str


@dataclass(frozen=True)
class Decision:
    # Each distinct set of new articles (newest first) and the subscribers who get it.
    copies: Mapping[tuple[int, ...], tuple[int, ...]] = field(default_factory=dict)
    # Copies an earlier send left unsent (its process stopped, its task lost) that this
    # send delivers, because nothing has touched them for longer than the claim timeout.
    takeovers: tuple[Takeover, ...] = ()
    # Recipients whose earlier copy is still being delivered: they get nothing new now.
    in_flight: tuple[int, ...] = ()
    nothing_new: tuple[int, ...] = ()


def due_recipients(
    recipients: Sequence[ScheduleInfo], kind: SendKind, now: datetime
) -> list[ScheduleInfo]:
    """Everyone for a send --now; for a scheduled send, those whose local slot has come."""
    if kind is SendKind.NOW:
        return list(recipients)
    return due_subscribers(recipients, now)


def decide(
    recipients: Sequence[ScheduleInfo],
    unsettled: Sequence[Unsettled],
    new: Mapping[int, Sequence[int]],
    now: datetime,
    *,
    kind: SendKind,
    claim_timeout: float,
) -> Decision:
    """Who gets which articles now, which abandoned copies are taken over, and who waits.

    - A recipient with a copy still unsettled gets no new one: their new articles stay new
      and go out with the next send, so nobody gets two digests at once.
    - An unsettled copy of any recipient that nobody has touched for `claim_timeout`
      seconds is taken over, whether or not its subscriber is due now; a deferred copy
      is waiting for its next attempt, not abandoned, and is not taken over.
    - A due recipient with nothing new (no entry in `new`, or an empty one) gets nothing.
    """
    stale_before = now - timedelta(seconds=claim_timeout)
    everyone = {r.subscriber_id for r in recipients}
    takeovers: list[Takeover] = []
    busy: set[int] = set()
    for row in sorted(unsettled, key=lambda u: u.delivery_id):
        if row.subscriber_id not in everyone:
            continue  # left the list, or not addressed by a send --to
        busy.add(row.subscriber_id)
        if not row.deferred and row.touched_at < stale_before:
            idle = int((now - row.touched_at).total_seconds())
            takeovers.append(
                Takeover(
                    row.delivery_id,
                    row.subscriber_id,
                    f"untouched for {idle} s (claim timeout {claim_timeout:g} s)",
                )
            )
    taken = {t.subscriber_id for t in takeovers}
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    in_flight: list[int] = []
    nothing_new: list[int] = []
    for info in due_recipients(recipients, kind, now):
        sid = info.subscriber_id
        if sid in busy:
            if sid not in taken:
                in_flight.append(sid)
        elif articles := tuple(new.get(sid, ())):
            groups[articles].append(sid)
        else:
            nothing_new.append(sid)
    return Decision(
        copies={ids: tuple(members) for ids, members in groups.items()},
        takeovers=tuple(takeovers),
        in_flight=tuple(in_flight),
        nothing_new=tuple(nothing_new),
    )
