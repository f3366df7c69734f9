"""Outgoing webhooks: events recorded with the change they report, delivered signed.

`record` writes one `webhook_events` row per webhook that wants the event, in the caller's
session, so an event is committed (or rolled back) with the change itself and a worker
that dies never loses one. `deliver_due` claims due rows one UPDATE at a time, POSTs the
body with an HMAC-SHA256 signature over the timestamp and the body, records each attempt,
and retries a failure under the project's `RetryPolicy` until `MAX_ATTEMPTS`.

Receivers check `X-Digest-Signature: sha256=HEX` where HEX is
HMAC-SHA256(secret, f"{X-Digest-Timestamp}.{body}"), and refuse old timestamps.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from digest import wiring
from digest.config import Settings
from digest.core.events import (
    EVENT_HEADER,
    SEND_FINISHED,
    SIGNATURE_HEADER,
    SUBSCRIBER_BOUNCED,
    TIMESTAMP_HEADER,
    check_events,
    check_url,
    sign,
)
from digest.core.vocabulary import WebhookEventStatus, utcnow
from digest.errors import NotFound
from digest.store.db import insert_ignore, session_scope
from digest.store.models import Delivery, Send, Subscriber, Webhook, WebhookAttempt, WebhookEvent

if TYPE_CHECKING:  # httpx is imported when events are delivered, not by every send
    import httpx


MAX_ATTEMPTS = 8
TIMEOUT = 10.0
# Copies still on their way: a send with none of these left is finished.
_UNSETTLED = ("pending", "sending", "deferred")


# --- managing webhooks ----------------------------------------------------------------------


def add_webhook(
    session: Session, url: str, events: Sequence[str], secret: str | None = None
) -> Webhook:
    hook = Webhook(
        url=check_url(url),
        events=check_events(events),
        secret=secret or secrets.token_urlsafe(32),
        created_at=utcnow(),
    )
    session.add(hook)
    session.flush()
    return hook


def remove_webhook(session: Session, webhook_id: int) -> None:
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound(f"no webhook {webhook_id}")
    session.delete(hook)


def webhook_rows(session: Session) -> list[dict[str, Any]]:
    counts: dict[tuple[int, str], int] = {
        (w, str(getattr(s, "value", s))): n
        for w, s, n in session.execute(
            select(WebhookEvent.webhook_id, WebhookEvent.status, func.count()).group_by(
                WebhookEvent.webhook_id, WebhookEvent.status
            )
        )
    }
    return [
        {
            "id": h.id,
            "url": h.url,
            "events": list(h.events),
            "active": h.active,
            "created_at": h.created_at,
            **{s.value: counts.get((h.id, s.value), 0) for s in WebhookEventStatus},
        }
        for h in session.scalars(select(Webhook).order_by(Webhook.id))
    ]


def attempt_rows(session: Session, webhook_id: int, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.execute(
        select(WebhookEvent.id, WebhookEvent.event, WebhookAttempt)
        .join(WebhookAttempt, WebhookAttempt.event_id == WebhookEvent.id)
        .where(WebhookEvent.webhook_id == webhook_id)
        .order_by(WebhookAttempt.id.desc())
        .limit(limit)
    )
    return [
        {
            "event_id": event_id,
            "event": event,
            "attempted_at": a.attempted_at,
            "status_code": a.status_code,
            "error": a.error,
            "duration_ms": a.duration_ms,
        }
        for event_id, event, a in rows
    ]


# --- recording events -----------------------------------------------------------------------


def record(
    session: Session, event: str, key: str, data: dict[str, Any], now: datetime | None = None
) -> int:
    """Write the event for every active webhook that wants it, in the caller's transaction.

    `key` names the occurrence: the same key for the same webhook is written once."""
    hooks = [
        h.id
        for h in session.scalars(select(Webhook).where(Webhook.active.is_(True)))
        if event in h.events
    ]
    if not hooks:
        return 0
    now = now or utcnow()
    body = json.dumps(
        {"event": event, "id": key, "created_at": now.isoformat(), "data": data},
        sort_keys=True,
        default=str,
    )
    rows = [
        {
            "webhook_id": h,
            "event": event,
            "key": key[:200],
            "body": body,
            "status": WebhookEventStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for h in hooks
    ]
    session.execute(insert_ignore(session, WebhookEvent), rows)
    return len(rows)


def subscriber_data(sub: Subscriber) -> dict[str, Any]:
    return {"id": sub.id, "email": sub.email, "name": sub.name, "status": str(sub.status)}


def record_subscriber(session: Session, event: str, sub: Subscriber) -> None:
    now = utcnow()
    record(session, event, f"{event}:{sub.id}:{now.timestamp():.6f}", subscriber_data(sub), now)


def record_bounced(session: Session, subscriber_ids: Iterable[int]) -> None:
    query = select(Subscriber).where(Subscriber.id.in_(list(subscriber_ids)))
    for sub in session.scalars(query.execution_options(populate_existing=True)):
        record_subscriber(session, SUBSCRIBER_BOUNCED, sub)


def record_finished_sends(session: Session, delivery_ids: Sequence[int]) -> None:
    """A `send.finished` event for each send of these copies that has none left to go."""
    if not delivery_ids or not session.scalar(select(func.count()).select_from(Webhook)):
        return
    send_ids = set(
        session.scalars(select(Delivery.send_id).where(Delivery.id.in_(list(delivery_ids)[:1000])))
    )
    for send_id in sorted(send_ids):
        counts = {
            str(getattr(s, "value", s)): n
            for s, n in session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.send_id == send_id)
                .group_by(Delivery.status)
            )
        }
        if any(counts.get(s) for s in _UNSETTLED):
            continue
        send = session.get(Send, send_id)
        data = {"send_id": send_id, "kind": str(send.kind) if send else None, "counts": counts}
        record(session, SEND_FINISHED, f"{SEND_FINISHED}:{send_id}", data)


# --- delivering events ----------------------------------------------------------------------


def _claimable(now: datetime, claim_timeout: float) -> Any:
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


def due_events(settings: Settings, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    with session_scope(settings.database_url) as session:
        return list(
            session.scalars(
                select(WebhookEvent.id)
                .where(_claimable(now, settings.claim_timeout))
                .order_by(WebhookEvent.id)
            )
        )


def next_delay(settings: Settings, attempt: int) -> float:
    """Seconds before the next try after the `attempt`-th failed (the mail retry policy)."""

    return wiring.retry_policy(settings).delay(attempt)


def deliver_event(settings: Settings, event_id: int, client: httpx.Client) -> str | None:
    """Claim one event, POST it, record the attempt; its status after, or None when another
    sender had it (or it was not due)."""
    import httpx  # loaded already with the client; here for its errors

    now = utcnow()
    with session_scope(settings.database_url) as session:
        claimed = session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == event_id, _claimable(now, settings.claim_timeout))
            .values(status=WebhookEventStatus.SENDING, claimed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            return None
        event = session.get_one(WebhookEvent, event_id)
        hook = session.get_one(Webhook, event.webhook_id)
        url, secret, body, name = hook.url, hook.secret, event.body.encode(), event.event
        attempts = event.attempts
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "digest-webhooks",
        EVENT_HEADER: name,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    started = time.monotonic()
    code: int | None = None
    error: str | None = None
    try:
        response = client.post(url, content=body, headers=headers, timeout=TIMEOUT)
        code = response.status_code
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
    elapsed = int((time.monotonic() - started) * 1000)
    done = utcnow()
    attempts += 1
    if error is None:
        values: dict[str, Any] = {"status": WebhookEventStatus.DELIVERED, "delivered_at": done}
    elif attempts >= MAX_ATTEMPTS:
        values = {"status": WebhookEventStatus.FAILED}
    else:
        values = {
            "status": WebhookEventStatus.PENDING,
            "next_attempt_at": done + timedelta(seconds=next_delay(settings, attempts)),
        }
    with session_scope(settings.database_url) as session:
        session.add(
            WebhookAttempt(
                event_id=event_id,
                attempted_at=done,
                status_code=code,
                error=error,
                duration_ms=elapsed,
            )
        )
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == event_id)
            .values(attempts=attempts, last_error=error, claimed_at=None, **values)
            .execution_options(synchronize_session=False)
        )
    return str(values["status"])


def deliver_due(
    settings: Settings, ids: Sequence[int] | None = None, client: httpx.Client | None = None
) -> dict[str, int]:
    """Try every due event (or these) once; counted by what became of them."""
    ids = due_events(settings) if ids is None else ids
    counts: dict[str, int] = {}
    if not ids:
        return counts
    own = client is None
    if client is None:
        import httpx

        client = httpx.Client(follow_redirects=False)
    try:
        for event_id in ids:
            status = deliver_event(settings, event_id, client)
            if status is not None:
                counts[status] = counts.get(status, 0) + 1
    finally:
        if own:
            client.close()
    return counts


# --- the use cases of the admin pages and the API, each in its own transaction -------------


def list_webhooks(settings: Settings) -> list[dict[str, Any]]:
    """Every webhook with its events counted by state."""
    with session_scope(settings.database_url) as session:
        return webhook_rows(session)


def create_webhook(
    settings: Settings, url: str, events: Sequence[str], secret: str | None = None
) -> dict[str, Any]:
    """Add a webhook; the answer is the only time its secret is shown."""
    with session_scope(settings.database_url) as session:
        hook = add_webhook(session, url, events, secret)
        return {"id": hook.id, "url": hook.url, "events": hook.events, "secret": hook.secret}


def delete_webhook(settings: Settings, webhook_id: int) -> None:
    with session_scope(settings.database_url) as session:
        remove_webhook(session, webhook_id)


def webhook_attempts(settings: Settings, webhook_id: int) -> list[dict[str, Any]]:
    """A webhook's last attempts, newest first."""
    with session_scope(settings.database_url) as session:
        return attempt_rows(session, webhook_id)


def webhook_details(
    settings: Settings, webhook_id: int
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """A webhook's row (None when there is no such webhook) and its last attempts."""
    with session_scope(settings.database_url) as session:
        hook = next((h for h in webhook_rows(session) if h["id"] == webhook_id), None)
        return hook, attempt_rows(session, webhook_id)
