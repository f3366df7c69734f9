"""Database tables: sources, articles, subscribers, editions, sends and the delivery ledger."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, so SQLite and PostgreSQL behave alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class SubscriberStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class Frequency(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class SendKind(enum.StrEnum):
    NOW = "now"  # an admin's `send --now`: everyone confirmed (or one), whatever the schedule
    DUE = "due"  # a scheduled dispatch: those whose local slot has come


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # planned, not yet handed to a transport
    SENDING = "sending"  # claimed by a worker
    SENT = "sent"
    FAILED = "failed"  # permanent failure; will not be retried
    SKIPPED = "skipped"  # the subscriber left between planning and sending


def _enum_column(kind: type[enum.StrEnum]) -> Enum:
    # Stored as the value in a VARCHAR(20) with no CHECK constraint: the same column the
    # first migration made, readable by hand, and a new member needs no migration.
    return Enum(
        kind,
        native_enum=False,
        create_constraint=False,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    topics: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_fetched_at: Mapped[datetime | None]
    last_ok_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    error_count: Mapped[int] = mapped_column(default=0)
    # Seams for conditional GET.
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(200))

    articles: Mapped[list[Article]] = relationship(
        back_populates="source", cascade="all, delete-orphan", passive_deletes=True
    )


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("source_id", "key"), Index("ix_articles_link", "link"))

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(2000))
    link: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(500))
    categories: Mapped[list[str]] = mapped_column(default=list)
    published_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    content_html: Mapped[str] = mapped_column(Text, default="")  # sanitized
    body_text: Mapped[str] = mapped_column(Text, default="")  # boilerplate stripped
    summary: Mapped[str] = mapped_column(Text, default="")
    is_teaser: Mapped[bool] = mapped_column(default=False)

    source: Mapped[Source] = relationship(back_populates="articles")


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[SubscriberStatus] = mapped_column(
        _enum_column(SubscriberStatus), default=SubscriberStatus.PENDING
    )
    frequency: Mapped[Frequency] = mapped_column(_enum_column(Frequency), default=Frequency.DAILY)
    hour: Mapped[int] = mapped_column(default=7)  # local hour of day the digest is due
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    topics: Mapped[list[str]] = mapped_column(default=list)  # empty: every topic
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    # Highest article id already delivered: what is "new" for this subscriber.
    last_article_id: Mapped[int] = mapped_column(default=0)
    last_sent_at: Mapped[datetime | None]


class Edition(Base):
    """One distinct digest content, rendered once and shared by every subscriber who gets it."""

    __tablename__ = "editions"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    subject: Mapped[str] = mapped_column(String(300))
    article_ids: Mapped[list[int]] = mapped_column(JSON)
    html: Mapped[str] = mapped_column(Text)  # CSS inlined, with per-subscriber placeholders
    text: Mapped[str] = mapped_column(Text)


class Send(Base):
    """One request to send (an admin's `send --now` or a scheduled dispatch)."""

    __tablename__ = "sends"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[SendKind] = mapped_column(_enum_column(SendKind))


class Delivery(Base):
    """The ledger: one row per (edition, subscriber), so nobody gets the same edition twice."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id"),
        Index("ix_deliveries_send_status", "send_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id", ondelete="CASCADE"))
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum_column(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When a worker took the row for sending; a claim older than the claim timeout belongs
    # to a worker that died mid-message, and may be taken again.
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]

    edition: Mapped[Edition] = relationship()
    subscriber: Mapped[Subscriber] = relationship()
