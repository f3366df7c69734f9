"""Bounces: what a refusal does to the copy and to its subscriber.

One path for every source of bounces: an SMTP 5xx at RCPT or DATA, a 4xx that outlasted
the retry window, and DSNs read from a file, a pipe or the webhook. A hard bounce counts
towards `DIGEST_BOUNCE_LIMIT` (default 1), soft ones towards `DIGEST_SOFT_BOUNCE_LIMIT`
in a row (default 3; a copy accepted starts the row again). A subscriber over either
limit is suppressed (status `bounced`): planning only ever picks confirmed subscribers.
A copy accepted by the server starts the row of soft bounces again (the sending path
writes `soft_bounces = 0` with the subscriber's other columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from digest.config import Settings
from digest.core.verp import delivery_in_headers
from digest.core.vocabulary import DeliveryStatus, SubscriberStatus, utcnow
from digest.errors import InvalidInput, NotFound
from digest.mail.dsn import Dsn, RecipientReport, parse_dsn
from digest.services import webhooks
from digest.store import bounces as store_bounces
from digest.store.db import Session, session_scope
from digest.store.models import Delivery


@dataclass(frozen=True)
class Bounce:
    subscriber_id: int
    hard: bool
    reason: str


def count_bounces(
    session: Session, settings: Settings, found: list[Bounce], now: datetime | None = None
) -> set[int]:
    """Count bounces against their subscribers and suppress those past a limit.

    The copies themselves are marked by the caller (the sending path writes its rows in
    bulk). Returns the ids of the subscribers suppressed now.
    """
    if not found:
        return set()
    now = now or utcnow()
    for b in found:
        store_bounces.add_bounce(session, b.subscriber_id, hard=b.hard, reason=b.reason)
    suppressed = store_bounces.over_limits(
        session,
        sorted({b.subscriber_id for b in found}),
        hard_limit=settings.bounce_limit,
        soft_limit=settings.soft_bounce_limit,
    )
    if suppressed:
        store_bounces.suppress(session, suppressed, now)
        webhooks.record_bounced(session, suppressed)
    return suppressed


def _find_delivery(session: Session, settings: Settings, dsn: Dsn) -> tuple[Delivery, str]:
    signed: int | None = None
    if settings.bounce_address:
        signed = delivery_in_headers(
            settings.bounce_address, settings.secret_key, list(dsn.addressed_to)
        )
        if signed is not None:
            delivery = session.get(Delivery, signed)
            if delivery is not None:
                return delivery, "return path"
    if dsn.original_message_id:
        delivery = store_bounces.delivery_by_message_id(session, dsn.original_message_id.strip())
        # It only counts when the DSN reports on the person that copy went to.
        if delivery is not None and any(
            r.recipient.lower() == delivery.subscriber.email.lower() for r in dsn.recipients
        ):
            return delivery, "Message-ID"
    if signed is not None:
        # Signed by us, so the copy was ours: its row went with its subscriber or its
        # edition, or was folded into counts past the retention (digest.pipeline.retention).
        # Nothing is counted: the row that said whom it went to is no more.
        kept = (
            f"deliveries are kept {settings.delivery_retention_days} days "
            "(DIGEST_DELIVERY_RETENTION_DAYS), then folded into counts"
            if settings.delivery_retention_days
            else "its subscriber or its edition was removed"
        )
        raise NotFound(
            f"delivery {signed} of this DSN's return path is no longer kept: {kept}; "
            "the bounce is not counted"
        )
    raise NotFound(
        "no delivery found for this DSN: neither a signed return path "
        "(DIGEST_BOUNCE_ADDRESS) nor a Message-ID of ours sent to the address it reports on"
    )


def _report_for(dsn: Dsn, email: str) -> RecipientReport | None:
    bounces = [r for r in dsn.recipients if r.is_bounce]
    mine = [r for r in bounces if r.recipient.lower() == email.lower()]
    # A VERP DSN is about one copy with one recipient, whatever the MTA rewrote it to.
    return next(iter(mine or bounces), None)


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
        delivery.status = DeliveryStatus.BOUNCED
        delivery.last_error = reason
        session.flush()
        count_bounces(session, settings, [Bounce(delivery.subscriber_id, report.hard, reason)])
        status = store_bounces.subscriber_status(session, delivery.subscriber_id)
        return {
            **base,
            "result": "hard bounce" if report.hard else "soft bounce",
            "status": report.status,
            "suppressed": status == SubscriberStatus.BOUNCED,
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
