"""Topics by name, as the admin's forms and the sign-up page offer them."""

from __future__ import annotations

from collections.abc import Sequence

from digest.config import Settings
from digest.core.topics import TOPIC_MAX_LENGTH, normalize_topics
from digest.errors import InvalidField
from digest.store import topics
from digest.store.db import session_scope


def checked_topics(names: Sequence[str], field: str = "topics") -> list[str]:
    """Topics as given, refused (InvalidField naming `field`) if one is too long."""
    too_long = [t for t in normalize_topics(list(names)) if len(t) > TOPIC_MAX_LENGTH]
    if too_long:
        raise InvalidField(
            field, f"a topic has at most {TOPIC_MAX_LENGTH} characters: {too_long[0]!r}"
        )
    return list(names)


def topic_names(settings: Settings) -> list[str]:
    """Every topic named anywhere (by a source or a subscriber), sorted."""
    with session_scope(settings.database_url) as session:
        return topics.topic_names(session)


def signup_topics(settings: Settings) -> list[str]:
    """The topics a person can choose when signing up: those of the sources."""
    with session_scope(settings.database_url) as session:
        return topics.known_topics(session)
