"""Outgoing webhooks: events recorded with the change they report, delivered signed.

`record` writes one `webhook_events` row per webhook that wants the event, in the caller's
session, so an event is committed (or rolled back) with the change itself and a worker
that dies never loses one. `digest.pipeline.webhooks.deliver_due` POSTs them, with an
HMAC-SHA256 signature over the timestamp and the body.

Receivers check `X-Digest-Signature: sha256=HEX` where HEX is
HMAC-SHA256(secret, f"{X-Digest-Timestamp}.{body}"), and refuse old timestamps.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from digest.config import Settings
from digest.core.events import (
    SEND_FINISHED,
    SUBSCRIBER_BOUNCED,
    check_events,
    check_url,
)
from digest.core.vocabulary import WebhookEventStatus, utcnow
from digest.errors import NotFound
from digest.store import webhooks as store_webhooks
from digest.store.db import Session, session_scope
from digest.store.models import Send, Subscriber, Webhook

if TYPE_CHECKING:  # httpx is imported when events are delivered, not by every send
    pass


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
    counts = store_webhooks.event_counts(session)
    return [
        {
            "id": h.id,
            "url": h.url,
            "events": list(h.events),
            "active": h.active,
            "created_at": h.created_at,
            **{s.value: counts.get((h.id, s.value), 0) for s in WebhookEventStatus},
        }
        for h in store_webhooks.all_webhooks(session)
    ]


def attempt_rows(session: Session, webhook_id: int, limit: int = 50) -> list[dict[str, Any]]:
    rows = store_webhooks.attempts_of(session, webhook_id, limit)
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
    hooks = store_webhooks.hooks_wanting(session, event)
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
    store_webhooks.add_events(session, rows)
    return len(rows)


def subscriber_data(sub: Subscriber) -> dict[str, Any]:
    return {"id": sub.id, "email": sub.email, "name": sub.name, "status": str(sub.status)}


def record_subscriber(session: Session, event: str, sub: Subscriber) -> None:
    now = utcnow()
    record(session, event, f"{event}:{sub.id}:{now.timestamp():.6f}", subscriber_data(sub), now)


def record_bounced(session: Session, subscriber_ids: Iterable[int]) -> None:
    for sub in store_webhooks.fresh_subscribers(session, subscriber_ids):
        record_subscriber(session, SUBSCRIBER_BOUNCED, sub)


def record_finished_sends(session: Session, delivery_ids: Sequence[int]) -> None:
    """A `send.finished` event for each send of these copies that has none left to go."""
    if not delivery_ids or not store_webhooks.any_webhook(session):
        return
    send_ids = store_webhooks.sends_of(session, list(delivery_ids)[:1000])
    for send_id in sorted(send_ids):
        counts = store_webhooks.copy_counts(session, send_id)
        if any(counts.get(s) for s in _UNSETTLED):
            continue
        send = session.get(Send, send_id)
        data = {"send_id": send_id, "kind": str(send.kind) if send else None, "counts": counts}
        record(session, SEND_FINISHED, f"{SEND_FINISHED}:{send_id}", data)


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
