"""The stages joined over the database: gather sources, plan a send, deliver batches.

Each function takes plain values (ids, settings, a transport) and does its own I/O at the
edges, so the same calls run in-process or inside a Celery task.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import partial

import httpx
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.content import Doc, article_body, related_for_all, sanitize_html, summarize
from digest.db import session_scope
from digest.errors import InvalidInput, NotFound
from digest.gather import FeedEntry, FeedError, Fetched, FetchError, fetch, read_source
from digest.mail import PermanentError, TemporaryError, Transport, build_message, message_id_for
from digest.mail.message import domain_of, list_id_for
from digest.models import (
    Article,
    Delivery,
    DeliveryStatus,
    Edition,
    Send,
    Source,
    Subscriber,
    SubscriberStatus,
    utcnow,
)
from digest.render import (
    DigestContent,
    DigestItem,
    Link,
    RenderedEdition,
    personalize,
    render_edition,
    subject_for,
)
from digest.schedule import ScheduleInfo, due_subscribers
from digest.sources import default_source_name
from digest.subscribers import PREFERENCES, UNSUBSCRIBE, find_subscriber, make_token

READ_ALSO = 3
# On the bundled samples, 0.1 keeps every same-story link (tram, harbour, library, jazz)
# and drops the ones that only share the town's vocabulary (ferry timetable -> tram test).
RELATED_MIN_SCORE = 0.1
LATEST = 5
RELATED_POOL = 500  # earlier articles considered for "Read also"

Fetcher = Callable[[str], Fetched]


# --- gather -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GatherResult:
    source_id: int
    name: str
    new: int = 0
    seen: int = 0
    error: str | None = None


def article_key(entry: FeedEntry) -> str:
    """The entry's key as stored: very long ones are hashed to fit the column."""
    if len(entry.key) <= 2000:
        return entry.key
    return "sha256:" + hashlib.sha256(entry.key.encode()).hexdigest()


def article_from_entry(entry: FeedEntry, source_id: int, now: datetime) -> Article:
    """Sanitize, extract the body and summarize once, when the article is first seen."""
    content = sanitize_html(entry.content_html)
    body = article_body(content, title=entry.title)
    return Article(
        source_id=source_id,
        key=article_key(entry),
        link=entry.link,
        title=entry.title,
        author=entry.author,
        categories=list(entry.categories),
        published_at=entry.published,
        first_seen_at=now,
        content_html=content,
        body_text=body,
        summary=summarize(body),
        is_teaser=entry.is_teaser,
    )


@dataclass
class Stored:
    new: int = 0
    seen: int = 0
    failed: list[str] = field(default_factory=list)  # entries a bug kept out, with why


def store_entries(
    session: Session, source: Source, entries: Sequence[FeedEntry], now: datetime
) -> Stored:
    """Insert entries not seen before (same key in this source, or same link anywhere).

    An entry that cannot be processed is left out and reported; the others are stored.
    """
    keys = [article_key(e) for e in entries]
    links = [e.link for e in entries if e.link]
    known_keys = set(
        session.scalars(
            select(Article.key).where(Article.source_id == source.id, Article.key.in_(keys))
        )
    )
    known_links = (
        set(session.scalars(select(Article.link).where(Article.link.in_(links))))
        if links
        else set()
    )
    stored = Stored()
    # Oldest first, so article ids grow with publication order.
    for entry in sorted(entries, key=lambda e: e.published.timestamp() if e.published else 0):
        key = article_key(entry)
        if key in known_keys or (entry.link and entry.link in known_links):
            stored.seen += 1
            continue
        try:
            article = article_from_entry(entry, source.id, now)
        except Exception as exc:  # one hostile entry must not keep out its neighbours
            stored.failed.append(f"{entry.title[:80]!r}: {type(exc).__name__}: {exc}")
            continue
        session.add(article)
        known_keys.add(key)
        if entry.link:
            known_links.add(entry.link)
        stored.new += 1
    return stored


def gather_source(
    db_url: str, source_id: int, *, fetcher: Fetcher, now: datetime | None = None
) -> GatherResult:
    """Fetch one source and store its new articles; any failure is recorded on the source."""
    now = now or utcnow()
    with session_scope(db_url) as session:
        source = session.get(Source, source_id)
        if source is None:
            raise NotFound(f"no source with id {source_id}")
        name, url = source.name, source.url
    try:
        parsed = read_source(url, fetcher=fetcher)
        with session_scope(db_url) as session:
            source = session.get(Source, source_id)
            if source is None:
                raise NotFound(f"no source with id {source_id}")
            stored = store_entries(session, source, parsed.entries, now)
            if parsed.title and source.name == default_source_name(source.url):
                source.name = parsed.title[:200]  # nobody named it: the feed's title is better
            source.last_fetched_at = source.last_ok_at = now
            error = None
            if stored.failed:
                count = len(stored.failed)
                error = f"{count} entr{'y' if count == 1 else 'ies'} left out: " + "; ".join(
                    stored.failed
                )
            source.last_error = error[:2000] if error else None
            source.error_count = 1 if error else 0
            return GatherResult(source_id, source.name, stored.new, stored.seen, error)
    except (FetchError, FeedError) as exc:
        return _record_failure(db_url, source_id, name, str(exc), now)
    except NotFound:
        raise
    except Exception as exc:  # a bug met on one hostile source must not stop the others
        error = f"unexpected {type(exc).__name__}: {exc}"
        return _record_failure(db_url, source_id, name, error, now)


def _record_failure(
    db_url: str, source_id: int, name: str, error: str, now: datetime
) -> GatherResult:
    with session_scope(db_url) as session:
        source = session.get(Source, source_id)
        if source is not None:
            source.last_fetched_at = now
            source.last_error = error[:2000]
            source.error_count += 1
    return GatherResult(source_id, name, error=error)


def source_ids(db_url: str) -> list[int]:
    with session_scope(db_url) as session:
        return list(session.scalars(select(Source.id).order_by(Source.id)))


def gather_all(
    settings: Settings,
    *,
    on_result: Callable[[GatherResult], None] | None = None,
    fetcher: Fetcher | None = None,
) -> list[GatherResult]:
    """Gather every source in turn over one HTTP client; one source's failure is its own."""
    results = []
    with httpx.Client() as client:
        fetcher = fetcher or partial(
            fetch, timeout=settings.fetch_timeout, max_bytes=settings.fetch_max_bytes, client=client
        )
        for source_id in source_ids(settings.database_url):
            result = gather_source(settings.database_url, source_id, fetcher=fetcher)
            results.append(result)
            if on_result:
                on_result(result)
    return results


# --- build --------------------------------------------------------------------------------


def _when(article: Article) -> datetime:
    return article.published_at or article.first_seen_at


def _newest_first(session: Session, article_ids: Sequence[int]) -> list[Article]:
    articles = list(session.scalars(select(Article).where(Article.id.in_(article_ids))))
    return sorted(articles, key=lambda a: (_when(a), a.id), reverse=True)


def edition_content(
    session: Session, article_ids: Sequence[int], settings: Settings, now: datetime
) -> DigestContent:
    """The digest for these articles: summaries, "Read also" from earlier ones, "Latest"."""
    articles = _newest_first(session, article_ids)
    chosen = {a.id for a in articles}
    pool = list(
        session.scalars(
            select(Article)
            .where(Article.id.not_in(chosen))
            .order_by(Article.id.desc())
            .limit(RELATED_POOL)
        )
    )
    by_id = {a.id: a for a in [*articles, *pool]}
    docs = [
        Doc(
            id=a.id,
            title=a.title,
            text=a.body_text,
            categories=tuple(a.categories),
            published=_when(a),
        )
        for a in by_id.values()
    ]
    related = related_for_all(docs, k=READ_ALSO, min_score=RELATED_MIN_SCORE)
    sources = {s.id: s.name for s in session.scalars(select(Source))}
    items = tuple(
        DigestItem(
            title=a.title,
            url=a.link,
            source=sources.get(a.source_id, ""),
            published=a.published_at,
            author=a.author,
            summary=a.summary,
            read_also=tuple(
                Link(by_id[r].title, by_id[r].link, sources.get(by_id[r].source_id))
                for r in related.get(a.id, [])
                if by_id[r].link
            ),
        )
        for a in articles
    )
    shown = chosen | {r for a in articles for r in related.get(a.id, [])}
    latest = tuple(
        Link(a.title, a.link, sources.get(a.source_id))
        for a in sorted(pool, key=lambda a: (_when(a), a.id), reverse=True)
        if a.id not in shown and a.link
    )[:LATEST]
    return DigestContent(list_name=settings.list_name, date=now, items=items, latest=latest)


def content_key(article_ids: Iterable[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(article_ids))).encode()).hexdigest()


def get_or_create_edition(
    session: Session, article_ids: Sequence[int], settings: Settings, now: datetime
) -> Edition:
    """One edition per distinct set of articles; rendered here, once, for all who get it."""
    key = content_key(article_ids)
    edition = session.scalar(select(Edition).where(Edition.content_key == key))
    if edition is not None:
        return edition
    content = edition_content(session, article_ids, settings, now)
    rendered = render_edition(content, settings.templates_dir)
    values = {
        "content_key": key,
        "created_at": now,
        "subject": rendered.subject[:300],
        "article_ids": sorted(article_ids),
        "html": rendered.html,
        "text": rendered.text,
    }
    # Two planners may build the same edition at once; the unique key decides who wins.
    session.execute(_insert_ignore(session, Edition).values(**values))
    return session.scalars(select(Edition).where(Edition.content_key == key)).one()


def _insert_ignore(session: Session, table: type[Edition] | type[Delivery]):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


# --- plan a send --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedCopy:
    subscriber_id: int
    email: str
    subject: str
    articles: int


@dataclass
class SendPlan:
    send_id: int | None
    delivery_ids: list[int] = field(default_factory=list)
    copies: list[PlannedCopy] = field(default_factory=list)
    nothing_new: int = 0
    already_delivered: int = 0
    in_flight: int = 0  # a copy from an earlier send is still being delivered
    editions: set[int] = field(default_factory=set)


def _allowed_sources(topics: list[str], source_topics: dict[int, set[str]]) -> frozenset[int]:
    if not topics:
        return frozenset(source_topics)
    wanted = set(topics)
    return frozenset(sid for sid, st in source_topics.items() if st & wanted)


def new_articles(
    session: Session,
    subscribers: Sequence[Subscriber],
    settings: Settings,
    now: datetime,
) -> dict[int, tuple[int, ...]]:
    """For each subscriber, the ids of the articles they have not had yet (newest first).

    Subscribers with the same sources and the same high-water mark share one query.
    """
    source_topics = {s.id: set(s.topics) for s in session.scalars(select(Source))}
    groups: dict[tuple[frozenset[int], int], list[int]] = defaultdict(list)
    for sub in subscribers:
        groups[(_allowed_sources(sub.topics, source_topics), sub.last_article_id)].append(sub.id)
    window_start = now - timedelta(days=settings.first_digest_days)
    result: dict[int, tuple[int, ...]] = {}
    for (allowed, last_id), members in groups.items():
        query = select(Article.id).where(Article.source_id.in_(allowed), Article.id > last_id)
        if last_id == 0:
            query = query.where(Article.first_seen_at >= window_start)
        ids = tuple(session.scalars(query.order_by(Article.id.desc()).limit(settings.max_articles)))
        for member in members:
            result[member] = ids
    return result


def recipients(session: Session, *, email: str | None) -> list[Subscriber]:
    """Every confirmed subscriber, or the one with this address (who must be confirmed)."""
    if email is not None:
        subscriber = find_subscriber(session, email)
        if subscriber.status != SubscriberStatus.CONFIRMED:
            raise InvalidInput(f"{subscriber.email} is {subscriber.status}, not confirmed")
        return [subscriber]
    return list(
        session.scalars(
            select(Subscriber)
            .where(Subscriber.status == SubscriberStatus.CONFIRMED)
            .order_by(Subscriber.id)
        )
    )


def only_due(subscribers: Sequence[Subscriber], now: datetime) -> list[Subscriber]:
    infos = [
        ScheduleInfo(
            s.id, s.frequency, s.hour, s.timezone, s.last_sent_at or s.confirmed_at or s.created_at
        )
        for s in subscribers
    ]
    due = set(due_subscribers(infos, now))
    return [s for s in subscribers if s.id in due]


def plan_send(
    settings: Settings,
    *,
    kind: str,
    email: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> SendPlan:
    """Decide who gets which edition now and write the ledger rows (unless dry_run).

    kind "now" sends to every confirmed subscriber (or `email`) regardless of schedule;
    kind "due" only to those whose local slot has come. Nobody gets a copy when nothing
    is new for them, and nobody gets the same edition twice.
    """
    now = now or utcnow()
    with session_scope(settings.database_url) as session:
        everyone = recipients(session, email=email)
        subs = only_due(everyone, now) if kind == "due" else everyone
        unsettled = list(
            session.scalars(
                select(Delivery).where(
                    Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING])
                )
            )
        )
        busy = {d.subscriber_id for d in unsettled}
        plan = SendPlan(send_id=None, in_flight=sum(1 for s in subs if s.id in busy))
        subs = [s for s in subs if s.id not in busy]
        # A copy an earlier send left unsent (its process was stopped, its task lost) is
        # taken over by this send once it is older than the claim timeout.
        stale_before = now - timedelta(seconds=settings.claim_timeout)
        ids = {s.id for s in everyone}
        orphans = [
            d
            for d in unsettled
            if d.subscriber_id in ids and (d.claimed_at or d.created_at) < stale_before
        ]
        wanted = new_articles(session, subs, settings, now)
        by_content: dict[tuple[int, ...], list[Subscriber]] = defaultdict(list)
        for sub in subs:
            if wanted[sub.id]:
                by_content[wanted[sub.id]].append(sub)
            else:
                plan.nothing_new += 1
        if dry_run:
            for ids, members in by_content.items():
                subject = render_subject(session, ids, settings, now)
                plan.copies += [PlannedCopy(m.id, m.email, subject, len(ids)) for m in members]
            return plan
        send = Send(created_at=now, kind=kind)
        session.add(send)
        session.flush()
        plan.send_id = send.id
        for orphan in orphans:
            orphan.send_id = send.id
        plan.in_flight -= len(orphans)
        for ids, members in by_content.items():
            edition = get_or_create_edition(session, ids, settings, now)
            plan.editions.add(edition.id)
            rows = [
                {
                    "edition_id": edition.id,
                    "subscriber_id": m.id,
                    "send_id": send.id,
                    "created_at": now,
                }
                for m in members
            ]
            session.execute(_insert_ignore(session, Delivery), rows)
            plan.copies += [PlannedCopy(m.id, m.email, edition.subject, len(ids)) for m in members]
        session.flush()
        plan.delivery_ids = list(
            session.scalars(
                select(Delivery.id).where(Delivery.send_id == send.id).order_by(Delivery.id)
            )
        )
        plan.already_delivered = len(plan.copies) - (len(plan.delivery_ids) - len(orphans))
        return plan


def render_subject(
    session: Session, article_ids: Sequence[int], settings: Settings, now: datetime
) -> str:
    """The subject alone: no "Read also" scoring or rendering, which a dry run needs not."""
    titles = [a.title for a in _newest_first(session, article_ids)]
    items = tuple(DigestItem(t, None, "", None, None, "") for t in titles)
    return subject_for(DigestContent(list_name=settings.list_name, date=now, items=items))


# --- deliver ------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)  # temporary failures, still pending
    skipped: int = 0  # already taken by another worker, or the subscriber left

    def merge(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.retry += other.retry
        self.skipped += other.skipped


def subscriber_links(settings: Settings, subscriber_id: int) -> tuple[str, str]:
    base = settings.base_url.rstrip("/")
    return (
        f"{base}/unsubscribe/{make_token(settings.secret_key, UNSUBSCRIBE, subscriber_id)}",
        f"{base}/preferences/{make_token(settings.secret_key, PREFERENCES, subscriber_id)}",
    )


def _claim(session: Session, delivery_id: int, claim_timeout: float) -> bool:
    """Take a delivery for sending: pending ones, or ones whose sender died long ago."""
    now = utcnow()
    abandoned = and_(
        Delivery.status == DeliveryStatus.SENDING,
        Delivery.claimed_at < now - timedelta(seconds=claim_timeout),
    )
    claimed = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id, or_(Delivery.status == DeliveryStatus.PENDING, abandoned)
        )
        .values(status=DeliveryStatus.SENDING, attempts=Delivery.attempts + 1, claimed_at=now)
    )
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def deliver_batch(
    settings: Settings,
    delivery_ids: Sequence[int],
    transport: Transport,
    *,
    max_attempts: int = 5,
    on_message: Callable[[], None] | None = None,
) -> DeliveryReport:
    """Send each pending delivery once; record the outcome of each as it happens."""
    batch = _Batch(settings, transport, max_attempts)
    for delivery_id in delivery_ids:
        batch.deliver(delivery_id)
        if on_message:
            on_message()
    return batch.report


class _Batch:
    """What the deliveries of one batch share: the transport, and each edition read once."""

    def __init__(self, settings: Settings, transport: Transport, max_attempts: int) -> None:
        self.settings = settings
        self.transport = transport
        self.max_attempts = max_attempts
        self.report = DeliveryReport()
        self.domain = domain_of(settings.from_address)
        self.list_id = list_id_for(settings.list_name, settings.base_url)
        # The edition's HTML is the big part of a copy: read it once per batch, not per copy.
        self.editions: dict[int, tuple[RenderedEdition, int]] = {}

    def edition(self, delivery: Delivery) -> tuple[RenderedEdition, int]:
        if delivery.edition_id not in self.editions:
            e = delivery.edition
            rendered = RenderedEdition(subject=e.subject, html=e.html, text=e.text)
            self.editions[e.id] = (rendered, max(e.article_ids))
        return self.editions[delivery.edition_id]

    def deliver(self, delivery_id: int) -> None:
        settings, report = self.settings, self.report
        with session_scope(settings.database_url) as session:
            if not _claim(session, delivery_id, settings.claim_timeout):
                report.skipped += 1
                return
        with session_scope(settings.database_url) as session:
            delivery = session.get(Delivery, delivery_id)
            assert delivery is not None
            sub = delivery.subscriber
            if sub.status != SubscriberStatus.CONFIRMED:
                delivery.status = DeliveryStatus.SKIPPED
                delivery.last_error = f"subscriber is {sub.status}"
                report.skipped += 1
                return
            rendered, newest_article = self.edition(delivery)
            now = utcnow()
            message_id = message_id_for(delivery.edition_id, sub.id, self.domain)
            try:
                self.transport.send(self.message(rendered, sub, message_id, now))
            except TemporaryError as exc:
                delivery.last_error = str(exc)
                if delivery.attempts >= self.max_attempts:
                    delivery.status = DeliveryStatus.FAILED
                    report.failed.append((delivery_id, str(exc)))
                else:
                    delivery.status = DeliveryStatus.PENDING
                    report.retry.append(delivery_id)
            except Exception as exc:  # permanent refusals, and bugs: this copy only
                error = (
                    str(exc)
                    if isinstance(exc, (PermanentError, InvalidInput))
                    else (f"unexpected {type(exc).__name__}: {exc}")
                )
                delivery.status = DeliveryStatus.FAILED
                delivery.last_error = error
                report.failed.append((delivery_id, error))
            else:
                delivery.status = DeliveryStatus.SENT
                delivery.sent_at = now
                delivery.message_id = message_id
                sub.last_article_id = max(sub.last_article_id, newest_article)
                sub.last_sent_at = now
                report.sent += 1

    def message(
        self, rendered: RenderedEdition, sub: Subscriber, message_id: str, now: datetime
    ) -> EmailMessage:
        unsubscribe_url, preferences_url = subscriber_links(self.settings, sub.id)
        html, text = personalize(
            rendered,
            name=sub.name,
            unsubscribe_url=unsubscribe_url,
            preferences_url=preferences_url,
        )
        return build_message(
            sender=self.settings.from_address,
            to_address=sub.email,
            to_name=sub.name,
            subject=rendered.subject,
            html=html,
            text=text,
            message_id=message_id,
            list_id=self.list_id,
            unsubscribe_url=unsubscribe_url,
            date=now,
        )


def deliver_in_process(
    settings: Settings,
    delivery_ids: Sequence[int],
    transport: Transport,
    *,
    max_attempts: int = 3,
    backoff: float = 1.0,
    on_message: Callable[[], None] | None = None,
) -> DeliveryReport:
    """deliver_batch with the retries a queue would otherwise give: a few rounds, with backoff."""
    total = DeliveryReport()
    pending = list(delivery_ids)
    for attempt in range(1, max_attempts + 1):
        report = deliver_batch(
            settings, pending, transport, max_attempts=max_attempts, on_message=on_message
        )
        total.sent += report.sent
        total.failed += report.failed
        total.skipped += report.skipped
        pending = report.retry
        if not pending:
            break
        time.sleep(backoff * attempt)
    total.retry = pending
    return total


def send_status(settings: Settings, send_id: int) -> dict[str, int]:
    """How many deliveries of one send are in each state."""
    with session_scope(settings.database_url) as session:
        rows = session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.send_id == send_id)
            .group_by(Delivery.status)
        )
        return {status: count for status, count in rows}


def failed_deliveries(settings: Settings, send_id: int) -> list[tuple[str, str]]:
    with session_scope(settings.database_url) as session:
        rows = session.execute(
            select(Subscriber.email, Delivery.last_error)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.send_id == send_id, Delivery.status == DeliveryStatus.FAILED)
        )
        return [(email, error or "") for email, error in rows]


# --- preview ------------------------------------------------------------------------------


def preview(
    settings: Settings, *, email: str | None = None, now: datetime | None = None
) -> tuple[str, str, str] | None:
    """Subject, HTML and text of the next digest for `email` (or of the latest articles).

    Nothing is written: no edition, no ledger row. None when there is nothing to show.
    """
    now = now or utcnow()
    with session_scope(settings.database_url) as session:
        if email is not None:
            sub = find_subscriber(session, email)
            ids = new_articles(session, [sub], settings, now)[sub.id]
            name, subscriber_id = sub.name, sub.id
        else:
            latest = select(Article.id).order_by(Article.id.desc()).limit(settings.max_articles)
            ids = tuple(session.scalars(latest))
            name, subscriber_id = None, 0
        if not ids:
            return None
        rendered = render_edition(
            edition_content(session, ids, settings, now), settings.templates_dir
        )
    unsubscribe_url, preferences_url = subscriber_links(settings, subscriber_id)
    html, text = personalize(
        rendered, name=name, unsubscribe_url=unsubscribe_url, preferences_url=preferences_url
    )
    return rendered.subject, html, text
