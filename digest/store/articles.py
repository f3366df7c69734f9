"""Queries about stored articles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.store.models import Article


def article_rows(
    session: Session,
    *,
    source_id: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Stored articles, newest first (by date, else first seen): what extraction kept."""
    when = func.coalesce(Article.published_at, Article.first_seen_at)
    query = select(Article).order_by(when.desc(), Article.id.desc()).limit(limit)
    if source_id is not None:
        query = query.where(Article.source_id == source_id)
    if since is not None:
        # A date without a zone is taken as UTC, like every time stored.
        query = query.where(when >= (since if since.tzinfo else since.replace(tzinfo=UTC)))
    return [
        {
            "id": a.id,
            "source_id": a.source_id,
            "title": a.title,
            "link": a.link,
            "published_at": a.published_at,
            "first_seen_at": a.first_seen_at,
            "author": a.author,
            "language": a.language,
            "image_url": a.image_url,
            "summary": a.summary,
            "text": a.body_text,
            "full_text": a.full_text,
            "is_teaser": a.is_teaser,
        }
        for a in session.scalars(query)
    ]
