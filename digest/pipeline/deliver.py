"""Deliver: claim each planned copy, hand it to a transport, record what happened.

A copy is claimed before it is sent and recorded right after, so a retried batch, a
second send or two workers never mail anyone twice. Temporary failures go round again
under one `RetryPolicy`, whether the rounds run in this process or as Celery retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import and_, or_, update
from sqlalchemy.orm import Session

from digest import bounces
from digest.config import Settings
from digest.db import session_scope
from digest.errors import InvalidInput
from digest.links import subscriber_links
from digest.mail import PermanentError, TemporaryError, Transport, build_message, message_id_for
from digest.mail.message import domain_of, list_id_for
from digest.mail.outgoing import Finisher
from digest.mail.transports import Bounced, SoftBounce
from digest.models import Delivery, DeliveryStatus, Subscriber, SubscriberStatus, utcnow
from digest.render import RenderedEdition, personalize
from digest.sends import ErrorBudget, active_send


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how late a temporary failure (SMTP 4xx, a dropped connection) is tried
    again: after base, 2*base, 4*base... seconds, at most `max_delay`, `max_attempts` in all."""

    max_attempts: int = 5
    base_delay: float = 30.0
    max_delay: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_attempts=settings.delivery_max_attempts, base_delay=settings.retry_base_delay
        )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the `attempt`-th try (1-based) failed."""
        return min(self.base_delay * 2 ** (attempt - 1), self.max_delay)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)  # temporary failures, still pending
    skipped: int = 0  # already taken by another worker, or the subscriber left
    bounced: int = 0


# Builds one subscriber's message from the edition; raising fails that copy only.
Composer = Callable[[Settings, RenderedEdition, Subscriber, str, datetime], EmailMessage]


def compose(
    settings: Settings, rendered: RenderedEdition, sub: Subscriber, message_id: str, now: datetime
) -> EmailMessage:
    """One subscriber's copy: the edition with their name and links filled in."""
    links = subscriber_links(settings.base_url, settings.secret_key, sub.id)
    html, text = personalize(
        rendered,
        name=sub.name,
        unsubscribe_url=links.unsubscribe,
        preferences_url=links.preferences,
    )
    return build_message(
        sender=settings.from_address,
        to_address=sub.email,
        to_name=sub.name,
        subject=rendered.subject,
        html=html,
        text=text,
        message_id=message_id,
        list_id=list_id_for(settings.list_name, settings.base_url),
        unsubscribe_url=links.unsubscribe,
        date=now,
    )


def claim(session: Session, delivery_id: int, claim_timeout: float) -> bool:
    """Take a delivery for sending: pending ones, or ones whose sender died long ago.

    One UPDATE with the condition in its WHERE: of two workers, only one sees a row count.
    """
    now = utcnow()
    abandoned = and_(
        Delivery.status == DeliveryStatus.SENDING,
        Delivery.claimed_at < now - timedelta(seconds=claim_timeout),
    )
    claimed = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            or_(Delivery.status == DeliveryStatus.PENDING, abandoned),
            active_send(),  # a paused or cancelled send's copies stay where they are
        )
        .values(status=DeliveryStatus.SENDING, attempts=Delivery.attempts + 1, claimed_at=now)
    )
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def deliver_batch(
    settings: Settings,
    delivery_ids: Sequence[int],
    transport: Transport,
    *,
    policy: RetryPolicy | None = None,
    on_settled: Callable[[], None] | None = None,
    compose: Composer = compose,
) -> DeliveryReport:
    """Send each pending delivery once; record the outcome of each as it happens.

    `on_settled` is called once per copy that reached its end (sent, failed or skipped),
    not for a copy left pending for a retry.
    """
    batch = _Batch(settings, transport, policy or RetryPolicy.from_settings(settings), compose)
    for delivery_id in delivery_ids:
        settled = batch.deliver(delivery_id)
        if settled and on_settled:
            on_settled()
    return batch.report


class _Batch:
    """What the deliveries of one batch share: the transport, and each edition read once."""

    def __init__(
        self, settings: Settings, transport: Transport, policy: RetryPolicy, compose: Composer
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.policy = policy
        self.compose = compose
        self.report = DeliveryReport()
        self.domain = domain_of(settings.from_address)
        self.finisher = Finisher(settings)  # VERP return path and DKIM, when configured
        self.budget = ErrorBudget(settings)
        # The edition's HTML is the big part of a copy: read it once per batch, not per copy.
        self.editions: dict[int, tuple[RenderedEdition, int]] = {}

    def edition(self, delivery: Delivery) -> tuple[RenderedEdition, int]:
        """The rendered edition and its newest article still stored (0: none left)."""
        if delivery.edition_id not in self.editions:
            e = delivery.edition
            rendered = RenderedEdition(subject=e.subject, html=e.html, text=e.text)
            self.editions[e.id] = (rendered, max(e.article_ids, default=0))
        return self.editions[delivery.edition_id]

    def deliver(self, delivery_id: int) -> bool:
        """Deliver one copy; True when it is settled, False when it waits for a retry."""
        settings, report = self.settings, self.report
        with session_scope(settings.database_url) as session:
            if not claim(session, delivery_id, settings.claim_timeout):
                report.skipped += 1
                return True
        with session_scope(settings.database_url) as session:
            delivery = session.get_one(Delivery, delivery_id)
            sub = delivery.subscriber
            if sub.status != SubscriberStatus.CONFIRMED:
                delivery.status = DeliveryStatus.SKIPPED
                delivery.last_error = f"subscriber is {sub.status}"
                report.skipped += 1
                return True
            rendered, newest_article = self.edition(delivery)
            now = utcnow()
            message_id = message_id_for(delivery.edition_id, sub.id, self.domain)
            try:
                msg = self.compose(settings, rendered, sub, message_id, now)
                self.finisher.send(self.transport, msg, delivery_id, sub.email)
            except Bounced as exc:  # 5xx to RCPT or DATA: one attempt, no retry
                bounces.record_bounce(session, settings, delivery, hard=True, reason=str(exc))
                report.bounced += 1
                return True
            except TemporaryError as exc:
                delivery.last_error = str(exc)
                if delivery.attempts >= self.policy.max_attempts:
                    if isinstance(exc, SoftBounce):  # refused for now, to the end: soft bounce
                        bounces.record_bounce(
                            session, settings, delivery, hard=False, reason=str(exc)
                        )
                        report.bounced += 1
                        return True
                    delivery.status = DeliveryStatus.FAILED
                    self.budget.failed(session, delivery.send_id, str(exc))
                    report.failed.append((delivery_id, str(exc)))
                    return True
                delivery.status = DeliveryStatus.PENDING
                report.retry.append(delivery_id)
                return False
            except Exception as exc:  # permanent refusals, and bugs: this copy only
                error = (
                    str(exc)
                    if isinstance(exc, (PermanentError, InvalidInput))
                    else (f"unexpected {type(exc).__name__}: {exc}")
                )
                delivery.status = DeliveryStatus.FAILED
                delivery.last_error = error
                self.budget.failed(session, delivery.send_id, error)
                report.failed.append((delivery_id, error))
                return True
            delivery.status = DeliveryStatus.SENT
            delivery.sent_at = now
            delivery.message_id = message_id
            sub.last_article_id = max(sub.last_article_id, newest_article)
            sub.last_sent_at = now
            bounces.record_accepted(sub)
            self.budget.accepted(session, delivery.send_id)
            report.sent += 1
            return True


def deliver_in_process(
    settings: Settings,
    delivery_ids: Sequence[int],
    transport: Transport,
    *,
    policy: RetryPolicy | None = None,
    on_settled: Callable[[], None] | None = None,
    on_wait: Callable[[int, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    compose: Composer = compose,
) -> DeliveryReport:
    """deliver_batch with the retries a queue would otherwise give, under the same policy.

    `on_wait(count, seconds)` is told before each pause how many copies wait for a retry.
    """
    policy = policy or RetryPolicy.from_settings(settings)
    total = DeliveryReport()
    pending = list(delivery_ids)
    for attempt in range(1, policy.max_attempts + 1):
        report = deliver_batch(
            settings, pending, transport, policy=policy, on_settled=on_settled, compose=compose
        )
        total.sent += report.sent
        total.failed += report.failed
        total.skipped += report.skipped
        total.bounced += report.bounced
        pending = report.retry
        if not pending or attempt == policy.max_attempts:
            break
        if on_wait:
            on_wait(len(pending), policy.delay(attempt))
        sleep(policy.delay(attempt))
    total.retry = pending
    return total
