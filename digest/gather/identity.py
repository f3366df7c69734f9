"""An article's identity: the one rule that says two entries are the same article.

A feed entry is known by its GUID (RSS ``guid``, Atom ``id``, JSON Feed ``id``), else by
its link, else by a hash of its title and content. An article page is known by its link.
Keys longer than the column are stored as a hash of themselves, so they still compare.
"""

from __future__ import annotations

import hashlib

MAX_KEY_LENGTH = 2000  # the width of articles.key


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def article_key(guid: str | None, link: str | None, title: str, content: str) -> str:
    """The stored key of an entry: stable across fetches of the same source."""
    key = (guid or "").strip() or link or _sha256(f"{title}\n{content}")
    return key if len(key) <= MAX_KEY_LENGTH else _sha256(key)
