"""Sources as gathering reads and writes them: their rows and ids, and the outcome of a
fetch recorded on the source (a failure and its backoff, a read, a 304)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.errors import NotFound
from digest.store.models import Source

# The reasons of at most this many entries left out are kept on the source's row.
LEFT_OUT_KEPT = 200


def get_source(session: Session, source_id: int) -> Source:
    """The source's row; NotFound when there is none (it was removed meanwhile)."""
    found = session.get(Source, source_id)
    if found is None:
        raise NotFound(f"no source with id {source_id}")
    return found


def sources(session: Session) -> list[Source]:
    """Every source's row, by id."""
    return list(session.scalars(select(Source).order_by(Source.id)))


def source_ids(session: Session) -> list[int]:
    """Every source's id, ascending."""
    return list(session.scalars(select(Source.id).order_by(Source.id)))


def url_taken(session: Session, url: str) -> bool:
    """Whether some source reads this URL already."""
    return session.scalar(select(Source.id).where(Source.url == url)) is not None


def record_failure(
    session: Session, source: Source, now: datetime, error: str, retry_after: datetime | None
) -> None:
    """A fetch that failed: one more error in a row, left alone until `retry_after`."""
    source.last_fetched_at = now
    source.last_error = error[:2000]
    source.error_count += 1
    source.not_modified = False
    source.retry_after = retry_after


def record_entries(
    session: Session, source: Source, entries: int, stored: int, left_out: list[dict[str, object]]
) -> None:
    """A read's accounting: how many entries the source had, how many were stored, and
    those left out with their reasons (the first LEFT_OUT_KEPT)."""
    source.last_entries = entries
    source.last_stored = stored
    source.last_left_out = left_out[:LEFT_OUT_KEPT]


def record_fetched(session: Session, source: Source, now: datetime, *, not_modified: bool) -> None:
    """A fetch that worked (read, or answered 304 Not Modified): no error in a row, no
    backoff; a 304 leaves no error either."""
    source.last_fetched_at = now
    source.last_ok_at = now
    source.error_count = 0
    source.retry_after = None
    source.not_modified = not_modified
    if not_modified:
        source.last_error = None


def record_read(
    session: Session,
    source: Source,
    *,
    url: str | None,
    kind: str,
    kind_reason: str | None = None,
    etag: str | None,
    last_modified: str | None,
    name: str | None,
    error: str | None,
    entries: int = 0,
    stored: int = 0,
    left_out: list[dict[str, object]] | None = None,
) -> None:
    """What a read brought: the URL to read from now on (None: the same), its kind (and
    why, when it was found out now), the validators for the next conditional GET, a better
    name (None: keep it), what went wrong (None: nothing), and the entries: how many the
    source had, how many were stored, and those left out with their reasons."""
    if url is not None:
        source.url = url
    source.kind = kind
    if kind_reason is not None:
        source.kind_reason = kind_reason[:1000]
    if source.kind_origin == "auto":
        source.kind_origin = "found"
    record_entries(session, source, entries, stored, left_out or [])
    source.etag = (etag or "")[:500] or None
    source.last_modified = (last_modified or "")[:200] or None
    if name is not None:
        source.name = name[:200]
    source.last_error = error[:2000] if error else None
