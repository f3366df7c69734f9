"""Queries about outgoing webhooks, their events and the attempts to deliver them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from digest.core.vocabulary import WebhookEventStatus
from digest.store.db import insert_ignore
from digest.store.models import (
    Delivery,
    DeliveryTally,
    Subscriber,
    Webhook,
    WebhookAttempt,
    WebhookEvent,
)
from digest.store.retention import tally_status_counts


def all_webhooks(session: Session) -> list[Webhook]:
    return list(session.scalars(select(Webhook).order_by(Webhook.id)))


def event_counts(session: Session) -> dict[tuple[int, str], int]:
    """Events by (webhook id, status value)."""
    return {
        (w, str(getattr(s, "value", s))): n
        for w, s, n in session.execute(
            select(WebhookEvent.webhook_id, WebhookEvent.status, func.count()).group_by(
                WebhookEvent.webhook_id, WebhookEvent.status
            )
        )
    }


def attempts_of(
    session: Session, webhook_id: int, limit: int
) -> list[tuple[int, str, WebhookAttempt]]:
    """The latest attempts at this webhook's events: (event id, event name, attempt)."""
    rows = session.execute(
        select(WebhookEvent.id, WebhookEvent.event, WebhookAttempt)
        .join(WebhookAttempt, WebhookAttempt.event_id == WebhookEvent.id)
        .where(WebhookEvent.webhook_id == webhook_id)
        .order_by(WebhookAttempt.id.desc())
        .limit(limit)
    )
    return list(rows)


def hooks_wanting(session: Session, event: str) -> list[int]:
    """The active webhooks that want this event."""
    active = session.scalars(select(Webhook).where(Webhook.active.is_(True)))
    return [h.id for h in active if event in h.events]


def add_events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert event rows; one already written for the same webhook and key is left alone."""
    session.execute(insert_ignore(session, WebhookEvent), rows)


def fresh_subscribers(session: Session, subscriber_ids: Iterable[int]) -> list[Subscriber]:
    """These subscribers as the database has them now (not as the session last saw them)."""
    query = select(Subscriber).where(Subscriber.id.in_(list(subscriber_ids)))
    return list(session.scalars(query.execution_options(populate_existing=True)))


def any_webhook(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Webhook)))


def sends_of(session: Session, delivery_ids: Sequence[int]) -> set[int]:
    """The sends these copies belong to."""
    return set(session.scalars(select(Delivery.send_id).where(Delivery.id.in_(delivery_ids))))


def copy_counts(session: Session, send_id: int) -> dict[str, int]:
    """A send's copies by status value (folded ones counted too)."""
    counts = {
        str(getattr(s, "value", s)): n
        for s, n in session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.send_id == send_id)
            .group_by(Delivery.status)
        )
    }
    for status, n in tally_status_counts(session, DeliveryTally.send_id == send_id).items():
        counts[status.value] = counts.get(status.value, 0) + n
    return counts


def _claimable(now: datetime, claim_timeout: float) -> ColumnElement[bool]:
    return or_(
        and_(
            WebhookEvent.status == WebhookEventStatus.PENDING,
            or_(WebhookEvent.next_attempt_at.is_(None), WebhookEvent.next_attempt_at <= now),
        ),
        and_(
            WebhookEvent.status == WebhookEventStatus.SENDING,
            WebhookEvent.claimed_at < now - timedelta(seconds=claim_timeout),
        ),
    )


def due_events(session: Session, now: datetime, claim_timeout: float) -> list[int]:
    """Events due to be tried: pending and due, or claimed by a sender that went quiet."""
    query = select(WebhookEvent.id).where(_claimable(now, claim_timeout)).order_by(WebhookEvent.id)
    return list(session.scalars(query))


def claim_event(session: Session, event_id: int, now: datetime, claim_timeout: float) -> bool:
    """Take the event for this sender, in one UPDATE; False when another has it or it is
    not due."""
    claimed = session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id, _claimable(now, claim_timeout))
        .values(status=WebhookEventStatus.SENDING, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]  # an UPDATE's CursorResult


def record_attempt(
    session: Session, attempt: WebhookAttempt, attempts: int, values: dict[str, Any]
) -> None:
    """Keep the attempt and move its event on (delivered, failed, or pending again)."""
    session.add(attempt)
    session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == attempt.event_id)
        .values(attempts=attempts, last_error=attempt.error, claimed_at=None, **values)
        .execution_options(synchronize_session=False)
    )
