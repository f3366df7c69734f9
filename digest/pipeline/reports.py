"""Reports: what a send did, what the lists hold, and the next digest shown without sending."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from digest import wiring
from digest.config import Settings
from digest.core.links import subscriber_links
from digest.core.vocabulary import DeliveryStatus, utcnow
from digest.pipeline.editions import edition_content
from digest.pipeline.plan import allowed_sources, new_articles
from digest.render.edition import personalize, render_edition
from digest.services.subscribers import find_subscriber
from digest.store import articles as store_articles
from digest.store import deliveries
from digest.store.db import session_scope


def send_status(settings: Settings, send_id: int) -> dict[DeliveryStatus, int]:
    """How many deliveries of one send are in each state."""
    with session_scope(settings.database_url) as session:
        return deliveries.status_counts(session, send_id)


def delivery_status(
    settings: Settings, send_id: int | None, extra_ids: Sequence[int] = ()
) -> dict[DeliveryStatus, int]:
    """Deliveries of one send, and of `extra_ids` (earlier sends' copies it picked up),
    counted by state."""
    counts: Counter[DeliveryStatus] = Counter()
    with session_scope(settings.database_url) as session:
        if send_id is not None:
            counts.update(deliveries.status_counts(session, send_id))
        counts.update(deliveries.status_counts_of(session, extra_ids, besides_send=send_id))
    return dict(counts)


def next_attempt(settings: Settings) -> datetime | None:
    """When the earliest deferred copy is tried again, if any is deferred."""
    with session_scope(settings.database_url) as session:
        return deliveries.next_deferred_attempt(session)


def failed_deliveries(settings: Settings, send_id: int) -> list[tuple[str, str]]:
    with session_scope(settings.database_url) as session:
        return deliveries.failed_of_send(session, send_id)


def preview(
    settings: Settings, *, email: str | None = None, now: datetime | None = None
) -> tuple[str, str, str] | None:
    """Subject, HTML and text of the next digest for `email` (or of the newest articles).

    Nothing is written: no edition, no ledger row. None when there is nothing to show.
    """
    now = now or utcnow()
    with session_scope(settings.database_url) as session:
        if email is not None:
            sub = find_subscriber(session, email)
            allowed = allowed_sources(session, [sub.id])
            ids = new_articles(session, [sub], settings, now, allowed=allowed)[sub.id]
            name, subscriber_id, sources = sub.name, sub.id, allowed[sub.id]
        else:
            # The newest by publication (or first sight): not by id, which follows the order
            # in which the sources' fetches happened to finish.
            ids = tuple(store_articles.newest_ids(session, settings.max_articles))
            name, subscriber_id, sources = None, 0, None
        if not ids:
            return None
        rendered = render_edition(
            edition_content(session, ids, settings, now, sources=sources),
            settings.templates_dir,
            mailing=wiring.mailing(settings),
        )
    links = subscriber_links(settings.base_url, settings.secret_key, subscriber_id)
    html, text = personalize(
        rendered,
        name=name,
        unsubscribe_url=links.unsubscribe,
        preferences_url=links.preferences,
        anonymous=wiring.mailing(settings).anonymous,
    )
    return rendered.subject, html, text
