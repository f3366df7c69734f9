"""Managing sources: add, change, list, remove, OPML import and export; the articles
gathered. Topics by name live in `digest.topics`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from digest.errors import AlreadyExists, BadUrl, InvalidInput, OpmlError
from digest.gather.opml import OpmlEntry, parse_opml, write_opml
from digest.gather.urls import check_http_url
from digest.store import articles as store_articles
from digest.store import sources as store_sources
from digest.store.db import Session
from digest.store.models import Source
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
    if store_sources.by_url(session, url) is not None:
        raise AlreadyExists(f"source {url} is already added")
    source = Source(
        url=url,
        name=name[:200] if name else default_source_name(url),
        topics=topics_named(session, topics or []),
        kind=kind or "feed",
        full_text_mode=full_text,
    )
    return store_sources.add(session, source)


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
    return store_sources.all_sources(session)


def remove_source(session: Session, url_or_id: str) -> None:
    store_sources.remove(session, find_source(session, url_or_id))


def find_source(session: Session, url_or_id: str) -> Source:
    return store_sources.find(session, url_or_id)


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
    known = store_sources.urls(session)
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
    sources = store_sources.all_sources(session, with_topics=True)
    return write_opml(
        [OpmlEntry(s.url, s.name, tuple(s.topic_names)) for s in sources], title=title
    )


# Stored articles, newest first: what extraction kept (`digest sources articles`).
article_rows = store_articles.article_rows
