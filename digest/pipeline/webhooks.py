"""Delivering outgoing webhook events: claimed one UPDATE at a time, POSTed signed.

Each attempt is recorded; a failure is tried again under the project's retry policy until
`MAX_ATTEMPTS`. The events themselves are written by `digest.services.webhooks.record`,
with the change they report.

Posts go out through the guarded transport every fetch uses: a hook on a loopback, private
or link-local address is refused (the attempt says why) unless DIGEST_FETCH_ALLOW_NETWORKS
names its network.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from digest import wiring
from digest.config import Settings
from digest.core.events import EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from digest.core.vocabulary import WebhookEventStatus, utcnow
from digest.store import webhooks as store_webhooks
from digest.store.db import session_scope
from digest.store.models import Webhook, WebhookAttempt, WebhookEvent

if TYPE_CHECKING:  # httpx is imported when events are delivered, not by every send
    import httpx

MAX_ATTEMPTS = 8
TIMEOUT = 10.0


def due_events(settings: Settings, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    with session_scope(settings.database_url) as session:
        return store_webhooks.due_events(session, now, settings.claim_timeout)


def next_delay(settings: Settings, attempt: int) -> float:
    """Seconds before the next try after the `attempt`-th failed (the mail retry policy)."""

    return wiring.retry_policy(settings).delay(attempt)


def deliver_event(settings: Settings, event_id: int, client: httpx.Client) -> str | None:
    """Claim one event, POST it, record the attempt; its status after, or None when another
    sender had it (or it was not due)."""
    import httpx  # loaded already with the client; here for its errors

    from digest.gather.addresses import AddressRefused

    now = utcnow()
    with session_scope(settings.database_url) as session:
        if not store_webhooks.claim_event(session, event_id, now, settings.claim_timeout):
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
    except AddressRefused as exc:  # "refused: 10.0.0.5 is a private address"
        error = str(exc)[:2000]
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
        attempt = WebhookAttempt(
            event_id=event_id,
            attempted_at=done,
            status_code=code,
            error=error,
            duration_ms=elapsed,
        )
        store_webhooks.record_attempt(session, attempt, attempts, values)
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
        client = wiring.webhook_client(settings)
    try:
        for event_id in ids:
            status = deliver_event(settings, event_id, client)
            if status is not None:
                counts[status] = counts.get(status, 0) + 1
    finally:
        if own:
            client.close()
    return counts
