"""Database tables: sources, articles, subscribers and their topics, editions and their
articles, sends and the delivery ledger (and the counts of its pruned rows, and the keys
of pruned articles); admin users, API tokens and outgoing webhooks."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from digest.core.vocabulary import (
    DeliveryStatus,
    Frequency,
    MailKind,
    MailStatus,
    SendKind,
    SendStatus,
    SubscriberStatus,
    WebhookEventStatus,
    utcnow,
)


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


class Topic(Base):
    """A topic name, lowercased and trimmed (`digest.topics.normalize_topics`)."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)

    def __repr__(self) -> str:
        return f"Topic({self.name!r})"


# Which topics a source covers; which a subscriber wants (none: every topic).
source_topics = Table(
    "source_topics",
    Base.metadata,
    Column("source_id", ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_source_topics_topic_id", "topic_id"),
)
subscriber_topics = Table(
    "subscriber_topics",
    Base.metadata,
    Column("subscriber_id", ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_subscriber_topics_topic_id", "topic_id"),
)


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_fetched_at: Mapped[datetime | None]
    last_ok_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    error_count: Mapped[int] = mapped_column(default=0)
    # Seams for conditional GET.
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(200))
    # "feed", "article" (one article page) or "section" (a page whose article links are
    # followed).
    kind: Mapped[str] = mapped_column(String(20), default="feed", server_default="feed")
    # How the kind came: "found" by reading the source, "set" by hand (kept), or "auto"
    # (to be found again at the next read); and why it is of its kind, in words.
    kind_origin: Mapped[str] = mapped_column(String(10), default="found", server_default="found")
    kind_reason: Mapped[str | None] = mapped_column(Text)
    # The last read's accounting: entries the source had, how many were stored, and each
    # one left out with its reason (digest.gather.LeftOut.as_dict).
    last_entries: Mapped[int | None]
    last_stored: Mapped[int | None]
    last_left_out: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # Fetch each entry's page for its full text: "auto" (teasers only), "always", "never".
    full_text_mode: Mapped[str] = mapped_column(String(10), default="auto", server_default="auto")
    # A source that keeps failing is left alone until then (exponential backoff).
    retry_after: Mapped[datetime | None]
    not_modified: Mapped[bool] = mapped_column(default=False, server_default=false())
    paused: Mapped[bool] = mapped_column(default=False, server_default=false())

    articles: Mapped[list[Article]] = relationship(
        back_populates="source", cascade="all, delete-orphan", passive_deletes=True
    )
    topics: Mapped[list[Topic]] = relationship(secondary=source_topics, order_by=Topic.name)

    @property
    def topic_names(self) -> list[str]:
        return [t.name for t in self.topics]


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
    language: Mapped[str | None] = mapped_column(String(35))  # BCP 47, e.g. "en", "zh-Hans"
    image_url: Mapped[str | None] = mapped_column(String(2000))  # lead image, by URL
    full_text: Mapped[bool] = mapped_column(default=False, server_default=false())  # from the page

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
    # Weekly: the local weekday, 0 Monday ... 6 Sunday. Monthly: the local day of the
    # month, 1-28, or -1 (digest.schedule.LAST_DAY) for the last day of each month.
    weekday: Mapped[int] = mapped_column(default=0, server_default="0")
    day_of_month: Mapped[int] = mapped_column(default=1, server_default="1")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    # Highest article id already delivered: what is "new" for this subscriber.
    last_article_id: Mapped[int] = mapped_column(default=0)
    last_sent_at: Mapped[datetime | None]
    # When a scheduled send last found this subscriber due with nothing new: that slot is
    # used up, and they wait for their next one (digest.schedule).
    slot_checked_at: Mapped[datetime | None]
    # Bounces (digest.services.bounces): hard ones in all, soft ones since the last copy accepted.
    hard_bounces: Mapped[int] = mapped_column(default=0, server_default="0")
    soft_bounces: Mapped[int] = mapped_column(default=0, server_default="0")
    last_bounce: Mapped[str | None] = mapped_column(Text)
    bounced_at: Mapped[datetime | None]

    # Empty: every topic, so every source.
    topics: Mapped[list[Topic]] = relationship(secondary=subscriber_topics, order_by=Topic.name)

    @property
    def topic_names(self) -> list[str]:
        return [t.name for t in self.topics]


class EditionArticle(Base):
    """One article of an edition, at its place in the digest (0: first).

    Removing a source deletes its articles and, by the cascade, their rows here: an old
    edition keeps its rendered HTML and text (what was sent), its content_key (the hash of
    the ids it was made of) and the rows of the articles that still exist.
    """

    __tablename__ = "edition_articles"
    __table_args__ = (Index("ix_edition_articles_article_id", "article_id"),)

    edition_id: Mapped[int] = mapped_column(
        ForeignKey("editions.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int]


class Edition(Base):
    """One distinct digest content, rendered once and shared by every subscriber who gets it."""

    __tablename__ = "editions"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    subject: Mapped[str] = mapped_column(String(300))
    html: Mapped[str] = mapped_column(Text)  # CSS inlined, with per-subscriber placeholders
    text: Mapped[str] = mapped_column(Text)

    # Loaded with the edition (a few small rows), so its ids stay readable once detached.
    entries: Mapped[list[EditionArticle]] = relationship(
        order_by=EditionArticle.position,
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )

    @property
    def article_ids(self) -> list[int]:
        """The ids of its articles still stored, in digest order."""
        return [e.article_id for e in self.entries]


class Send(Base):
    """One request to send (an admin's `send --now` or a scheduled dispatch)."""

    __tablename__ = "sends"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[SendKind] = mapped_column(_enum_column(SendKind))
    # The error budget (digest.core.budget): paused after too many failures in a row.
    status: Mapped[SendStatus] = mapped_column(
        _enum_column(SendStatus), default=SendStatus.ACTIVE, server_default="active"
    )
    paused_reason: Mapped[str | None] = mapped_column(Text)
    failures_in_row: Mapped[int] = mapped_column(default=0, server_default="0")


class Delivery(Base):
    """The ledger: one row per (edition, subscriber), so nobody gets the same edition twice."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id"),
        Index("ix_deliveries_send_status", "send_id", "status"),
        Index("ix_deliveries_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_deliveries_message_id", "message_id"),  # a DSN finds its copy by it
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
    # A deferred copy's next try; for a pending one, when it was last handed to a queue.
    next_attempt_at: Mapped[datetime | None]

    edition: Mapped[Edition] = relationship()
    subscriber: Mapped[Subscriber] = relationship()


class DeliveryTally(Base):
    """Settled deliveries past DIGEST_DELIVERY_RETENTION_DAYS, folded into counts.

    One row per (send, edition, state, day sent) of one pruning batch: the reports add
    these counts to those of the ledger's rows, so a send's, an edition's and a day's
    totals stay what they were. `sent_on` is the UTC day of `sent_at` (None: never sent);
    `first_claimed_at` and `last_sent_at` keep a send's span. Errors and addresses are
    not kept: only the counts.
    """

    __tablename__ = "delivery_tallies"
    __table_args__ = (
        Index("ix_delivery_tallies_send_id", "send_id"),
        Index("ix_delivery_tallies_edition_id", "edition_id"),
        Index("ix_delivery_tallies_sent_on", "sent_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id", ondelete="CASCADE"))
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    status: Mapped[DeliveryStatus] = mapped_column(_enum_column(DeliveryStatus))
    sent_on: Mapped[date | None]
    count: Mapped[int]
    first_claimed_at: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]
    folded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ForgottenArticle(Base):
    """What is left of an article pruned past DIGEST_ARTICLE_RETENTION_DAYS: its key in
    its source and its link, so that a feed or a page still listing it does not bring it
    back as new."""

    __tablename__ = "forgotten_articles"
    __table_args__ = (
        UniqueConstraint("source_id", "key"),
        Index("ix_forgotten_articles_link", "link"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(2000))
    link: Mapped[str | None] = mapped_column(String(2000))
    forgotten_at: Mapped[datetime] = mapped_column(default=utcnow)


class TransactionalMail(Base):
    """A record of one transactional mail: what was written, to whom, and what became of it.

    The subject and bodies are rendered when the mail is queued, so the row is what was
    sent; a retry sends the same text with the same Message-ID.
    """

    __tablename__ = "transactional_mails"
    __table_args__ = (Index("ix_transactional_mails_subscriber_id", "subscriber_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    kind: Mapped[MailKind] = mapped_column(_enum_column(MailKind))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[MailStatus] = mapped_column(_enum_column(MailStatus), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class AdminUser(Base):
    """Someone who may use /admin and the API: an address and an argon2 password hash."""

    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class ApiToken(Base):
    """A per-admin Bearer token for the API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_admin_user_id", "admin_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]


class AdminSession(Base):
    """A signed-in admin console: the SHA-256 of the random id its cookie carries, and
    what made it (an admin user's password, an API token, or DIGEST_ADMIN_TOKEN, whose
    keyed hash is kept so that changing it ends the session)."""

    __tablename__ = "admin_sessions"
    __table_args__ = (
        Index("ix_admin_sessions_admin_user_id", "admin_user_id"),
        Index("ix_admin_sessions_api_token_id", "api_token_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    admin_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_users.id", ondelete="CASCADE")
    )
    api_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE")
    )
    admin_token_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Webhook(Base):
    """An outgoing webhook: where to POST which events, and the secret that signs them."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(Base):
    """One event for one webhook, written in the transaction of the change it reports.

    `key` makes an event once per webhook (e.g. "send.finished:12"), whoever notices it."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("webhook_id", "key"),
        Index("ix_webhook_events_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(50))
    key: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # the JSON sent, signed as these exact bytes
    status: Mapped[WebhookEventStatus] = mapped_column(
        _enum_column(WebhookEventStatus), default=WebhookEventStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One try at delivering a webhook event: the receiver's status code or the error."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_event_id", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(default=0)
