"""Listings a page at a time, and the searches and filters people type for them."""

from __future__ import annotations

from typing import Any

# The most rows one page of a listing holds (the API refuses a larger `limit`).
MAX_PAGE = 500


def clean_filter(value: str | None) -> str | None:
    """A search or filter as typed, without NUL (PostgreSQL refuses it); None when empty."""
    return (value or "").replace("\x00", "").strip() or None


def page_of(
    total: int, items: list[dict[str, Any]], limit: int | None, offset: int
) -> dict[str, Any]:
    """One page of a listing: its rows, how many there are in all, and where it stands."""
    return {"items": items, "total": total, "limit": limit, "offset": offset}
