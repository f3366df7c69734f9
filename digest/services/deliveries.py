"""Deliveries: the copies of editions, one per subscriber and send, as listed."""

from __future__ import annotations

from typing import Any

from digest.config import Settings
from digest.core.vocabulary import DeliveryStatus
from digest.errors import InvalidField
from digest.services.paging import page_of
from digest.store import deliveries
from digest.store.db import session_scope


def check_delivery_status(value: str | None) -> DeliveryStatus | None:
    """A delivery state as typed (None when not given), or InvalidField("status")."""
    if not value:
        return None
    try:
        return DeliveryStatus(value)
    except ValueError:
        raise InvalidField(
            "status", f"must be one of {', '.join(DeliveryStatus)}, not {value!r}"
        ) from None


def delivery_listing(
    settings: Settings,
    *,
    send_id: int | None = None,
    edition_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of deliveries in id order, of one send, one edition and one state if given."""
    wanted = check_delivery_status(status)
    with session_scope(settings.database_url) as session:
        total, rows = deliveries.delivery_page(
            session,
            send_id=send_id,
            edition_id=edition_id,
            status=wanted,
            limit=limit,
            offset=offset,
        )
        items = [
            {
                "id": d.id,
                "send_id": d.send_id,
                "edition_id": d.edition_id,
                "subscriber_id": d.subscriber_id,
                "email": email,
                "status": str(d.status),
                "attempts": d.attempts,
                "last_error": d.last_error,
                "sent_at": d.sent_at,
            }
            for d, email in rows
        ]
        return page_of(total, items, limit, offset)
