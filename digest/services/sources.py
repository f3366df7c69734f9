"""Managing sources: add, change, list, remove, OPML import and export; the articles
gathered. Topics by name live in `digest.topics`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from digest.errors import AlreadyExists, BadUrl, InvalidInput, NotFound, OpmlError
from digest.gather.opml import OpmlEntry, parse_opml, write_opml
from digest.gather.urls import check_http_url
from digest.store.models import Article, Source
from digest.store.topics import topics_named

SOURCE_KINDS = ("feed", "page", "section")
FULL_TEXT_MODES = ("auto", "always", "never")


def check_source_url(url: str) -> str:
    """The URL, trimmed, if it can be a source; else InvalidInput saying what is wrong."""
    try:
        return check_http_url(url)
    except BadUrl as exc:
        raise InvalidInput(str(exc)) from None


def default_source_name(url: str) -> str:
    """The name of a source added without one, until its feed tells a better one."""
    return urlsplit(url).netloc[:200]


def add_source(
    session: Session,
    url: str,
    *,
    name: str | None = None,
    topics: list[str] | None = None,
    kind: str | None = None,
    full_text: str = "auto",
) -> Source:
    url = check_source_url(url)
    if full_text not in FULL_TEXT_MODES:
        raise InvalidInput(f"full text is one of {', '.join(FULL_TEXT_MODES)}, not {full_text!r}")
    if kind is not None and kind not in SOURCE_KINDS:
        raise InvalidInput(f"a source is one of {', '.join(SOURCE_KINDS)}, not {kind!r}")
    if session.scalar(select(Source).where(Source.url == url)):
        raise AlreadyExists(f"source {url} is already added")
    source = Source(
        url=url,
        name=name[:200] if name else default_source_name(url),
        topics=topics_named(session, topics or []),
        kind=kind or "feed",
        full_text_mode=full_text,
    )
    session.add(source)
    session.flush()
    return source


def update_source(
    session: Session,
    source: Source,
    *,
    name: str | None = None,
    topics: list[str] | None = None,
    full_text: str | None = None,
    paused: bool | None = None,
) -> Source:
    """Change what is given (None leaves a field as it is); nothing changes if any value
    is refused. Topics replace the source's topics."""
    if name is not None and not name.strip():
        raise InvalidInput("a source's name must not be empty")
    if full_text is not None and full_text not in FULL_TEXT_MODES:
        raise InvalidInput(f"full text is one of {', '.join(FULL_TEXT_MODES)}, not {full_text!r}")
    new_topics = topics_named(session, topics) if topics is not None else None
    if name is not None:
        source.name = name.strip()[:200]
    if new_topics is not None:
        source.topics = new_topics
    if full_text is not None:
        source.full_text_mode = full_text
    if paused is not None:
        source.paused = paused
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


# --- OPML -----------------------------------------------------------------------------------


@dataclass
class OpmlImport:
    added: int = 0
    known: int = 0  # already a source: left as it is
    errors: list[dict[str, str]] = field(default_factory=list)  # position, url, error

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "known": self.known, "errors": self.errors}


def import_opml(session: Session, data: bytes) -> OpmlImport:
    """Add the OPML file's sources not added yet (nothing is fetched); each bad outline is
    reported with its position and the good ones kept."""
    try:
        read = parse_opml(data)
    except OpmlError as exc:
        raise InvalidInput(str(exc)) from None
    result = OpmlImport(errors=[{"position": p, "url": "", "error": e} for p, e in read.problems])
    known = set(session.scalars(select(Source.url)))
    for item in read.sources:
        try:
            url = check_http_url(item.url)
        except BadUrl as exc:
            result.errors.append({"position": item.position, "url": item.url, "error": str(exc)})
            continue
        if url in known:
            result.known += 1
            continue
        try:
            topics = topics_named(session, list(item.topics))
        except InvalidInput as exc:
            result.errors.append({"position": item.position, "url": url, "error": str(exc)})
            continue
        name = (item.title or "")[:200] or default_source_name(url)
        session.add(Source(url=url, name=name, topics=topics))
        known.add(url)
        result.added += 1
    session.flush()
    result.errors.sort(key=lambda e: int(e["position"].split()[-1] or 0))
    return result


def export_opml(session: Session, *, title: str) -> str:
    sources = session.scalars(
        select(Source).options(selectinload(Source.topics)).order_by(Source.id)
    )
    return write_opml(
        [OpmlEntry(s.url, s.name, tuple(s.topic_names)) for s in sources], title=title
    )


# --- articles ---------------------------------------------------------------------------------


def article_rows(
    session: Session,
    *,
    source_id: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Stored articles, newest first (by date, else first seen): what extraction kept."""
    when = func.coalesce(Article.published_at, Article.first_seen_at)
    query = select(Article).order_by(when.desc(), Article.id.desc()).limit(limit)
    if source_id is not None:
        query = query.where(Article.source_id == source_id)
    if since is not None:
        # A date without a zone is taken as UTC, like every time stored.
        query = query.where(when >= (since if since.tzinfo else since.replace(tzinfo=UTC)))
    return [
        {
            "id": a.id,
            "source_id": a.source_id,
            "title": a.title,
            "link": a.link,
            "published_at": a.published_at,
            "first_seen_at": a.first_seen_at,
            "author": a.author,
            "language": a.language,
            "image_url": a.image_url,
            "summary": a.summary,
            "text": a.body_text,
            "full_text": a.full_text,
            "is_teaser": a.is_teaser,
        }
        for a in session.scalars(query)
    ]
