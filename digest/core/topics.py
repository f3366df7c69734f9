"""Topics by name, as people type them: trimmed, lowercased, each once."""

from __future__ import annotations

TOPIC_MAX_LENGTH = 200


def normalize_topics(topics: list[str] | tuple[str, ...]) -> list[str]:
    """Lowercase, trimmed, unique, in the order given."""
    seen: dict[str, None] = {}
    for topic in topics:
        cleaned = " ".join(topic.split()).lower()
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)
