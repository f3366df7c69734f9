"""The delivery ledger as the pipeline reads and writes it: claiming a batch under a
lease and fencing it, recording a batch's outcomes, the copies due or not yet settled,
handing copies out, and the rows a plan writes.

Ids go to the database at most `CHUNK` per IN list, under any database's limit on bound
parameters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from digest.core.vocabulary import DeliveryStatus, SubscriberStatus
from digest.store.db import insert_ignore
from digest.store.models import Delivery, DeliveryTally, Subscriber
from digest.store.retention import tally_status_counts
from digest.store.sends import active_send

CHUNK = 1000
# Copies not settled yet: queued, being sent, or waiting for a retry.
UNSETTLED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)


@dataclass(frozen=True)
class Claimed:
    """A copy a batch claimed: its row's ids, its attempts (this one counted), its age."""

    id: int
    edition_id: int
    subscriber_id: int
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class Addressee:
    """What a copy needs of its subscriber."""

    id: int
    email: str
    name: str | None
    status: SubscriberStatus
    last_article_id: int


def claimable(now: datetime, claim_timeout: float) -> ColumnElement[bool]:
    """Pending; deferred and due; or claimed by a sender that died (past the timeout)."""
    return or_(
        Delivery.status == DeliveryStatus.PENDING,
        and_(Delivery.status == DeliveryStatus.DEFERRED, Delivery.next_attempt_at <= now),
        and_(
            Delivery.status == DeliveryStatus.SENDING,
            Delivery.claimed_at < now - timedelta(seconds=claim_timeout),
        ),
    )


def claim_batch(
    session: Session, delivery_ids: Sequence[int], claim_timeout: float, now: datetime
) -> list[Claimed]:
    """Take the claimable rows among these ids for sending, in one statement per chunk;
    the claim's stamp (`claimed_at`) is `now`, the lease's first fence.

    An UPDATE ... RETURNING with the condition in its WHERE: of two workers racing for a
    row, the second's UPDATE no longer matches it (SQLite has one writer at a time;
    PostgreSQL re-reads a row it waited for), so each row is claimed once. A paused or
    cancelled send's copies stay where they are.
    """
    claimed: list[Claimed] = []
    for start in range(0, len(delivery_ids), CHUNK):
        chunk = list(delivery_ids[start : start + CHUNK])
        rows = session.execute(
            update(Delivery)
            .where(Delivery.id.in_(chunk), claimable(now, claim_timeout), active_send())
            .values(status=DeliveryStatus.SENDING, attempts=Delivery.attempts + 1, claimed_at=now)
            .returning(
                Delivery.id,
                Delivery.edition_id,
                Delivery.subscriber_id,
                Delivery.attempts,
                Delivery.created_at,
            )
            .execution_options(synchronize_session=False)
        )
        claimed += [Claimed(*row) for row in rows]
    return sorted(claimed, key=lambda c: c.id)


def fence(
    session: Session, delivery_ids: Sequence[int], stamp: datetime, new_stamp: datetime
) -> set[int]:
    """Of these copies, those still being sent under the claim `stamp`: moved to
    `new_stamp` (and locked until the session commits). The others were taken over by
    another sender, which wrote its own stamp."""
    ids = sorted(delivery_ids)
    kept: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        kept.update(
            session.scalars(
                update(Delivery)
                .where(
                    Delivery.id.in_(ids[start : start + CHUNK]),
                    Delivery.status == DeliveryStatus.SENDING,
                    Delivery.claimed_at == stamp,
                )
                .values(claimed_at=new_stamp)
                .returning(Delivery.id)
                .execution_options(synchronize_session=False)
            )
        )
    return kept


def addressees(session: Session, subscriber_ids: Sequence[int]) -> dict[int, Addressee]:
    """What the copies need of these subscribers, by id (a subscriber gone has none)."""
    found: dict[int, Addressee] = {}
    for start in range(0, len(subscriber_ids), CHUNK):
        rows = session.execute(
            select(
                Subscriber.id,
                Subscriber.email,
                Subscriber.name,
                Subscriber.status,
                Subscriber.last_article_id,
            ).where(Subscriber.id.in_(subscriber_ids[start : start + CHUNK]))
        )
        for row in rows:
            found[row[0]] = Addressee(row[0], row[1], row[2], SubscriberStatus(row[3]), row[4])
    return found


def record_outcomes(
    session: Session,
    deliveries: Sequence[dict[str, Any]],
    subscribers: Sequence[dict[str, Any]],
) -> None:
    """A batch's outcomes in bulk, by primary key: each delivery row's new columns (`id`
    and those to write) and each subscriber's (`id`, `last_article_id`, `last_sent_at`,
    `soft_bounces` for a copy accepted)."""
    if deliveries:
        session.execute(update(Delivery), list(deliveries))
    if subscribers:
        session.execute(update(Subscriber), list(subscribers))


def due_ids(
    session: Session, now: datetime, *, queued_before: datetime, claim_timeout: float
) -> list[int]:
    """Copies that should be on their way and may not be, by id: deferred ones now due,
    ones claimed by a sender that died (past the claim timeout), and pending ones handed
    to a queue before `queued_before`."""
    return list(
        session.scalars(
            select(Delivery.id)
            .where(
                or_(
                    and_(
                        Delivery.status == DeliveryStatus.PENDING,
                        func.coalesce(Delivery.next_attempt_at, Delivery.created_at)
                        <= queued_before,
                    ),
                    and_(
                        Delivery.status == DeliveryStatus.DEFERRED,
                        Delivery.next_attempt_at <= now,
                    ),
                    and_(
                        Delivery.status == DeliveryStatus.SENDING,
                        Delivery.claimed_at < now - timedelta(seconds=claim_timeout),
                    ),
                )
            )
            .order_by(Delivery.id)
        )
    )


def unsettled_ids(session: Session) -> list[int]:
    """Copies queued or being sent right now, by id."""
    return list(
        session.scalars(
            select(Delivery.id)
            .where(Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]))
            .order_by(Delivery.id)
        )
    )


def mark_handed_out(session: Session, ids: Sequence[int], now: datetime) -> None:
    """Stamp pending copies as given to a queue now (for the sweeper's grace)."""
    for start in range(0, len(ids), CHUNK):
        session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(ids[start : start + CHUNK]),
                Delivery.status == DeliveryStatus.PENDING,
            )
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )


# --- what a plan reads and writes ---------------------------------------------------------


@dataclass(frozen=True)
class UnsettledRow:
    """A copy not settled yet, as a plan sees it."""

    id: int
    subscriber_id: int
    claimed_at: datetime | None
    created_at: datetime
    status: DeliveryStatus


def unsettled_rows(
    session: Session, first: int | None = None, last: int | None = None
) -> list[UnsettledRow]:
    """Copies not settled yet (`UNSETTLED`), of subscribers with ids from `first` to
    `last` (every subscriber without them)."""
    query = select(
        Delivery.id,
        Delivery.subscriber_id,
        Delivery.claimed_at,
        Delivery.created_at,
        Delivery.status,
    ).where(Delivery.status.in_(UNSETTLED))
    if first is not None and last is not None:
        query = query.where(Delivery.subscriber_id.between(first, last))
    return [UnsettledRow(*row) for row in session.execute(query)]


def move_to_send(session: Session, delivery_ids: Sequence[int], send_id: int | None) -> None:
    """Hand these copies (taken over from an earlier send) to this send."""
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(delivery_ids))
        .values(send_id=send_id)
        .execution_options(synchronize_session=False)
    )


def add_copies(
    session: Session,
    edition_id: int,
    subscriber_ids: Sequence[int],
    send_id: int | None,
    now: datetime,
) -> dict[int, int]:
    """Write a pending copy of the edition for each subscriber who has none yet (the
    unique (edition, subscriber) key keeps one row each, whoever writes first).

    Returns, for each of these subscribers, the send their copy of this edition belongs
    to: this one where it was written now (or by a send planned with the same id).
    """
    rows = [
        {"edition_id": edition_id, "subscriber_id": m, "send_id": send_id, "created_at": now}
        for m in subscriber_ids
    ]
    session.execute(insert_ignore(session, Delivery), rows)
    return dict(
        session.execute(
            select(Delivery.subscriber_id, Delivery.send_id).where(
                Delivery.edition_id == edition_id, Delivery.subscriber_id.in_(subscriber_ids)
            )
        ).all()
    )


def copy_statuses(
    session: Session, edition_id: int, subscriber_ids: Sequence[int]
) -> list[DeliveryStatus]:
    """The status of each copy of the edition these subscribers have."""
    return list(
        session.scalars(
            select(Delivery.status).where(
                Delivery.edition_id == edition_id, Delivery.subscriber_id.in_(subscriber_ids)
            )
        )
    )


def send_delivery_ids(
    session: Session, send_id: int, first: int | None = None, last: int | None = None
) -> list[int]:
    """A send's copies by id; with `first` and `last`, those of subscribers in that range."""
    query = select(Delivery.id).where(Delivery.send_id == send_id)
    if first is not None and last is not None:
        query = query.where(Delivery.subscriber_id.between(first, last))
    return list(session.scalars(query.order_by(Delivery.id)))


def delivery_page(
    session: Session,
    *,
    send_id: int | None = None,
    edition_id: int | None = None,
    status: DeliveryStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[tuple[Delivery, str]]]:
    """How many deliveries match, and a page of them in id order with each address."""
    query = select(Delivery, Subscriber.email).join(
        Subscriber, Subscriber.id == Delivery.subscriber_id
    )
    if send_id is not None:
        query = query.where(Delivery.send_id == send_id)
    if edition_id is not None:
        query = query.where(Delivery.edition_id == edition_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows: list[Any] = list(session.execute(query.order_by(Delivery.id).limit(limit).offset(offset)))
    return total, [(d, email) for d, email in rows]


def status_counts(session: Session, send_id: int) -> dict[DeliveryStatus, int]:
    """How many deliveries of one send are in each state (folded ones counted too)."""
    rows = session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.send_id == send_id)
        .group_by(Delivery.status)
    )
    counts = {DeliveryStatus(status): n for status, n in rows}
    for status, n in tally_status_counts(session, DeliveryTally.send_id == send_id).items():
        counts[status] = counts.get(status, 0) + n
    return counts


def status_counts_of(
    session: Session, delivery_ids: Sequence[int], *, besides_send: int | None = None
) -> dict[DeliveryStatus, int]:
    """How many of these deliveries (leaving out those of `besides_send`) are in each
    state; read a thousand ids at a time, under any database's limit on parameters."""
    counts: Counter[DeliveryStatus] = Counter()
    for start in range(0, len(delivery_ids), 1000):
        query = select(Delivery.status, func.count()).where(
            Delivery.id.in_(delivery_ids[start : start + 1000])
        )
        if besides_send is not None:
            query = query.where(Delivery.send_id != besides_send)
        rows = session.execute(query.group_by(Delivery.status))
        counts.update({DeliveryStatus(status): n for status, n in rows})
    return dict(counts)


def next_deferred_attempt(session: Session) -> datetime | None:
    """When the earliest deferred copy is tried again, if any is deferred."""
    return session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(Delivery.status == DeliveryStatus.DEFERRED)
    )


def failed_of_send(session: Session, send_id: int) -> list[tuple[str, str]]:
    """The address and error of each copy of a send that failed, in id order."""
    rows = session.execute(
        select(Subscriber.email, Delivery.last_error)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.send_id == send_id, Delivery.status == DeliveryStatus.FAILED)
        .order_by(Delivery.id)
    )
    return [(email, error or "") for email, error in rows]
