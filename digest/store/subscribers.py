"""Queries about subscribers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.store.models import Subscriber


def by_email(session: Session, address: str) -> Subscriber | None:
    """The subscriber of this (normalized) address, or None."""
    return session.scalar(select(Subscriber).where(Subscriber.email == address))


def all_subscribers(session: Session) -> list[Subscriber]:
    return list(session.scalars(select(Subscriber).order_by(Subscriber.id)))


def add(session: Session, subscriber: Subscriber) -> Subscriber:
    session.add(subscriber)
    session.flush()
    return subscriber
