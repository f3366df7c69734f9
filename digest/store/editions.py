"""Queries of editions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.store.models import Delivery, Edition


def edition_page(session: Session, *, limit: int, offset: int = 0) -> tuple[int, list[Any]]:
    """How many editions there are, and a page of them (id, subject, created_at), newest
    first."""
    total = session.scalar(select(func.count()).select_from(Edition)) or 0
    rows = list(
        session.execute(
            select(Edition.id, Edition.subject, Edition.created_at)
            .order_by(Edition.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    return total, rows


def delivery_counts(session: Session, edition_ids: list[int]) -> dict[int, dict[str, int]]:
    """Each edition's deliveries counted by state (only the states it has)."""
    counts: dict[int, dict[str, int]] = {i: {} for i in edition_ids}
    for edition_id, status, n in session.execute(
        select(Delivery.edition_id, Delivery.status, func.count())
        .where(Delivery.edition_id.in_(edition_ids))
        .group_by(Delivery.edition_id, Delivery.status)
    ):
        counts[edition_id][str(getattr(status, "value", status))] = n
    return counts


def edition_by_id(session: Session, edition_id: int) -> Edition | None:
    return session.get(Edition, edition_id)
