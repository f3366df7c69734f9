"""Topics by name: what sources are about and subscribers choose (rows of their own)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.core.topics import TOPIC_MAX_LENGTH, normalize_topics
from digest.errors import InvalidInput
from digest.store.db import insert_ignore
from digest.store.models import Source, Topic, source_topics


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


def known_topics(session: Session) -> list[str]:
    """The topics a person can choose: those of the sources."""
    return list(
        session.scalars(
            select(Topic.name)
            .join(source_topics, source_topics.c.topic_id == Topic.id)
            .join(Source, Source.id == source_topics.c.source_id)
            .distinct()
            .order_by(Topic.name)
        )
    )


def topic_names(session: Session) -> list[str]:
    """Every topic named anywhere (by a source or a subscriber), sorted."""
    return list(session.scalars(select(Topic.name).order_by(Topic.name)))


def unknown_topics(session: Session, names: list[str] | tuple[str, ...]) -> list[str]:
    """Of these topic names (normalized), those no source has, sorted."""
    wanted = normalize_topics(names)
    return sorted(set(wanted) - set(known_topics(session))) if wanted else []


def unknown_topics_problem(session: Session, names: list[str] | tuple[str, ...]) -> str | None:
    """What to tell someone who chose a topic no source has (nothing would ever reach
    them through it), or None."""
    unknown = unknown_topics(session, names)
    if not unknown:
        return None
    known = known_topics(session)
    listed = ", ".join(known) if known else "none yet (give a source a topic first)"
    which = ", ".join(repr(t) for t in unknown)
    return f"no source has the topic {which}; the topics are: {listed}"
