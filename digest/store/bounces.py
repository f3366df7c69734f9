"""Writing bounces down: counters on subscribers, suppression past a limit, finding the copy."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from digest.core.vocabulary import SubscriberStatus
from digest.store.models import Delivery, Subscriber


def add_bounce(session: Session, subscriber_id: int, *, hard: bool, reason: str) -> None:
    """One more hard or soft bounce on a subscriber, with the reason kept."""
    counter = Subscriber.hard_bounces if hard else Subscriber.soft_bounces
    session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id)
        .values({counter: counter + 1, Subscriber.last_bounce: reason[:2000]})
        .execution_options(synchronize_session=False)
    )


def over_limits(
    session: Session, ids: Iterable[int], *, hard_limit: int, soft_limit: int
) -> set[int]:
    """Of these subscribers, the confirmed or pending ones past either bounce limit."""
    over = or_(Subscriber.hard_bounces >= hard_limit, Subscriber.soft_bounces >= soft_limit)
    active = Subscriber.status.in_([SubscriberStatus.CONFIRMED, SubscriberStatus.PENDING])
    return set(
        session.scalars(select(Subscriber.id).where(Subscriber.id.in_(list(ids)), over, active))
    )


def suppress(session: Session, ids: set[int], now: datetime) -> None:
    """Mark these subscribers bounced: planning never picks them again."""
    session.execute(
        update(Subscriber)
        .where(Subscriber.id.in_(ids))
        .values(status=SubscriberStatus.BOUNCED, bounced_at=now)
        .execution_options(synchronize_session=False)
    )


def delivery_by_message_id(session: Session, message_id: str) -> Delivery | None:
    """The copy sent with exactly this Message-ID (ours carry a keyed tag: not guessable)."""
    return session.scalars(select(Delivery).where(Delivery.message_id == message_id)).first()


def subscriber_status(session: Session, subscriber_id: int) -> SubscriberStatus | None:
    return session.scalar(select(Subscriber.status).where(Subscriber.id == subscriber_id))
