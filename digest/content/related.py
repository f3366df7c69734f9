"""Pick "Read also" links: earlier articles about the same story.

Each article becomes a TF-IDF vector (sublinear term frequency, title terms counted
twice) over terms that suit its script: words with a light suffix folding (Korean words
without their particles), word bigrams and figures for scripts with spaces, character
bigrams for Chinese and Japanese, and character trigrams for Thai, Lao, Burmese and Khmer.

Outlets tell one story in their own words, so the wording they share is thin; what they
do share is the story's names (places, people, companies: words capitalised inside a
sentence), the rare words of what happened, and a time: follow-ups come within hours or
days. An archive article is a candidate when it shares at least ``MIN_SHARED``
distinctive terms (in few articles) with the new one; its evidence (`Evidence`: the
cosine, the rare names in common, the rare words in common besides names, whether the
script has capitals at all, and the time between them up to a week) is weighed by a
logistic model into the probability that the two tell the same story, and it is a link
when that is at least ``MIN_SCORE``. A name in common without the rest ("Harwick") is a
place in common, not a story; the rest without a name is a topic in common.
The weights were fitted, and the threshold chosen by cross-validation, on the dev splits
of tests/fixtures/content/outlets.json and on tests/fixtures/content/stories.json; its
holdout split, written afterwards, is only measured (bench/related.py prints the figures
and refits with ``--fit``). Sentence embeddings that ship inside packages (wordllama's
static ones, a 4-bit multilingual-e5-small) were tried as one more piece of evidence and
added nothing on the dev splits (docs/benchmarks.md).
A near-copy (same title, or a cosine above ``SAME_ARTICLE``) is the same article under
another address and never a link.

Only the few articles of an edition are scored against the archive, so the cost is
building the vectors of the archive once per edition, each from its title and lead
(bench/related.py prints the time on ten thousand articles).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from operator import itemgetter

__all__ = [
    "LEAD_CHARS",
    "MIN_SCORE",
    "Doc",
    "Evidence",
    "evidence",
    "related_for_all",
    "similarity",
]


@dataclass(frozen=True)
class Doc:
    """An article as seen by the relatedness scorer."""

    id: int
    title: str
    text: str
    published: datetime | None = None  # timezone-aware
    language: str | None = None  # BCP 47, used for stop words and folding only


# The least probability of "same story" that makes a link (see the module's docstring).
MIN_SCORE = 0.6
MIN_SHARED = 2  # distinctive terms (in few articles) a candidate must share
SAME_ARTICLE = 0.9
# The logistic model's weights over the evidence (`Evidence.features`), and its bias,
# as `bench/related.py --fit` prints them.
WEIGHTS = (3.712, 4.587, 1.844, -0.98, -5.415)
BIAS = 1.16
# Hours between the two when either is undated: as if a day apart.
_UNDATED_HOURS = 24.0
# Past a week apart, time says no more: a story may go on for weeks (the cap was chosen
# by cross-validation in bench/related.py, among none, 60, 30, 14, 7 and 3 days).
_HOURS_CAP = 168.0
_RARE_CAP = 6.0  # words: past a handful, more say little
# Character n-grams a word makes, about: bigrams of Chinese and Japanese, trigrams of
# Thai, Lao, Burmese and Khmer.
_BIGRAMS_PER_WORD = 2.0
_TRIGRAMS_PER_WORD = 4.0
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
# The article and the clitics written onto a word: "and", "with", "for", "like" ("لمترو"
# is "for the metro"); a one-letter clitic only before four letters more, as a word's own
# first letter is as likely.
_ARABIC_PREFIX = re.compile(r"^(?:وال|بال|كال|فال|لل|ال|و)(?=\w{3,})|^[لبفك](?=\w{4,})")

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


# A capitalised word (any cased script) and what may stand before a sentence's first word.
_CASED_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_LETTERS = re.compile(r"[^\W\d_]")
_CASED_LETTERS = re.compile(r"[A-Za-z\u00c0-\u024f\u0370-\u058f\u1e00-\u1fff]")
_LOWER_WORD = re.compile(r"(?<![^\W\d_])[^\W\d_A-Z\u00c0-\u00de][^\W\d_]*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\"“”«»|–—-])\s*$")
_NOUNS_CAPITALISED = frozenset({"de", "lb", "gsw"})
_GERMAN_ARTICLE_TEXT = """
    der die das des dem den ein eine einer eines einem einen kein keine keinen keinem
    keiner dieser diese dieses diesem diesen jeder jede jedes jedem jeden mehrere alle
    viele sein seine seinem seinen seiner ihr ihre ihrem ihren ihrer unser unsere
"""
_GERMAN_ARTICLES = frozenset(_GERMAN_ARTICLE_TEXT.split())
_GERMAN_PREPOSITION_TEXT = """
    in aus von nach bei für gegen um zu über mit zwischen an auf bis durch ab seit vor
    hinter unter neben nahe rund
"""
_GERMAN_BEFORE_NAMES = frozenset(_GERMAN_PREPOSITION_TEXT.split())


def _names(doc: Doc, cache: dict[str, str]) -> set[str]:
    """The terms of *doc*'s names: words written with a capital inside a sentence, in
    title and lead. German capitalises every noun: there a name is a capitalised word
    after a preposition (in Osterfeld, von Hallberg) or a capitalised word (Sabine
    Kroll), not one after an article, an adjective or a figure (die Feuerwehr)."""
    nouns_capitalised = _language(doc.language) in _NOUNS_CAPITALISED
    inside: set[str] = set()
    for text in (doc.title, doc.text[:LEAD_CHARS]):
        before = ""
        for match in _CASED_WORD.finditer(text):
            word, previous = match.group(), before
            before = word
            if not word[0].isupper():
                continue
            if _SENTENCE_START.search(text, 0, match.start()) is not None:
                continue
            if nouns_capitalised and (
                previous.casefold() in _GERMAN_ARTICLES
                or (previous[:1].islower() and previous not in _GERMAN_BEFORE_NAMES)
                or text[: match.start()].rstrip()[-1:].isdigit()
            ):
                continue
            inside.add(word.removesuffix("'s").removesuffix("’s"))
    terms = set()
    for word in inside:
        token = unicodedata.normalize("NFKC", word).casefold()
        if token not in cache:
            cache[token] = _term(token)
        if cache[token]:
            terms.add(cache[token])
    return terms


def _language(tag: str | None) -> str:
    return (tag or "").split("-")[0].lower()


def _is_cased(doc: Doc) -> bool:
    """Whether *doc* is written in a script with capitals (names stand out in it):
    Latin, Greek, Cyrillic or Armenian letters are at least half of its letters."""
    text = doc.title + doc.text[:LEAD_CHARS]
    letters = len(_LETTERS.findall(text))
    return bool(letters) and 2 * len(_CASED_LETTERS.findall(text)) >= letters


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
        self.docs, self.counts, self.cache = docs, counts, cache
        self.df, self.n = df, n
        # A distinctive term is in a handful of articles (one story's), not in one in fifty.
        self.most = max(_DISTINCTIVE_DOCS, n // 50)
        self.top_idf = self.idf("") if n else 1.0  # a term in no other article
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
        self._words: dict[int, dict[str, float]] = {}
        self._names: dict[int, tuple[set[str], set[str]]] = {}
        self._cased: dict[int, bool] = {}

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

    def words(self, i: int) -> dict[str, float]:
        """The words (no pairs) of doc *i*, each with its IDF over the largest IDF."""
        if i not in self._words:
            self._words[i] = {t: self.idf(t) / self.top_idf for t in self.counts[i] if " " not in t}
        return self._words[i]

    def grams_per_word(self, i: int) -> float:
        """About how many of doc *i*'s terms make a word: 1 for words, more for the
        character n-grams of scripts without spaces."""
        title = self.docs[i].title
        if _SOUTHEAST.search(title):
            return _TRIGRAMS_PER_WORD
        return _BIGRAMS_PER_WORD if _CJK.search(title) else 1.0

    def cased(self, i: int) -> bool:
        if i not in self._cased:
            self._cased[i] = _is_cased(self.docs[i])
        return self._cased[i]

    def names(self, i: int) -> tuple[set[str], set[str]]:
        """The terms of doc *i*'s names, and the words it writes in lower case."""
        if i not in self._names:
            doc = self.docs[i]
            lowercase = set()
            for text in (doc.title, doc.text[:LEAD_CHARS]):
                for word in _LOWER_WORD.findall(text):
                    token = unicodedata.normalize("NFKC", word).casefold()
                    if token not in self.cache:
                        self.cache[token] = _term(token)
                    lowercase.add(self.cache[token])
            self._names[i] = (_names(doc, self.cache), lowercase)
        return self._names[i]

    def evidence(self, target: int, other: int, cosine: float) -> Evidence:
        mine, theirs = self.words(target), self.words(other)
        rare = [t for t in mine.keys() & theirs.keys() if self.df[t] <= self.most]
        # A word either writes in lower case is no name ("Keepers" starting a sentence).
        (names_a, lower_a), (names_b, lower_b) = self.names(target), self.names(other)
        names = {t for t in (names_a & names_b) - lower_a - lower_b if self.df[t] <= self.most}
        a, b = self.docs[target], self.docs[other]
        if a.published is None or b.published is None:
            hours = _UNDATED_HOURS
        else:
            hours = abs((a.published - b.published).total_seconds()) / 3600
        # Character n-grams count by the word: a word makes several.
        grams = max(self.grams_per_word(target), self.grams_per_word(other))
        words = sum(mine[t] for t in rare if t not in names_a and t not in names_b) / grams
        return Evidence(
            cosine=cosine,
            rare_words=words,
            names=len(names),
            uncased=not (self.cased(target) and self.cased(other)),
            hours=hours,
        )


@dataclass(frozen=True)
class Evidence:
    """What speaks for two articles telling the same story."""

    cosine: float  # of their TF-IDF vectors
    # Rare words and figures in common that are not names (what happened, not where or
    # to whom), each weighted by its IDF over the largest (0..1), by the word.
    rare_words: float
    names: int  # rare names in common
    uncased: bool  # either is in a script without capitals (no names to see)
    hours: float  # between their publication times

    @property
    def features(self) -> tuple[float, ...]:
        return (
            self.cosine,
            min(self.names, 4) / 4,
            math.log1p(min(self.rare_words, _RARE_CAP)),
            float(self.uncased),
            math.log1p(min(self.hours, _HOURS_CAP)) / 5,
        )

    @property
    def score(self) -> float:
        """The probability that the two tell the same story."""
        z = BIAS + sum(w * x for w, x in zip(WEIGHTS, self.features, strict=True))
        return 1 / (1 + math.exp(-z))


def _title_key(title: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", title).casefold() if ch.isalnum())


def _is_earlier(candidate: Doc, doc: Doc) -> bool:
    if doc.published is None:
        return True
    return candidate.published is not None and candidate.published <= doc.published


def _candidates(
    index: _Index, i: int, first_archive: int, min_shared: int
) -> Iterator[tuple[int, Evidence]]:
    """The archive docs that may tell target *i*'s story, with their evidence: earlier,
    sharing *min_shared* distinctive terms, and not the same article again."""
    doc = index.docs[i]
    title = _title_key(doc.title)
    for other, (cosine, shared) in index.scores(i).items():
        if other < first_archive or shared < min_shared:
            continue
        candidate = index.docs[other]
        if cosine >= SAME_ARTICLE or _title_key(candidate.title) == title:
            continue  # the same article under another address
        if not _is_earlier(candidate, doc):
            continue
        yield other, index.evidence(i, other, cosine)


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
    ever returned (they are the items of one email). IDF is computed over both. A link
    needs a same-story probability (`Evidence.score`) of at least *min_score*. Ties go
    to the newer article, then the larger id.
    """
    docs = [*targets, *archive]
    if k <= 0 or not targets:
        return {t.id: [] for t in targets}
    index = _Index(docs, len(targets), min_shared)
    result: dict[int, list[int]] = {}
    for i, doc in enumerate(targets):
        scored: list[tuple[float, float, int]] = []
        for other, found in _candidates(index, i, len(targets), min_shared):
            score = found.score
            if score < min_score:
                continue
            candidate = docs[other]
            newness = candidate.published.timestamp() if candidate.published else -math.inf
            scored.append((score, newness, candidate.id))
        scored.sort(reverse=True)
        result[doc.id] = [doc_id for _, _, doc_id in scored[:k]]
    return result


def evidence(
    targets: Sequence[Doc], archive: Sequence[Doc], *, min_shared: int = MIN_SHARED
) -> dict[int, dict[int, Evidence]]:
    """For every target, the evidence of each archive doc that is a candidate for its
    "Read also" (for measuring and fitting the weights: see bench/related.py)."""
    docs = [*targets, *archive]
    index = _Index(docs, len(targets), min_shared)
    return {
        doc.id: {
            docs[other].id: found
            for other, found in _candidates(index, i, len(targets), min_shared)
        }
        for i, doc in enumerate(targets)
    }


def similarity(a: Doc, b: Doc, corpus: Sequence[Doc]) -> tuple[float, int]:
    """Cosine and shared distinctive terms of *a* and *b*, IDF taken over *corpus* (for
    measuring and tuning)."""
    docs = [a, b, *corpus]
    index = _Index(docs, 1, 0)
    return index.scores(0).get(1, (0.0, 0))
