"""What an admin can do, shared by the admin pages and the JSON API.

Each function takes plain values, does what the CLI command of the same name does (the
same library calls), and answers with plain dicts; bad input raises `InvalidField`
naming the field. Long work goes through the dispatcher, as from the CLI.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any
from xml.etree import ElementTree

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from digest import pipeline
from digest.config import Settings
from digest.core import events
from digest.core.addresses import normalize_email
from digest.core.preferences import clean_name
from digest.core.schedule import WEEKDAYS, check_schedule, day_of_month_text
from digest.core.vocabulary import DeliveryStatus, SendKind, SubscriberStatus, utcnow
from digest.errors import DigestError, InvalidField, InvalidInput, NotFound
from digest.runtime import dispatch
from digest.services import importing, sends, webhooks
from digest.services.sources import FULL_TEXT_MODES, add_source, check_source_url
from digest.services.sources import update_source as change_source
from digest.services.subscribers import add_subscriber, apply_schedule, unsubscribe
from digest.store import db
from digest.store.models import Article, Delivery, Edition, Source, Subscriber, Topic
from digest.store.topics import topics_named

MAX_PAGE = 500
URL_MAX = 2000  # the column's length


def _field(field: str, exc: DigestError) -> InvalidField:
    return exc if isinstance(exc, InvalidField) else InvalidField(field, str(exc))


def clean(value: str | None) -> str | None:
    """A search or filter as typed, without NUL (PostgreSQL refuses it); None when empty."""
    return (value or "").replace("\x00", "").strip() or None


def page_of(total: int, items: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}


# --- sources --------------------------------------------------------------------------------


def source_dict(s: Source, articles: int = 0) -> dict[str, Any]:
    return {
        "id": s.id,
        "url": s.url,
        "name": s.name,
        "kind": s.kind,  # feed, page or section
        "topics": s.topic_names,
        "paused": s.paused,
        "full_text": s.full_text_mode,
        "articles": articles,
        "last_ok_at": s.last_ok_at,
        "last_fetched_at": s.last_fetched_at,
        "last_error": s.last_error,
        "error_count": s.error_count,
    }


def _article_counts(session: Session, ids: Sequence[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(Article.source_id, func.count())
        .where(Article.source_id.in_(list(ids)))
        .group_by(Article.source_id)
    )
    return {sid: n for sid, n in rows}


def list_sources(
    settings: Settings, *, q: str | None = None, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    q = clean(q)
    with db.session_scope(settings.database_url) as session:
        query = select(Source)
        if q:
            like = f"%{q.lower()}%"
            query = query.where(
                or_(func.lower(Source.name).like(like), func.lower(Source.url).like(like))
            )
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = list(
            session.scalars(
                query.options(selectinload(Source.topics))
                .order_by(Source.id)
                .limit(limit)
                .offset(offset)
            )
        )
        counts = _article_counts(session, [s.id for s in rows])
        return page_of(total, [source_dict(s, counts.get(s.id, 0)) for s in rows], limit, offset)


def get_source(settings: Settings, source_id: int) -> dict[str, Any]:
    with db.session_scope(settings.database_url) as session:
        s = session.get(Source, source_id)
        if s is None:
            raise NotFound(f"no source {source_id}")
        return source_dict(s, _article_counts(session, [s.id]).get(s.id, 0))


def _check_full_text(mode: str) -> None:
    if mode not in FULL_TEXT_MODES:
        raise InvalidField("full_text", f"must be one of {', '.join(FULL_TEXT_MODES)}")


def create_source(
    settings: Settings,
    url: str,
    name: str | None = None,
    topics: Sequence[str] = (),
    *,
    full_text: str = "auto",
    check: bool = False,
) -> dict[str, Any]:
    """Add a source, as `digest sources add` does; with `check`, fetch the URL first and
    say what it is (`found`): on a site's page, the feed it names is added instead (feed
    discovery, as `sources add --check`). This fetches, so call it off the event loop."""
    if len(url.strip()) > URL_MAX:
        raise InvalidField("url", f"at most {URL_MAX} characters")
    _check_full_text(full_text)
    kind = found = None
    if check:
        try:
            checked = pipeline.check_source(settings, check_source_url(url))
        except InvalidInput as exc:
            raise _field("url", exc) from None
        url, kind, found = checked.url, checked.kind, checked.summary
    with db.session_scope(settings.database_url) as session:
        try:
            source = add_source(
                session, url, name=name or None, topics=list(topics), kind=kind, full_text=full_text
            )
        except InvalidInput as exc:
            field = "topics" if "topic" in str(exc) else "url"
            raise _field(field, exc) from None
        added = source_dict(source)
    return {**added, "found": found} if check else added


def update_source(
    settings: Settings,
    source_id: int,
    *,
    name: str | None = None,
    topics: Sequence[str] | None = None,
    paused: bool | None = None,
    full_text: str | None = None,
) -> dict[str, Any]:
    if name is not None and not name.strip():
        raise InvalidField("name", "must not be empty")
    if full_text is not None:
        _check_full_text(full_text)
    with db.session_scope(settings.database_url) as session:
        s = session.get(Source, source_id)
        if s is None:
            raise NotFound(f"no source {source_id}")
        try:
            change_source(
                session,
                s,
                name=name,
                topics=list(topics) if topics is not None else None,
                full_text=full_text,
                paused=paused,
            )
        except InvalidInput as exc:
            raise _field("topics", exc) from None
        return source_dict(s, _article_counts(session, [s.id]).get(s.id, 0))


def delete_source(settings: Settings, source_id: int) -> None:
    with db.session_scope(settings.database_url) as session:
        s = session.get(Source, source_id)
        if s is None:
            raise NotFound(f"no source {source_id}")
        session.delete(s)


def recent_articles(settings: Settings, source_id: int, limit: int = 20) -> list[dict[str, Any]]:
    with db.session_scope(settings.database_url) as session:
        return [
            {
                "id": a.id,
                "title": a.title,
                "link": a.link,
                "summary": a.summary,
                "published_at": a.published_at,
                "first_seen_at": a.first_seen_at,
            }
            for a in session.scalars(
                select(Article)
                .where(Article.source_id == source_id)
                .order_by(Article.id.desc())
                .limit(limit)
            )
        ]


def opml_feeds(text: str) -> list[tuple[str, str | None]]:
    """The (feed URL, title) of each outline of an OPML file.

    Gathering is getting a full OPML reader; this one only reads xmlUrl and title."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise InvalidField("file", f"not an OPML file: {exc}") from None
    found = []
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl") or outline.get("xmlurl")
        if url:
            found.append((url.strip(), outline.get("title") or outline.get("text")))
    if not found:
        raise InvalidField("file", "no outline with an xmlUrl in this OPML file")
    return found


def import_opml(settings: Settings, text: str) -> dict[str, Any]:
    added, errors = 0, []
    for url, title in opml_feeds(text):
        try:
            create_source(settings, url, title)
            added += 1
        except DigestError as exc:
            errors.append({"url": url, "error": str(exc)})
    return {"added": added, "errors": errors}


def gather(settings: Settings, dispatcher: dispatch.Dispatcher) -> list[dict[str, Any]]:
    return [asdict(r) for r in dispatcher.gather()]


# --- subscribers ----------------------------------------------------------------------------


def subscriber_dict(s: Subscriber) -> dict[str, Any]:
    return {
        "id": s.id,
        "email": s.email,
        "name": s.name,
        "status": str(s.status),
        "frequency": str(s.frequency),
        "weekday": WEEKDAYS[s.weekday],
        "day_of_month": day_of_month_text(s.day_of_month),
        "hour": s.hour,
        "timezone": s.timezone,
        "topics": s.topic_names,
        "created_at": s.created_at,
        "confirmed_at": s.confirmed_at,
        "unsubscribed_at": s.unsubscribed_at,
        "last_sent_at": s.last_sent_at,
        "hard_bounces": s.hard_bounces,
        "soft_bounces": s.soft_bounces,
    }


def check_status(value: str | None) -> SubscriberStatus | None:
    if value is None or value == "":
        return None
    try:
        return SubscriberStatus(value)
    except ValueError:
        raise InvalidField(
            "status", f"must be one of {', '.join(SubscriberStatus)}, not {value!r}"
        ) from None


def list_subscribers(
    settings: Settings,
    *,
    q: str | None = None,
    status: str | None = None,
    topic: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    q, status, topic = clean(q), clean(status), clean(topic)
    wanted = check_status(status)
    with db.session_scope(settings.database_url) as session:
        query = select(Subscriber)
        if q:
            like = f"%{q.lower()}%"
            query = query.where(
                or_(func.lower(Subscriber.email).like(like), func.lower(Subscriber.name).like(like))
            )
        if wanted is not None:
            query = query.where(Subscriber.status == wanted)
        if topic:
            query = query.where(Subscriber.topics.any(Topic.name == topic.strip().lower()))
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.options(selectinload(Subscriber.topics))
            .order_by(Subscriber.id)
            .limit(limit)
            .offset(offset)
        )
        return page_of(total, [subscriber_dict(s) for s in rows], limit, offset)


def get_subscriber(settings: Settings, subscriber_id: int) -> dict[str, Any]:
    with db.session_scope(settings.database_url) as session:
        s = session.get(Subscriber, subscriber_id)
        if s is None:
            raise NotFound(f"no subscriber {subscriber_id}")
        return subscriber_dict(s)


def create_subscriber(settings: Settings, values: dict[str, Any]) -> dict[str, Any]:
    """Add a subscriber as `digest subscribers add` does; status pending or confirmed."""
    status = check_status(values.get("status")) or SubscriberStatus.CONFIRMED
    if status not in (SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED):
        raise InvalidField("status", "a new subscriber is pending or confirmed")
    try:
        email = normalize_email(str(values.get("email") or ""))
    except InvalidInput as exc:
        raise InvalidField("email", str(exc)) from None
    schedule = check_schedule(**{k: values.get(k) for k in SCHEDULE})
    with db.session_scope(settings.database_url) as session:
        try:
            sub = add_subscriber(
                session,
                email,
                name=values.get("name"),
                confirmed=status == SubscriberStatus.CONFIRMED,
                frequency=schedule.frequency,
                hour=schedule.hour,
                timezone=schedule.timezone,
                weekday=schedule.weekday,
                day_of_month=schedule.day_of_month,
                topics=list(values.get("topics") or []),
            )
        except InvalidField:
            raise
        except InvalidInput as exc:
            raise _field("topics", exc) from None
        return subscriber_dict(sub)


SCHEDULE = ("frequency", "weekday", "day_of_month", "hour", "timezone")


def update_subscriber(
    settings: Settings, subscriber_id: int, values: dict[str, Any]
) -> dict[str, Any]:
    """Change preferences; status "unsubscribed" suppresses (nobody but the person brings
    a suppressed address back, so "confirmed" is refused for one)."""
    with db.session_scope(settings.database_url) as session:
        sub = session.get(Subscriber, subscriber_id)
        if sub is None:
            raise NotFound(f"no subscriber {subscriber_id}")
        if any(values.get(k) is not None for k in SCHEDULE):
            current = {
                "frequency": str(sub.frequency),
                "weekday": sub.weekday,
                "day_of_month": sub.day_of_month,
                "hour": sub.hour,
                "timezone": sub.timezone,
            }
            given = {k: v for k, v in values.items() if k in SCHEDULE and v is not None}
            apply_schedule(sub, check_schedule(**{**current, **given}))
        if values.get("name") is not None:
            sub.name = clean_name(values["name"])
        if values.get("topics") is not None:
            try:
                sub.topics = topics_named(session, list(values["topics"]))
            except InvalidInput as exc:
                raise _field("topics", exc) from None
        status = check_status(values.get("status"))
        if status is not None and status != sub.status:
            if status == SubscriberStatus.UNSUBSCRIBED:
                unsubscribe(session, sub.id)
            elif status == SubscriberStatus.CONFIRMED and sub.status == SubscriberStatus.PENDING:
                sub.status = SubscriberStatus.CONFIRMED
                sub.confirmed_at = utcnow()
                webhooks.record_subscriber(session, events.SUBSCRIBER_CONFIRMED, sub)
            else:
                raise InvalidField(
                    "status",
                    f"cannot go from {sub.status} to {status}: only the person can bring a "
                    "suppressed address back, by signing up",
                )
        session.flush()
        return subscriber_dict(sub)


def delete_subscriber(settings: Settings, subscriber_id: int) -> None:
    with db.session_scope(settings.database_url) as session:
        sub = session.get(Subscriber, subscriber_id)
        if sub is None:
            raise NotFound(f"no subscriber {subscriber_id}")
        session.delete(sub)


def import_subscribers(settings: Settings, text: str) -> dict[str, Any]:
    """CSV import as `digest subscribers import`: per-row errors, the rest imported."""
    result = importing.import_csv(
        lambda: db.session_scope(settings.database_url), io.StringIO(text, newline="")
    )
    return result.as_dict()


def export_subscribers(settings: Settings) -> str:
    out = io.StringIO()
    with db.session_scope(settings.database_url) as session:
        importing.export_csv(session, out)
    return out.getvalue()


def topic_names(settings: Settings) -> list[str]:
    with db.session_scope(settings.database_url) as session:
        return list(session.scalars(select(Topic.name).order_by(Topic.name)))


# --- editions, sends, deliveries ------------------------------------------------------------


def list_editions(settings: Settings, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    with db.session_scope(settings.database_url) as session:
        total = session.scalar(select(func.count()).select_from(Edition)) or 0
        editions = list(
            session.execute(
                select(Edition.id, Edition.subject, Edition.created_at)
                .order_by(Edition.id.desc())
                .limit(limit)
                .offset(offset)
            )
        )
        ids = [e.id for e in editions]
        counts: dict[int, dict[str, int]] = {i: {} for i in ids}
        for edition_id, status, n in session.execute(
            select(Delivery.edition_id, Delivery.status, func.count())
            .where(Delivery.edition_id.in_(ids))
            .group_by(Delivery.edition_id, Delivery.status)
        ):
            counts[edition_id][str(getattr(status, "value", status))] = n
        items = [
            {
                "id": e.id,
                "subject": e.subject,
                "created_at": e.created_at,
                "deliveries": counts[e.id],
            }
            for e in editions
        ]
        return page_of(total, items, limit, offset)


def get_edition(settings: Settings, edition_id: int) -> dict[str, Any]:
    with db.session_scope(settings.database_url) as session:
        e = session.get(Edition, edition_id)
        if e is None:
            raise NotFound(f"no edition {edition_id}")
        return {
            "id": e.id,
            "subject": e.subject,
            "created_at": e.created_at,
            "article_ids": e.article_ids,
            "html": e.html,
            "text": e.text,
        }


def list_deliveries(
    settings: Settings,
    *,
    send_id: int | None = None,
    edition_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    if status:
        try:
            wanted: DeliveryStatus | None = DeliveryStatus(status)
        except ValueError:
            raise InvalidField(
                "status", f"must be one of {', '.join(DeliveryStatus)}, not {status!r}"
            ) from None
    else:
        wanted = None
    with db.session_scope(settings.database_url) as session:
        query = select(Delivery, Subscriber.email).join(
            Subscriber, Subscriber.id == Delivery.subscriber_id
        )
        if send_id is not None:
            query = query.where(Delivery.send_id == send_id)
        if edition_id is not None:
            query = query.where(Delivery.edition_id == edition_id)
        if wanted is not None:
            query = query.where(Delivery.status == wanted)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.execute(query.order_by(Delivery.id).limit(limit).offset(offset))
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


def list_sends(settings: Settings, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    rows = sends.send_rows(settings, limit=limit + offset)[offset:]
    with db.session_scope(settings.database_url) as session:
        from digest.store.models import Send

        total = session.scalar(select(func.count()).select_from(Send)) or 0
    return page_of(total, rows, limit, offset)


def get_send(settings: Settings, send_id: int) -> dict[str, Any]:
    detail = sends.send_detail(settings, send_id)
    settled = sum(detail.get(s, 0) for s in ("sent", "failed", "bounced", "skipped", "cancelled"))
    detail["settled"] = settled
    # A paused or cancelled send goes no further by itself: nothing left to watch.
    detail["done"] = settled >= detail["total"] or detail["status"] != "active"
    return detail


def start_send(
    settings: Settings, dispatcher: dispatch.Dispatcher, topic: str | None = None
) -> int | None:
    """Plan a send now (everyone confirmed, or the subscribers of a topic) and deliver it in
    the background; the send's id as soon as it is planned (None: nothing new for anyone)."""
    if topic is not None:
        topic = topic.strip().lower()
        if topic not in topic_names(settings):
            raise InvalidField("topic", f"no such topic: {topic!r}")
    planned = threading.Event()
    box: dict[str, Any] = {}

    def on_planned(plan: pipeline.SendPlan) -> None:
        box["send_id"] = plan.send_id
        planned.set()

    def run() -> None:
        try:
            dispatch.send(
                settings, dispatcher, kind=SendKind.NOW, topic=topic, on_planned=on_planned
            )
        except Exception as exc:  # told to the request below, or logged by the thread
            box["error"] = exc
            planned.set()
            if "send_id" in box:
                raise

    threading.Thread(target=run, name="digest-send", daemon=True).start()
    planned.wait()
    if "error" in box and "send_id" not in box:
        raise box["error"]
    return box.get("send_id")


def test_send(
    settings: Settings,
    dispatcher: dispatch.Dispatcher,
    email: str,
    as_subscriber: str | None = None,
) -> dict[str, Any]:
    """A test copy, sent where the digests go out (the workers, with a broker)."""
    return asdict(dispatcher.send_test(email, as_subscriber or None))


def preview(settings: Settings, subscriber: str | None) -> dict[str, Any] | None:
    try:
        result = pipeline.preview(settings, email=subscriber or None)
    except DigestError as exc:
        raise _field("subscriber", exc) from None
    if result is None:
        return None
    subject, html, text = result
    return {"subject": subject, "html": html, "text": text}


def csv_of(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue()
