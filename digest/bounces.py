"""Bounces: what a refusal does to the copy and to its subscriber.

One path for every source of bounces: an SMTP 5xx at RCPT or DATA, a 4xx that outlasted
the retry window, and DSNs read from a file, a pipe or the webhook. A hard bounce counts
towards `DIGEST_BOUNCE_LIMIT` (default 1), soft ones towards `DIGEST_SOFT_BOUNCE_LIMIT`
in a row (default 3; a copy accepted starts the row again). A subscriber over either
limit is suppressed (status `bounced`): planning only ever picks confirmed subscribers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.db import session_scope
from digest.errors import InvalidInput, NotFound
from digest.mail.dsn import Dsn, RecipientReport, parse_dsn
from digest.mail.verp import delivery_in_headers
from digest.models import Delivery, DeliveryStatus, Subscriber, SubscriberStatus, utcnow

_OUR_MESSAGE_ID = re.compile(r"<digest\.e(\d+)\.s(\d+)@[^>]+>")


@dataclass(frozen=True)
class BounceOutcome:
    delivery_id: int
    email: str
    hard: bool
    reason: str
    suppressed: bool  # the subscriber is (now) suppressed


def record_bounce(
    session: Session,
    settings: Settings,
    delivery: Delivery,
    *,
    hard: bool,
    reason: str,
    mark_copy: bool = True,
    now: datetime | None = None,
) -> BounceOutcome:
    """Count one bounce against the copy's subscriber; suppress them past the limit."""
    now = now or utcnow()
    sub = delivery.subscriber
    if mark_copy:
        delivery.status = DeliveryStatus.BOUNCED
        delivery.last_error = reason
    if hard:
        sub.hard_bounces += 1
    else:
        sub.soft_bounces += 1
    sub.last_bounce = reason
    over = sub.hard_bounces >= settings.bounce_limit or (
        sub.soft_bounces >= settings.soft_bounce_limit
    )
    if over and sub.status in (SubscriberStatus.CONFIRMED, SubscriberStatus.PENDING):
        sub.status = SubscriberStatus.BOUNCED
        sub.bounced_at = now
    return BounceOutcome(
        delivery.id, sub.email, hard, reason, sub.status == SubscriberStatus.BOUNCED
    )


def record_accepted(sub: Subscriber) -> None:
    """A copy was accepted: soft bounces count in a row, so the row starts again."""
    if sub.soft_bounces:
        sub.soft_bounces = 0


def _delivery_by_message_id(session: Session, message_id: str) -> Delivery | None:
    match = _OUR_MESSAGE_ID.fullmatch(message_id.strip())
    if match:
        edition_id, subscriber_id = int(match.group(1)), int(match.group(2))
        return session.scalars(
            select(Delivery).where(
                Delivery.edition_id == edition_id, Delivery.subscriber_id == subscriber_id
            )
        ).first()
    return session.scalars(select(Delivery).where(Delivery.message_id == message_id)).first()


def _find_delivery(session: Session, settings: Settings, dsn: Dsn) -> tuple[Delivery, str]:
    if settings.bounce_address:
        delivery_id = delivery_in_headers(
            settings.bounce_address, settings.secret_key, list(dsn.addressed_to)
        )
        if delivery_id is not None:
            delivery = session.get(Delivery, delivery_id)
            if delivery is not None:
                return delivery, "return path"
    if dsn.original_message_id:
        delivery = _delivery_by_message_id(session, dsn.original_message_id)
        # The Message-ID can be guessed: it only counts when the DSN names the same person.
        if delivery is not None and any(
            r.recipient.lower() == delivery.subscriber.email.lower() for r in dsn.recipients
        ):
            return delivery, "Message-ID"
    raise NotFound(
        "no delivery found for this DSN: neither a signed return path "
        "(DIGEST_BOUNCE_ADDRESS) nor a Message-ID of ours sent to the address it reports on"
    )


def _report_for(dsn: Dsn, email: str) -> RecipientReport | None:
    bounces = [r for r in dsn.recipients if r.is_bounce]
    mine = [r for r in bounces if r.recipient.lower() == email.lower()]
    # A VERP DSN is about one copy with one recipient, whatever the MTA rewrote it to.
    return (mine or bounces or [None])[0]


def process_dsn(settings: Settings, data: bytes) -> dict[str, object]:
    """Apply one DSN; returns what it did. Not a DSN: InvalidInput; not ours: NotFound."""
    dsn = parse_dsn(data)
    with session_scope(settings.database_url) as session:
        delivery, found_by = _find_delivery(session, settings, dsn)
        email = delivery.subscriber.email
        report = _report_for(dsn, email)
        base = {"delivery_id": delivery.id, "email": email, "found_by": found_by}
        if report is None:
            actions = ", ".join(sorted({r.action or "none" for r in dsn.recipients}))
            return {**base, "result": f"not a bounce ({actions})", "suppressed": False}
        if delivery.status == DeliveryStatus.BOUNCED:
            return {**base, "result": "already recorded", "suppressed": False}
        reason = f"DSN {report.status}" + (f": {report.diagnostic}" if report.diagnostic else "")
        outcome = record_bounce(session, settings, delivery, hard=report.hard, reason=reason)
        return {
            **base,
            "result": "hard bounce" if report.hard else "soft bounce",
            "status": report.status,
            "suppressed": outcome.suppressed,
        }


def read_message(source: str, stdin: bytes | None = None) -> bytes:
    """The bytes of FILE.eml, or of standard input for '-'; a clear error otherwise."""
    if source == "-":
        return stdin or b""
    try:
        with open(source, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise InvalidInput(f"cannot read {source}: {exc.strerror or exc}") from None
