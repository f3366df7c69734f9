"""Retention: settled deliveries past their time folded into counts and deleted, articles
past theirs forgotten (their keys kept), each a bounded batch in its own transaction; and
the counts of the folded deliveries, which the reports add to the ledger's.

A batch of deliveries is a range of ids (`batch` rows of the ledger, by primary key):
its settled rows planned before the cutoff are counted and deleted in one transaction,
so a row is counted in the ledger or in the tallies, never in both or neither, whoever
writes to it meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, cast, delete, exists, func, insert, literal, select
from sqlalchemy.orm import Session

from digest.core.vocabulary import SETTLED, DeliveryStatus
from digest.store.db import insert_ignore
from digest.store.models import (
    Article,
    Delivery,
    DeliveryTally,
    EditionArticle,
    ForgottenArticle,
    UTCDateTime,
)


def foldable(cutoff: datetime) -> ColumnElement[bool]:
    """A delivery that reached its end (`SETTLED`) and was planned before `cutoff`.
    Copies still on their way (pending, being sent, deferred) stay, however old."""
    return Delivery.status.in_(SETTLED) & (Delivery.created_at < cutoff)


@dataclass
class FoldedBatch:
    """One batch: the last id it looked at, what it folded by state, and whether the
    ledger holds nothing older than the cutoff past it."""

    last_id: int
    folded: dict[DeliveryStatus, int] = field(default_factory=dict)
    done: bool = False


def fold_deliveries(
    session: Session, *, after_id: int, cutoff: datetime, batch: int, now: datetime
) -> FoldedBatch:
    """Fold and delete the foldable deliveries among the `batch` next ids after `after_id`.

    Ids grow with the time a copy was planned, so a range whose rows were all planned
    after the cutoff ends the walk (`done`). The counting is the database's: on
    PostgreSQL one statement (a DELETE ... RETURNING whose rows an INSERT groups); on
    SQLite an INSERT ... SELECT then the DELETE of the same rows, the first taking the
    database's one write lock, so nobody changes them in between.
    """
    window = (
        select(Delivery.id, Delivery.created_at)
        .where(Delivery.id > after_id)
        .order_by(Delivery.id)
        .limit(batch)
        .subquery()
    )
    last_id, oldest = session.execute(
        select(func.max(window.c.id), func.min(window.c.created_at))
    ).one()
    if last_id is None:
        return FoldedBatch(after_id, done=True)
    if oldest >= cutoff:
        return FoldedBatch(last_id, done=True)
    in_range = (Delivery.id > after_id) & (Delivery.id <= last_id) & foldable(cutoff)
    columns = [
        "send_id",
        "edition_id",
        "status",
        "sent_on",
        "count",
        "first_claimed_at",
        "last_sent_at",
        "folded_at",
    ]
    stamp = literal(now, UTCDateTime())
    if session.get_bind().dialect.name == "postgresql":
        gone = (
            delete(Delivery)
            .where(in_range)
            .returning(
                Delivery.send_id,
                Delivery.edition_id,
                Delivery.status,
                Delivery.sent_at,
                Delivery.claimed_at,
            )
            .cte("gone")
        )
        day = cast(gone.c.sent_at, Date)
        grouped = select(
            gone.c.send_id,
            gone.c.edition_id,
            gone.c.status,
            day,
            func.count(),
            func.min(gone.c.claimed_at),
            func.max(gone.c.sent_at),
            stamp,
        ).group_by(gone.c.send_id, gone.c.edition_id, gone.c.status, day)
        statement = (
            insert(DeliveryTally)
            .from_select(columns, grouped)
            .add_cte(gone)
            .returning(DeliveryTally.status, DeliveryTally.count)
        )
        written = session.execute(statement).all()
    else:
        sent_on = func.date(Delivery.sent_at)  # 'YYYY-MM-DD', as SQLite keeps a Date
        grouped = (
            select(
                Delivery.send_id,
                Delivery.edition_id,
                Delivery.status,
                sent_on,
                func.count(),
                func.min(Delivery.claimed_at),
                func.max(Delivery.sent_at),
                stamp,
            )
            .where(in_range)
            .group_by(Delivery.send_id, Delivery.edition_id, Delivery.status, sent_on)
        )
        written = session.execute(
            insert(DeliveryTally)
            .from_select(columns, grouped)
            .returning(DeliveryTally.status, DeliveryTally.count)
        ).all()
        session.execute(
            delete(Delivery).where(in_range).execution_options(synchronize_session=False)
        )
    folded: dict[DeliveryStatus, int] = {}
    for status, n in written:
        folded[DeliveryStatus(status)] = folded.get(DeliveryStatus(status), 0) + int(n)
    return FoldedBatch(last_id, folded)


def foldable_counts(session: Session, cutoff: datetime) -> dict[DeliveryStatus, int]:
    """What a prune would fold now, by state (for a dry run)."""
    rows = session.execute(
        select(Delivery.status, func.count()).where(foldable(cutoff)).group_by(Delivery.status)
    )
    return {DeliveryStatus(status): int(n) for status, n in rows}


def ledger_size(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Delivery)) or 0)


# --- the folded counts, as the reports add them ------------------------------------------


def tally_counts(
    session: Session, key: Any, *where: ColumnElement[bool]
) -> list[tuple[Any, DeliveryStatus, int]]:
    """The folded counts by `key` (a column of the tallies) and state, where given."""
    rows = session.execute(
        select(key, DeliveryTally.status, func.sum(DeliveryTally.count))
        .where(*where)
        .group_by(key, DeliveryTally.status)
    )
    return [(k, DeliveryStatus(status), int(n or 0)) for k, status, n in rows]


def tally_status_counts(session: Session, *where: ColumnElement[bool]) -> dict[DeliveryStatus, int]:
    """The folded counts by state, where given."""
    rows = session.execute(
        select(DeliveryTally.status, func.sum(DeliveryTally.count))
        .where(*where)
        .group_by(DeliveryTally.status)
    )
    return {DeliveryStatus(status): int(n or 0) for status, n in rows}


def tally_spans(
    session: Session, send_ids: Sequence[int]
) -> dict[int, tuple[datetime | None, datetime | None]]:
    """From the first claim to the last acceptance of each send's folded sent copies."""
    return {
        send_id: (first, last)
        for send_id, first, last in session.execute(
            select(
                DeliveryTally.send_id,
                func.min(DeliveryTally.first_claimed_at),
                func.max(DeliveryTally.last_sent_at),
            )
            .where(
                DeliveryTally.send_id.in_(list(send_ids)),
                DeliveryTally.status == DeliveryStatus.SENT,
            )
            .group_by(DeliveryTally.send_id)
        )
    }


def sent_per_day(session: Session, since: date) -> dict[date, int]:
    """Folded copies sent, by the UTC day they were sent, from `since` on."""
    rows = session.execute(
        select(DeliveryTally.sent_on, func.sum(DeliveryTally.count))
        .where(DeliveryTally.status == DeliveryStatus.SENT, DeliveryTally.sent_on >= since)
        .group_by(DeliveryTally.sent_on)
    )
    return {day: int(n or 0) for day, n in rows if day is not None}


# --- articles ---------------------------------------------------------------------------


def article_floor(session: Session, keep_newest: int) -> int | None:
    """The lowest id among the `keep_newest` newest articles with a link (those "Read
    also" may still show), or None when there are fewer."""
    if keep_newest <= 0:
        return None
    return session.scalar(
        select(Article.id)
        .where(Article.link.is_not(None))
        .order_by(Article.id.desc())
        .offset(keep_newest - 1)
        .limit(1)
    )


def forgettable(cutoff: datetime, floor: int | None) -> ColumnElement[bool]:
    """An article first seen before `cutoff`, in no edition, older than `floor`'s id
    (None: every article is among the newest kept)."""
    in_edition = exists().where(EditionArticle.article_id == Article.id)
    if floor is None:
        return Article.id < 0  # nothing: all are among the newest that "Read also" reads
    return (Article.first_seen_at < cutoff) & ~in_edition & (Article.id < floor)


def forget_articles(session: Session, *, cutoff: datetime, floor: int | None, batch: int) -> int:
    """Delete up to `batch` forgettable articles, keeping their keys and links; how many."""
    rows = session.execute(
        select(Article.id, Article.source_id, Article.key, Article.link)
        .where(forgettable(cutoff, floor))
        .order_by(Article.id)
        .limit(batch)
    ).all()
    if not rows:
        return 0
    session.execute(
        insert_ignore(session, ForgottenArticle),
        [{"source_id": s, "key": k, "link": link} for _, s, k, link in rows],
    )
    session.execute(
        delete(Article)
        .where(Article.id.in_([r[0] for r in rows]))
        .execution_options(synchronize_session=False)
    )
    return len(rows)


def forgettable_count(session: Session, cutoff: datetime, floor: int | None) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Article).where(forgettable(cutoff, floor)))
        or 0
    )


def article_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Article)) or 0)
