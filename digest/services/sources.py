"""Managing sources: add, change, list, remove, OPML import and export; the articles
gathered. Topics by name live in `digest.topics`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from digest.config import Settings
from digest.errors import AlreadyExists, BadUrl, InvalidField, InvalidInput, NotFound, OpmlError
from digest.gather.feeds import left_out_summary
from digest.gather.opml import OpmlEntry, parse_opml, write_opml
from digest.gather.urls import check_http_url
from digest.services.paging import clean_filter, page_of
from digest.services.topics import checked_topics
from digest.store import articles as store_articles
from digest.store import sources as store_sources
from digest.store.db import Session, session_scope
from digest.store.models import Source
from digest.store.topics import topics_named

SOURCE_KINDS = ("feed", "article", "section")
# What `sources set --kind` takes besides a kind: find it again at the next read.
FIND_KIND = "auto"
FULL_TEXT_MODES = ("auto", "always", "never")


def source_kind(kind: str, *, allow_auto: bool = False) -> str:
    """The kind named (``page``, its old name, is ``article``); InvalidInput if none."""
    kind = kind.strip().lower()
    kind = "article" if kind == "page" else kind
    allowed = (*SOURCE_KINDS, FIND_KIND) if allow_auto else SOURCE_KINDS
    if kind not in allowed:
        raise InvalidInput(f"a source is one of {', '.join(allowed)}, not {kind!r}")
    return kind


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
    kind_set: bool = False,
    kind_reason: str | None = None,
) -> Source:
    """A new source; ``kind`` as a check found it (and ``kind_reason``, why), or with
    ``kind_set`` as given by hand, then kept whatever its pages look like."""
    url = check_source_url(url)
    if full_text not in FULL_TEXT_MODES:
        raise InvalidInput(f"full text is one of {', '.join(FULL_TEXT_MODES)}, not {full_text!r}")
    kind = source_kind(kind) if kind is not None else None
    if store_sources.by_url(session, url) is not None:
        raise AlreadyExists(f"source {url} is already added")
    source = Source(
        url=url,
        name=name[:200] if name else default_source_name(url),
        topics=topics_named(session, topics or []),
        kind=kind or "feed",
        kind_origin="set" if kind_set and kind else "found",
        kind_reason="set by hand" if kind_set and kind else kind_reason,
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
    kind: str | None = None,
) -> Source:
    """Change what is given (None leaves a field as it is); nothing changes if any value
    is refused. Topics replace the source's topics. A kind given is kept from now on;
    ``auto`` has it found again at the next read."""
    if name is not None and not name.strip():
        raise InvalidInput("a source's name must not be empty")
    kind = source_kind(kind, allow_auto=True) if kind is not None else None
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
    if kind == FIND_KIND:
        source.kind, source.kind_origin, source.kind_reason = "feed", "auto", None
    elif kind is not None:
        source.kind, source.kind_origin, source.kind_reason = kind, "set", "set by hand"
    session.flush()
    return source


def set_source(
    session: Session,
    url_or_id: str,
    *,
    name: str | None = None,
    topics: list[str] | None = None,
    full_text: str | None = None,
    paused: bool | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """Change the source of this address or number (`digest sources set`); what it is now."""
    found = update_source(
        session,
        find_source(session, url_or_id),
        name=name,
        topics=topics,
        full_text=full_text,
        paused=paused,
        kind=kind,
    )
    return {
        "id": found.id,
        "name": found.name,
        "paused": found.paused,
        "full_text": found.full_text_mode,
        "topics": found.topic_names,
        "kind": found.kind,
        "kind_origin": found.kind_origin,
    }


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


# --- the use cases of the admin pages, the API and the CLI, each in its own transaction -----

URL_MAX = 2000  # the column's length


def source_row(source: Source, articles: int = 0) -> dict[str, Any]:
    """A source as every listing shows it (the API's and `sources list --json`'s keys)."""
    return {
        "id": source.id,
        "url": source.url,
        "name": source.name,
        "kind": source.kind,  # feed, article or section
        "kind_origin": source.kind_origin,  # found (by reading it), set (by hand), auto
        "kind_reason": source.kind_reason,  # why it is of its kind
        "topics": source.topic_names,
        "paused": source.paused,
        "full_text": source.full_text_mode,
        "articles": articles,
        "last_ok_at": source.last_ok_at,
        "last_fetched_at": source.last_fetched_at,
        "last_error": source.last_error,
        "error_count": source.error_count,
        "retry_after": source.retry_after,
        "not_modified": source.not_modified,
        # The last read: entries the source had, stored, and left out (reasons: details).
        "entries": source.last_entries,
        "stored": source.last_stored,
        "left_out": len(source.last_left_out or []),
        "left_out_summary": left_out_summary(
            str(e.get("code")) for e in source.last_left_out or []
        ),
    }


def source_listing(
    settings: Settings, *, q: str | None = None, limit: int | None = None, offset: int = 0
) -> dict[str, Any]:
    """A page of sources (every one without `limit`), searched by name or URL, with their
    article counts and last outcome: `items`, `total`, `limit`, `offset`."""
    q = clean_filter(q)
    with session_scope(settings.database_url) as session:
        total, rows = store_sources.source_page(session, q=q, limit=limit, offset=offset)
        return page_of(total, [source_row(s, n) for s, n in rows], limit, offset)


def _source(session: Session, source_id: int) -> Source:
    source = store_sources.source_by_id(session, source_id)
    if source is None:
        raise NotFound(f"no source {source_id}")
    return source


def source_details(settings: Settings, source_id: int) -> dict[str, Any]:
    """A source as listings show it, with every entry its last read left out and why
    (`left_out_entries`: title, link, code, reason, article_id, source_id)."""
    with session_scope(settings.database_url) as session:
        source = _source(session, source_id)
        row = source_row(source, store_sources.article_count(session, source_id))
        return {**row, "left_out_entries": list(source.last_left_out or [])}


def find_source_details(settings: Settings, url_or_id: str) -> dict[str, Any]:
    """`digest sources show`: the source of this address or number, in detail."""
    with session_scope(settings.database_url) as session:
        source_id = find_source(session, url_or_id).id
    return source_details(settings, source_id)


def check_new_source(url: str, full_text: str = "auto") -> str:
    """The URL of a source to add, trimmed, if it can be one, and its full-text mode;
    InvalidField naming the field otherwise."""
    if len(url.strip()) > URL_MAX:
        raise InvalidField("url", f"at most {URL_MAX} characters")
    check_full_text(full_text)
    try:
        return check_source_url(url)
    except InvalidInput as exc:
        raise InvalidField("url", str(exc)) from None


def check_full_text(mode: str) -> None:
    if mode not in FULL_TEXT_MODES:
        raise InvalidField("full_text", f"must be one of {', '.join(FULL_TEXT_MODES)}")


def create_source(
    settings: Settings,
    url: str,
    name: str | None = None,
    topics: Sequence[str] = (),
    *,
    full_text: str = "auto",
    kind: str | None = None,
    kind_set: bool = False,
    kind_reason: str | None = None,
) -> dict[str, Any]:
    """Add a source, as `digest sources add` does (nothing is fetched; `kind` as a check
    found it, and why; or with `kind_set`, as given by hand and kept)."""
    url = check_new_source(url, full_text)
    names = checked_topics(topics)
    if kind is not None:
        try:
            kind = source_kind(kind)
        except InvalidInput as exc:
            raise InvalidField("kind", str(exc)) from None
    with session_scope(settings.database_url) as session:
        source = add_source(
            session,
            url,
            name=name or None,
            topics=names,
            kind=kind,
            full_text=full_text,
            kind_set=kind_set,
            kind_reason=kind_reason,
        )
        return source_row(source)


def change_source(
    settings: Settings,
    source_id: int,
    *,
    name: str | None = None,
    topics: Sequence[str] | None = None,
    paused: bool | None = None,
    full_text: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """Change what is given (None leaves it as it is); topics replace the source's; a
    kind is kept from now on (``auto``: found again at the next read)."""
    if name is not None and not name.strip():
        raise InvalidField("name", "must not be empty")
    if full_text is not None:
        check_full_text(full_text)
    if kind is not None:
        try:
            kind = source_kind(kind, allow_auto=True)
        except InvalidInput as exc:
            raise InvalidField("kind", str(exc)) from None
    with session_scope(settings.database_url) as session:
        source = _source(session, source_id)
        names = checked_topics(topics) if topics is not None else None
        update_source(
            session,
            source,
            name=name,
            topics=names,
            full_text=full_text,
            paused=paused,
            kind=kind,
        )
        return source_row(source, store_sources.article_count(session, source_id))


def delete_source(settings: Settings, source_id: int) -> None:
    """Remove a source and its articles."""
    with session_scope(settings.database_url) as session:
        session.delete(_source(session, source_id))


def source_articles(settings: Settings, source_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """A source's last stored articles; NotFound when there is no such source."""
    with session_scope(settings.database_url) as session:
        _source(session, source_id)
        return [
            {
                "id": a.id,
                "title": a.title,
                "link": a.link,
                "summary": a.summary,
                "published_at": a.published_at,
                "first_seen_at": a.first_seen_at,
            }
            for a in store_sources.newest_articles(session, source_id, limit)
        ]


def import_opml_data(settings: Settings, data: bytes) -> OpmlImport:
    """`digest sources import`: the sources of an OPML file not added yet, with the topics
    of their folders, in one transaction (nothing is fetched)."""
    with session_scope(settings.database_url) as session:
        return import_opml(session, data)


def new_source(
    settings: Settings,
    url: str,
    *,
    name: str | None = None,
    topics: list[str] | None = None,
    kind: str | None = None,
    full_text: str = "auto",
    kind_set: bool = False,
    kind_reason: str | None = None,
) -> dict[str, Any]:
    """`digest sources add`: `add_source` in a transaction of its own, refused in its
    words (no field names, unlike `create_source`); the source as listings show it."""
    with session_scope(settings.database_url) as session:
        source = add_source(
            session,
            url,
            name=name,
            topics=topics,
            kind=kind,
            full_text=full_text,
            kind_set=kind_set,
            kind_reason=kind_reason,
        )
        return source_row(source)
