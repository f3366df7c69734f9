"""Pick "Read also" links: earlier articles about the same story.

Each article becomes a TF-IDF vector (sublinear term frequency, title terms counted
twice) over terms that suit its script: words with a light suffix folding (Korean words
without their particles), word bigrams and figures for scripts with spaces, character
bigrams for Chinese and Japanese, and character trigrams for Thai, Lao, Burmese and Khmer.
Two articles are related when their cosine is at least ``MIN_SCORE`` *and* they share at
least ``MIN_SHARED`` distinctive terms: one or two rare words in common ("actress",
"award") are not a story in common.
A near-copy (same title, or a cosine above ``SAME_ARTICLE``) is the same article under
another address and never a link.

Only the few articles of an edition are scored against the archive, so the cost is
building the vectors of the archive once per edition, each from its title and lead
(see bench/content_quality.py for the time on ten thousand articles).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from operator import itemgetter

__all__ = ["LEAD_CHARS", "MIN_SCORE", "Doc", "related_for_all", "similarity"]


@dataclass(frozen=True)
class Doc:
    """An article as seen by the relatedness scorer."""

    id: int
    title: str
    text: str
    published: datetime | None = None  # timezone-aware
    language: str | None = None  # BCP 47, used for stop words and folding only


MIN_SCORE = 0.17
MIN_SHARED = 3  # distinctive terms (in few articles) the two must share
SAME_ARTICLE = 0.9
_TITLE_WEIGHT = 2
# Articles are compared on their title and lead: the story is told at the top, and a whole
# page's vocabulary dilutes it (on the bundled samples, same-story cosines fall by a third
# from 400 to 1,500 characters while unrelated ones stay as low).
LEAD_CHARS = 400
_DISTINCTIVE_DOCS = 5
# Terms kept per article; the weakest barely move a cosine but cost index walks.
_MAX_TERMS = 80

_STOPWORD_TEXT = """
    a about above after again against all almost also am an and any are as at be because
    been before being below between both but by can could did do does doing down during each
    even few for from further had has have having he her here hers herself him himself his
    how i if in into is it its itself just like made make many may me might more most much
    must my myself no nor not now of off on once only or other our ours ourselves out over own
    per same she should since so some still such than that the their theirs them themselves
    then there these they this those through to too under until up upon us very via was we
    were what when where whether which while who whom whose why will with within without
    would yet you your yours yourself said says say told according mr mrs ms new year years
    week day days people one two three first last
    aber als am an auch auf aus bei bin bis das dass dem den der des die doch du durch ein
    eine einem einen einer eines er es für hat hatte ich ihr im in ist ja kann mit nach
    nicht noch nur oder sich sie sind so über um und uns vom von vor war waren wie wir wird
    wurde werden worden zu zum zur sagte sagt jahr jahre neue neuen mehr beim seit gegen
    au aux avec ce ces cette dans de des du elle en est et il ils je la le les leur lui mais
    me même mes ne nos notre nous on ou où par pas plus pour qu que qui sa se ses son sont
    sur ta te tes toi ton tu un une vos votre vous été être avoir fait
    al como con del el era es esta este fue ha han las le les lo los más mi muy
    nos para pero por se sin su sus también una uno ya
    في من على إلى الى عن مع أن ان إن هذا هذه ذلك التي الذي التى كان كانت وقال قال قد لم
    ما لا أو او ثم بعد قبل حتى كل بين عند منذ خلال يوم عام
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"\d+(?:[.,:]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)?")
# Figures tell stories apart ("48-hour", "4.25 per cent", "1,200 buses"); years and
# single digits do not.
_YEAR = re.compile(r"(?:19|20)\d\d$")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# Korean writes words with spaces and ends them with particles: "시장에서" is "시장" + "에서".
_KOREAN_PARTICLE = re.compile(
    r"(?<=[\uac00-\ud7af]{2})(?:에서는|에서|에게|으로|로는|과는|와는|이나|부터|까지|보다|"
    r"은|는|이|가|을|를|에|의|로|와|과|도|만|들)$"
)
_SOUTHEAST = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]+")
_ARABIC_MARKS = re.compile(r"[\u064b-\u065f\u0670\u0640]")
_ARABIC_PREFIX = re.compile(r"^(?:وال|بال|كال|فال|لل|ال|و)(?=\w{3,})")

Vector = dict[str, float]


def _fold(word: str) -> str:
    """A light suffix folding for words of alphabetic scripts: plurals and inflections."""
    if "\uac00" <= word[0] <= "\ud7af":
        return _KOREAN_PARTICLE.sub("", word)
    if _ARABIC_MARKS.search(word) or "\u0600" <= word[0] <= "\u06ff":
        word = _ARABIC_MARKS.sub("", word).replace("أ", "ا").replace("إ", "ا").replace("آ", "ا")
        word = _ARABIC_PREFIX.sub("", word)
        return word.removesuffix("ة").removesuffix("ات") if len(word) > 4 else word
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ungen", "ung", "en", "er", "es", "e", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def _grams(run: str, n: int) -> list[str]:
    if len(run) <= n:
        return [run]
    return [run[i : i + n] for i in range(len(run) - n + 1)]


def _term(token: str) -> str:
    if token[0].isdigit():
        return "" if len(token) < 2 or _YEAR.match(token) else "#" + token.replace(",", "")
    return "" if token in _STOPWORDS or len(token) < 2 else _fold(token)


def _terms(text: str, cache: dict[str, str]) -> list[str]:
    """The terms of *text*: words and the pairs of neighbours (a dropped word breaks a
    pair), character n-grams of scripts without spaces. *cache* maps tokens to terms."""
    if text.isascii():
        text = text.lower()
        terms: list[str] = []
    else:
        text = unicodedata.normalize("NFKC", text).casefold()
        terms = [g for run in _CJK.findall(text) for g in _grams(run, 2)]
        terms += [g for run in _SOUTHEAST.findall(text) for g in _grams(run, 3)]
        if terms:
            text = _SOUTHEAST.sub(" ", _CJK.sub(" ", text))
    tokens = _WORD.findall(text)
    for token in set(tokens).difference(cache):
        cache[token] = _term(token)
    # Mapping through the cache keeps the per-token work in C.
    mapped = list(map(cache.__getitem__, tokens))
    terms += filter(None, mapped)
    terms += [f"{a} {b}" for a, b in pairwise(mapped) if a and b]
    return terms


class _Index:
    """TF-IDF vectors of the first *queries* docs, and of those among the others that
    could share *min_shared* distinctive terms with one of them; IDF over all docs."""

    def __init__(self, docs: Sequence[Doc], queries: int, min_shared: int) -> None:
        cache: dict[str, str] = {}
        counts: list[Counter[str]] = []
        for doc in docs:
            tf = Counter(_terms(doc.text[:LEAD_CHARS], cache))
            for term in _terms(doc.title, cache):
                tf[term] += _TITLE_WEIGHT
            counts.append(tf)
        df: Counter[str] = Counter()
        for tf in counts:
            df.update(tf.keys())
        n = len(docs)
        self.df, self.n = df, n
        # A distinctive term is in a handful of articles (one story's), not in one in fifty.
        self.most = max(_DISTINCTIVE_DOCS, n // 50)
        self.vectors: dict[int, Vector] = {i: self._vector(counts[i]) for i in range(queries)}
        wanted = {t for i in range(queries) for t in self.vectors[i] if df[t] <= self.most}
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i in range(queries, n):
            # Most of the archive cannot reach min_shared with any query: no vector for it.
            if len(wanted.intersection(counts[i])) < min_shared:
                continue
            vector = self.vectors[i] = self._vector(counts[i])
            for term, weight in vector.items():
                self.postings[term].append((i, weight))

    def idf(self, term: str) -> float:
        # Smoothed: a term in every article still counts a little.
        return math.log((1 + self.n) / (1 + self.df[term])) + 1

    def _vector(self, tf: Counter[str]) -> Vector:
        weights = {t: (1 + math.log(c)) * self.idf(t) for t, c in tf.items()}
        if len(weights) > _MAX_TERMS:
            # A stable sort keeps ties in text order, so the cut is deterministic.
            strongest = sorted(weights.items(), key=itemgetter(1), reverse=True)
            weights = dict(strongest[:_MAX_TERMS])
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {t: w / norm for t, w in weights.items()}

    def scores(self, target: int) -> dict[int, tuple[float, int]]:
        """Cosine and number of shared distinctive terms, for every doc sharing a term."""
        cosine: dict[int, float] = defaultdict(float)
        shared: Counter[int] = Counter()
        for term, weight in self.vectors[target].items():
            rare = self.df[term] <= self.most
            for other, other_weight in self.postings[term]:
                cosine[other] += weight * other_weight
                if rare:
                    shared[other] += 1
        return {other: (score, shared[other]) for other, score in cosine.items()}


def _title_key(title: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", title).casefold() if ch.isalnum())


def _is_earlier(candidate: Doc, doc: Doc) -> bool:
    if doc.published is None:
        return True
    return candidate.published is not None and candidate.published <= doc.published


def related_for_all(
    targets: Sequence[Doc],
    archive: Sequence[Doc],
    *,
    k: int = 3,
    min_score: float = MIN_SCORE,
    min_shared: int = MIN_SHARED,
) -> dict[int, list[int]]:
    """For every target, up to *k* ids of *archive* docs about the same story, best first.

    Only archive docs published no later than the target count; none of *targets* is
    ever returned (they are the items of one email). IDF is computed over both. Ties go to
    the newer article, then the larger id.
    """
    docs = [*targets, *archive]
    if k <= 0 or not targets:
        return {t.id: [] for t in targets}
    index = _Index(docs, len(targets), min_shared)
    first_archive = len(targets)
    result: dict[int, list[int]] = {}
    for i, doc in enumerate(targets):
        title = _title_key(doc.title)
        scored: list[tuple[float, float, int]] = []
        for other, (score, shared) in index.scores(i).items():
            if other < first_archive or score < min_score or shared < min_shared:
                continue
            candidate = docs[other]
            if score >= SAME_ARTICLE or _title_key(candidate.title) == title:
                continue  # the same article under another address
            if not _is_earlier(candidate, doc):
                continue
            newness = candidate.published.timestamp() if candidate.published else -math.inf
            scored.append((score, newness, candidate.id))
        scored.sort(reverse=True)
        result[doc.id] = [doc_id for _, _, doc_id in scored[:k]]
    return result


def similarity(a: Doc, b: Doc, corpus: Sequence[Doc]) -> tuple[float, int]:
    """Cosine and shared distinctive terms of *a* and *b*, IDF taken over *corpus* (for
    measuring and tuning)."""
    docs = [a, b, *corpus]
    index = _Index(docs, 1, 0)
    return index.scores(0).get(1, (0.0, 0))
