"""Managing sources: add, list, remove; topics by name."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.db import insert_ignore
from digest.errors import AlreadyExists, InvalidInput, NotFound
from digest.models import Source, Topic

TOPIC_MAX_LENGTH = 200


def normalize_topics(topics: list[str] | tuple[str, ...]) -> list[str]:
    """Lowercase, trimmed, unique, in the order given."""
    seen: dict[str, None] = {}
    for topic in topics:
        cleaned = " ".join(topic.split()).lower()
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


def topics_named(session: Session, names: list[str] | tuple[str, ...]) -> list[Topic]:
    """The Topic rows of these names (normalized), created where missing, sorted by name.

    Two writers adding the same new topic at once: the unique name keeps one row.
    """
    wanted = normalize_topics(names)
    if not wanted:
        return []
    too_long = [t for t in wanted if len(t) > TOPIC_MAX_LENGTH]
    if too_long:
        raise InvalidInput(f"a topic has at most {TOPIC_MAX_LENGTH} characters: {too_long[0]!r}")
    session.execute(insert_ignore(session, Topic), [{"name": name} for name in wanted])
    return list(session.scalars(select(Topic).where(Topic.name.in_(wanted)).order_by(Topic.name)))


def check_source_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"{url!r}: a source must be an http:// or https:// URL")
    return url


def default_source_name(url: str) -> str:
    """The name of a source added without one, until its feed tells a better one."""
    return urlsplit(url).netloc[:200]


def add_source(
    session: Session, url: str, *, name: str | None = None, topics: list[str] | None = None
) -> Source:
    url = check_source_url(url)
    if session.scalar(select(Source).where(Source.url == url)):
        raise AlreadyExists(f"source {url} is already added")
    source = Source(
        url=url,
        name=name[:200] if name else default_source_name(url),
        topics=topics_named(session, topics or []),
    )
    session.add(source)
    session.flush()
    return source


def list_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.id)))


def remove_source(session: Session, url_or_id: str) -> None:
    source = find_source(session, url_or_id)
    session.delete(source)


def find_source(session: Session, url_or_id: str) -> Source:
    cond = Source.id == int(url_or_id) if url_or_id.isdigit() else Source.url == url_or_id
    source = session.scalar(select(Source).where(cond))
    if source is None:
        raise NotFound(f"no source {url_or_id}")
    return source
