"""Which of an edition's articles it shows: the newest by publication date, undated ones
after the dated ones, with every source given its share so one busy source cannot crowd
out the others; the rest are "and N more". An edition is known by its set of articles."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Candidate:
    """An article as item choice sees it."""

    id: int
    source_id: int
    published: datetime | None
    first_seen: datetime


def newness(c: Candidate) -> tuple[int, datetime, int]:
    """Sort key, newest first when reversed: dated before undated, then by date.

    A publication date later than the moment the article was first seen is a feed's
    mistake (or a time zone's): the article is taken as published when it was first seen.
    """
    if c.published is None:
        return (0, c.first_seen, c.id)
    return (1, min(c.published, c.first_seen), c.id)


def choose_items(candidates: Sequence[Candidate], limit: int) -> tuple[list[int], list[int]]:
    """The ids to show (newest first) and the ids left out (newest first).

    Each source may fill at most its share (``limit`` over the number of sources, rounded
    up) while others have articles to show; places left after that go to the newest of
    what remains, whatever its source.
    """
    ranked = sorted(candidates, key=newness, reverse=True)
    if limit <= 0:
        return [], [c.id for c in ranked]
    share = math.ceil(limit / max(1, len({c.source_id for c in ranked})))
    taken: Counter[int] = Counter()
    chosen: set[int] = set()
    for c in ranked:
        if len(chosen) < limit and taken[c.source_id] < share:
            chosen.add(c.id)
            taken[c.source_id] += 1
    for c in ranked:
        if len(chosen) >= limit:
            break
        chosen.add(c.id)
    shown = [c.id for c in ranked if c.id in chosen]
    return shown, [c.id for c in ranked if c.id not in chosen]


def content_key(article_ids: Iterable[int], sources: Iterable[int] | None = None) -> str:
    """The key of an edition: its articles and, for readers of some topics only, the
    sources its "Read also" and "Latest" are drawn from (None: every source, the key it
    always had)."""
    text = ",".join(map(str, sorted(article_ids)))
    if sources is not None:
        text += "|sources:" + ",".join(map(str, sorted(sources)))
    return hashlib.sha256(text.encode()).hexdigest()
