"""Pick "Read also" links: earlier articles most similar to a given article.

Similarity is TF-IDF cosine over title and body words (title words count double), plus a
small bonus for shared categories. Each article is represented by its 64 strongest terms,
which keeps the inverted index sparse: scoring every article of a ~500-article corpus
against the others takes well under a second in pure Python.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter

__all__ = ["Doc", "related_for_all"]


@dataclass(frozen=True)
class Doc:
    """An article as seen by the relatedness scorer."""

    id: int
    title: str
    text: str
    categories: tuple[str, ...] = ()
    published: datetime | None = None  # timezone-aware


_TITLE_WEIGHT = 2
_CATEGORY_BONUS = 0.05  # scaled by the Jaccard overlap of categories
# Each article is represented by its strongest terms only. Low-weight terms barely move
# the cosine but, being common, dominate the cost of walking the inverted index.
_MAX_TERMS = 64

# English, plus reporting verbs that appear in nearly every news story.
_STOPWORDS_EN = """
    a about above after again against all almost also am an and any are as at be because
    been before being below between both but by can could did do does doing down during each
    even few for from further had has have having he her here hers herself him himself his
    how i if in into is it its itself just like made make many may me might more most much
    must my myself no nor not now of off on once only or other our ours ourselves out over own
    per same she should since so some still such than that the their theirs them themselves
    then there these they this those through to too under until up upon us very via was we
    were what when where whether which while who whom whose why will with within without
    would yet you your yours yourself said says say told according mr mrs ms
"""
_STOPWORDS_FR = """
    au aux avec ce ces cette dans de des du elle en est et il ils je la le les leur lui mais
    me même mes ne nos notre nous on ou où par pas plus pour qu que qui sa se ses son sont
    sur ta te tes toi ton tu un une vos votre vous été être avoir fait
"""
_STOPWORDS_DE = """
    aber als am an auch auf aus bei bin bis das dass dem den der des die doch du durch ein
    eine einem einen einer eines er es für hat hatte ich ihr im in ist ja kann mit nach
    nicht noch nur oder sich sie sind so über um und uns vom von vor war waren wie wir wird
    wurde zu zum zur
"""
_STOPWORDS_ES = """
    al como con de del el en era es esta este fue ha han la las le les lo los más mi muy
    no nos o para pero por que se sin su sus también un una uno y ya
"""
_STOPWORDS = frozenset(
    word
    for words in (_STOPWORDS_EN, _STOPWORDS_FR, _STOPWORDS_DE, _STOPWORDS_ES)
    for word in words.split()
)
_TOKEN = re.compile(r"[^\W_]+")

Vector = dict[str, float]


_DROPPED = ""  # cache value for tokens that are not terms; no real term is empty


def _term(token: str) -> str:
    if token in _STOPWORDS or token.isdigit() or (len(token) < 2 and token.isascii()):
        return _DROPPED
    # Light English plural folding: "trams" -> "tram", "libraries" -> "library".
    if len(token) > 4 and token.endswith("ies"):
        token = token[:-3] + "y"
    elif len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        token = token[:-1]
    return _DROPPED if token in _STOPWORDS else token


def _term_counts(text: str, cache: dict[str, str]) -> Counter[str]:
    tokens = _TOKEN.findall(text.lower())
    for token in set(tokens).difference(cache):
        cache[token] = _term(token)
    # Mapping through the cache keeps the per-token work in C, which dominates the cost.
    counts = Counter(map(cache.__getitem__, tokens))
    del counts[_DROPPED]
    return counts


def _is_earlier(candidate: Doc, target: Doc) -> bool:
    # Equal timestamps are common for feeds that only give a date; the id then decides.
    if (
        candidate.published is not None
        and target.published is not None
        and candidate.published != target.published
    ):
        return candidate.published < target.published
    return candidate.id < target.id


class _Index:
    """TF-IDF vectors and an inverted index over one corpus."""

    def __init__(self, docs: Sequence[Doc]) -> None:
        unique: dict[int, Doc] = {}
        for doc in docs:
            unique.setdefault(doc.id, doc)
        self.docs = list(unique.values())
        self.titles = [doc.title.strip().casefold() for doc in self.docs]
        self.categories = [{c.strip().casefold() for c in doc.categories} for doc in self.docs]

        cache: dict[str, str] = {}
        counts: list[Counter[str]] = []
        for doc in self.docs:
            tf = _term_counts(doc.text, cache)
            for term, count in _term_counts(doc.title, cache).items():
                tf[term] += _TITLE_WEIGHT * count
            counts.append(tf)

        df: Counter[str] = Counter()
        for tf in counts:
            df.update(tf.keys())
        n = len(self.docs)
        # Smoothed IDF: a term in every document still counts a little, so a corpus of two
        # articles can relate them at all.
        idf = {term: math.log((1 + n) / (1 + d)) + 1 for term, d in df.items()}

        self.vectors: list[Vector] = []
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, tf in enumerate(counts):
            # Sublinear tf; most terms occur once, where 1 + log(1) == 1.
            weights = {t: idf[t] if c == 1 else (1 + math.log(c)) * idf[t] for t, c in tf.items()}
            if len(weights) > _MAX_TERMS:
                # A stable sort keeps ties in text order, so the cut is deterministic.
                strongest = sorted(weights.items(), key=itemgetter(1), reverse=True)
                weights = dict(strongest[:_MAX_TERMS])
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            vector = {t: w / norm for t, w in weights.items()}
            self.vectors.append(vector)
            for term, weight in vector.items():
                self.postings[term].append((i, weight))

    def rank(self, target: int, *, k: int, min_score: float) -> list[int]:
        if k <= 0:
            return []
        doc = self.docs[target]
        cosine: dict[int, float] = defaultdict(float)
        for term, weight in self.vectors[target].items():
            for other, other_weight in self.postings[term]:
                cosine[other] += weight * other_weight

        scored: list[tuple[float, float, int]] = []
        for other, score in cosine.items():
            candidate = self.docs[other]
            if (
                other == target
                or self.titles[other] == self.titles[target]
                or not _is_earlier(candidate, doc)
            ):
                continue
            shared = self.categories[target] & self.categories[other]
            if shared:
                union = self.categories[target] | self.categories[other]
                score += _CATEGORY_BONUS * len(shared) / len(union)
            if score < min_score:
                continue
            newness = candidate.published.timestamp() if candidate.published else -math.inf
            scored.append((score, newness, candidate.id))
        scored.sort(reverse=True)
        return [doc_id for _, _, doc_id in scored[:k]]


def related_for_all(
    docs: Sequence[Doc], *, k: int = 3, min_score: float = 0.08
) -> dict[int, list[int]]:
    """For every doc, up to *k* ids of docs published before it, most related first.

    IDF is computed over all *docs*, and the vectors are built only once. A doc itself and
    docs with the same title (case-insensitive) are never returned, nor anything scoring
    below *min_score*. Ties go to the newer article, then the larger id.
    """
    index = _Index(docs)
    return {doc.id: index.rank(i, k=k, min_score=min_score) for i, doc in enumerate(index.docs)}
