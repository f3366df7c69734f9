"""Retention: the delivery ledger and the articles kept from growing without end.

`prune` folds the settled deliveries planned more than DIGEST_DELIVERY_RETENTION_DAYS ago
into counts (`delivery_tallies`: by send, edition, state and day sent, which every report
adds to the ledger's rows) and deletes them, then deletes the articles first seen more
than DIGEST_ARTICLE_RETENTION_DAYS ago that no edition holds and that are not among the
newest ones "Read also" reads, keeping their keys and links so that a feed still listing
one does not bring it back as new. Each batch of DIGEST_PRUNE_BATCH_SIZE rows is one
transaction of its own, so a first prune of a year of ledger never holds the database
for long, and one stopped half way leaves every count right.

What goes with a delivery's row: its address, its error text and its Message-ID, so a
DSN about a pruned copy is refused (`digest.services.bounces`); an unsubscribe link
carries the subscriber, not the copy, and works as before; the archive shows editions,
which are kept.

`digest prune` (with --dry-run), `digest run` and beat (once a day) call it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from digest.config import Settings
from digest.core.vocabulary import DeliveryStatus, utcnow
from digest.pipeline.editions import RELATED_POOL
from digest.store import retention
from digest.store.db import session_scope


@dataclass
class PruneReport:
    """What a prune folded and deleted (a dry run: what it would)."""

    dry_run: bool
    delivery_cutoff: datetime | None  # None: deliveries are kept for ever
    article_cutoff: datetime | None  # None: articles are kept for ever
    deliveries: dict[DeliveryStatus, int] = field(default_factory=dict)
    deliveries_left: int = 0  # rows of the ledger after it
    articles: int = 0
    articles_left: int = 0
    batches: int = 0  # transactions that deleted something

    @property
    def deliveries_folded(self) -> int:
        return sum(self.deliveries.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "delivery_cutoff": _iso(self.delivery_cutoff),
            "article_cutoff": _iso(self.article_cutoff),
            "deliveries": {str(s): n for s, n in sorted(self.deliveries.items())},
            "deliveries_folded": self.deliveries_folded,
            "deliveries_left": self.deliveries_left,
            "articles": self.articles,
            "articles_left": self.articles_left,
            "batches": self.batches,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _cutoff(now: datetime, days: int) -> datetime | None:
    return now - timedelta(days=days) if days > 0 else None


def prune(
    settings: Settings,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    on_batch: Callable[[PruneReport], None] | None = None,
    read_also_pool: int = RELATED_POOL,
) -> PruneReport:
    """Fold and delete the deliveries past their retention, then the articles past
    theirs, `settings.prune_batch_size` rows per transaction; `on_batch` hears after
    each one. The `read_also_pool` newest articles with a link are kept whatever their
    age ("Read also" reads them). A dry run counts what would go and changes nothing."""
    now = now or utcnow()
    batch = settings.prune_batch_size
    report = PruneReport(
        dry_run=dry_run,
        delivery_cutoff=_cutoff(now, settings.delivery_retention_days),
        article_cutoff=_cutoff(now, settings.article_retention_days),
    )
    url = settings.database_url
    if report.delivery_cutoff is not None:
        if dry_run:
            with session_scope(url) as session:
                report.deliveries = retention.foldable_counts(session, report.delivery_cutoff)
        else:
            after = 0
            while True:
                with session_scope(url) as session:
                    done = retention.fold_deliveries(
                        session, after_id=after, cutoff=report.delivery_cutoff, batch=batch, now=now
                    )
                after = done.last_id
                if done.folded:
                    report.batches += 1
                    for status, n in done.folded.items():
                        report.deliveries[status] = report.deliveries.get(status, 0) + n
                    if on_batch is not None:
                        on_batch(report)
                if done.done:
                    break
    if report.article_cutoff is not None:
        with session_scope(url) as session:
            floor = retention.article_floor(session, read_also_pool)
            if dry_run:
                report.articles = retention.forgettable_count(session, report.article_cutoff, floor)
        while not dry_run:
            with session_scope(url) as session:
                n = retention.forget_articles(
                    session, cutoff=report.article_cutoff, floor=floor, batch=batch
                )
            if not n:
                break
            report.articles += n
            report.batches += 1
            if on_batch is not None:
                on_batch(report)
            if n < batch:
                break
    with session_scope(url) as session:
        report.deliveries_left = retention.ledger_size(session)
        report.articles_left = retention.article_count(session)
    if dry_run:
        report.deliveries_left -= report.deliveries_folded
        report.articles_left -= report.articles
    return report
