"""Editions: the digests rendered, as the admin pages, the API and the archive show them."""

from __future__ import annotations

from typing import Any

from digest.config import Settings
from digest.errors import NotFound
from digest.services.paging import page_of
from digest.store import editions
from digest.store.db import session_scope


def edition_listing(settings: Settings, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """A page of editions, newest first, each with its deliveries counted by state, its
    topics (those of its articles' sources) and whether it holds articles of a source
    without a topic (`untopiced`)."""
    with session_scope(settings.database_url) as session:
        total, rows = editions.edition_page(session, limit=limit, offset=offset)
        counts = editions.delivery_counts(session, [e.id for e in rows])
        topics = editions.edition_topics(session, [e.id for e in rows])
        items = [
            {
                "id": e.id,
                "subject": e.subject,
                "created_at": e.created_at,
                "deliveries": counts[e.id],
                # Which topics it holds: two editions of a day share a subject.
                "topics": topics[e.id][0],
                "untopiced": topics[e.id][1],
            }
            for e in rows
        ]
        return page_of(total, items, limit, offset)


def edition_details(settings: Settings, edition_id: int) -> dict[str, Any]:
    """One edition as rendered: subject, articles, HTML and text."""
    with session_scope(settings.database_url) as session:
        e = editions.edition_by_id(session, edition_id)
        if e is None:
            raise NotFound(f"no edition {edition_id}")
        return {
            "id": e.id,
            "subject": e.subject,
            "created_at": e.created_at,
            "article_ids": e.article_ids,
            "html": e.html,
            "text": e.text,
        }
