"""Real public pages and feeds: page kinds, text kept, entries accounted for, summaries.

Four measurements, each over test data that projects of this field ship in their source
distributions on PyPI, fetched at run time with pip (nothing of them is kept here):

- page kinds (``--part kinds``): the article pages trafilatura 0.9.0 ships in tests/cache
  (106 real pages: German ministry, city, law and news pages, English blogs and
  magazines) and newspaper4k's tests/data/html (news pages in nine scripts, and three
  home pages), each read as a new source is read (`digest.gather.read`, kind ``auto``,
  its links answering 404): how many come out as an article, a section, an error;
- text (``--part text``): for each newspaper4k page with an expected text, the share of
  the expected text's words found in the text stored (recall) and the share of the text
  stored that is not in the expected text (noise);
- feeds (``--part feeds``): the ~2,200 test feeds feedparser 6.0.11 ships (tests/), all
  gathered into one SQLite database through `gather_all` as sources of one instance:
  for each, the entries feedparser finds, the entries accounted for (stored, or left out
  with a reason), and the feeds whose entries were all lost without a word (target: 0);
- summaries (``--part summaries``, below).

Summaries of real public pages in many scripts: are their sentences the article's own?

The pages are the test data newspaper4k ships in its source distribution on PyPI
(tests/data/html/*.html, with the article text its authors expect in tests/data/txt/ and
metadata in tests/data/metadata/): news pages in English, Spanish, Latvian, Arabic,
Chinese, Japanese, Korean, Thai and Burmese, fetched at run time with pip (nothing of
them is kept in this repository). Each page goes through what the gatherer does with a
full page (parse_article_page, then article_body, article_language and summarize, as
digest.pipeline.gather.article_from_entry does) and each summary sentence is checked
against the expected article text:

- a sentence of the article: the summary sentence is in the expected text from a
  sentence's start to a sentence's end (`is_sentence_of`; target: at least 95 % of them);
- opening with the headline or the dek: the summary starts with the page's headline, or
  with its description (og:description or the description meta) when that is not a
  sentence of the article (target: none).

    .venv/bin/python bench/real_world.py               # every part
    .venv/bin/python bench/real_world.py --part kinds  # or text, feeds, summaries
    .venv/bin/python bench/real_world.py --pages DIR   # an unpacked tests/data folder
    .venv/bin/python bench/real_world.py -v            # every summary, sentence by sentence

A measurement, not a test: it prints figures and ratios against the limits.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from digest.content import (  # noqa: E402
    article_body,
    article_language,
    split_sentences,
    summarize,
)
from digest.errors import FeedError  # noqa: E402
from digest.gather.pages import parse_article_page  # noqa: E402

PACKAGE = "newspaper4k==0.9.6"
KINDS_PACKAGE = "trafilatura==0.9.0"
FEEDS_PACKAGE = "feedparser==6.0.11"
# newspaper4k's pages that are no article: a feed, and a page that only redirects.
NOT_ARTICLES = frozenset(("sample_rss", "google_meta_refresh"))
SHARE_LIMIT = 0.95
_META = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""")
_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def fetch(into: Path) -> Path:
    """Download and unpack the sdist; return its tests/data folder."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
         ":all:", "--dest", str(into), PACKAGE],
        check=True,
    )  # fmt: skip
    archive = next(into.glob("newspaper4k-*.tar.gz"))
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/tests/data/" in m.name and m.isfile()]
        tar.extractall(into, members=members, filter="data")
    return next(into.glob("newspaper4k-*/tests/data"))


def metas(page: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for tag in _META.findall(page):
        attrs = {k.lower(): v.strip("\"'") for k, v in _ATTR.findall(tag)}
        key = (attrs.get("property") or attrs.get("name") or "").lower()
        if key and "content" in attrs and key not in found:
            found[key] = html.unescape(attrs["content"]).strip()
    return found


def squash(text: str) -> str:
    """Text compared without its spaces (scripts without spaces break lines anywhere)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


_STOPS = ".!?…。！？။။؟۔।॥։"
_CLOSERS = "\"'”’»)]」』）›"
_SPACE_STOP = re.compile(r"[\u0e00-\u0eff]")  # Thai and Lao end sentences with a space


def flatten(text: str) -> str:
    """*text* with its paragraphs on lines of their own and its spaces single."""
    paragraphs = re.split(r"\n\s*\n|\n", unicodedata.normalize("NFKC", text))
    return "\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def _ends(text: str) -> bool:
    text = text.rstrip(_CLOSERS)
    return bool(text) and text[-1] in _STOPS


def is_sentence_of(sentence: str, reference: str) -> bool:
    """Whether *sentence* is in *reference* from a sentence's start to a sentence's end:
    after a paragraph break, or a full stop and a space (no space after a full stop of
    Chinese or Japanese), up to the same; in Thai and Lao a space alone is a stop. A colon
    at a paragraph's end may run on into the next ("include:" and its first item)."""
    sentence = " ".join(unicodedata.normalize("NFKC", sentence).split())
    reference = re.sub(r"([:：])\n", r"\1 ", reference)
    start = reference.find(sentence)
    while start >= 0:
        end = start + len(sentence)
        before, after = reference[:start], reference[end:]
        last = before.rstrip(_CLOSERS)[-1:]
        starts = (
            not before
            or before.endswith("\n")
            or (before.endswith(" ") and _ends(before[:-1]))
            or (last in _STOPS and unicodedata.east_asian_width(last) in "WF")
            or (before.endswith(" ") and bool(_SPACE_STOP.match(sentence[:1])))
        )
        wide = unicodedata.east_asian_width(sentence[-1]) in "WF"
        ends = (
            not after
            or after.startswith("\n")
            or (_ends(sentence) and (after.startswith(" ") or wide))
            or (after.startswith(" ") and bool(_SPACE_STOP.match(sentence[-1])))
        )
        if starts and ends:
            return True
        start = reference.find(sentence, start + 1)
    return False


def cases(data: Path) -> list[tuple[str, str, str, str | None, str | None, str]]:
    """(name, page, headline, dek, url, expected text) for each page with a text."""
    out = []
    for page_file in sorted((data / "html").glob("*.html")):
        name = page_file.stem
        expected_file = data / "txt" / f"{name}.txt"
        if not expected_file.is_file():
            continue
        page = page_file.read_text(encoding="utf-8", errors="replace")
        meta_file = data / "metadata" / f"{name}.json"
        meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
        tags = metas(page)
        match = _TITLE.search(page)
        title = (
            meta.get("title")
            or tags.get("og:title")
            or (html.unescape(match.group(1)).strip() if match else "")
        )
        dek = tags.get("og:description") or tags.get("description") or None
        url = meta.get("url") or tags.get("og:url") or f"https://example.org/{name}"
        expected = expected_file.read_text(encoding="utf-8")
        out.append((name, page, title, dek, url, expected))
    return out


def measure(data: Path, verbose: bool) -> None:
    total = own = opening = 0
    print(f"Summaries of the pages {PACKAGE} ships (tests/data/html with an expected text)")
    for name, page, page_title, dek, url, expected in cases(data):
        try:
            entry = parse_article_page(page, url=url)
        except FeedError as error:
            print(f"   {name:22} no article: {error}")
            continue
        title = entry.title or page_title
        body = article_body(entry.content_html, title=title)
        language = article_language(entry.language, f"{title}\n{body}")
        summary = summarize(body, title=title, language=language, from_body=True)
        reference = flatten(expected)
        sentences = split_sentences(summary, language) if summary else []
        mine = [s for s in sentences if is_sentence_of(s, reference)]
        total += len(sentences)
        own += len(mine)
        start = squash(summary)[:40]
        # A description that is the lead cut short is the article's text, not a dek.
        dek_is_text = bool(dek) and squash(dek or "")[:40] in squash(expected)
        opens = bool(start) and (
            start.startswith(squash(title)[:40])
            or (bool(dek) and not dek_is_text and start.startswith(squash(dek or "")[:40]))
        )
        opening += opens
        flag = "" if len(mine) == len(sentences) and not opens else "  <--"
        print(f"   {name:22} {language or '?':6} {len(mine)}/{len(sentences)} sentences of the"
              f" article{', opens with the headline or dek' if opens else ''}{flag}")  # fmt: skip
        if verbose or flag:
            for s in sentences:
                print(f"      {'ok ' if s in mine else 'NOT'} {s[:160]}")
    share = own / max(1, total)
    print(
        f"   summary sentences that are sentences of the article: {own}/{total} ="
        f" {100 * share:.1f} % (limit {100 * SHARE_LIMIT:.0f} %, ratio"
        f" {share / SHARE_LIMIT:.2f}); opening with the headline or the dek: {opening}"
    )


def sdist(package: str, into: Path) -> Path:
    """Download and unpack a source distribution; its top folder."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
         ":all:", "--dest", str(into), package],
        check=True,
    )  # fmt: skip
    name = package.split("==")[0].replace("-", "_")
    archive = next(p for p in into.glob("*.tar.gz") if p.name.lower().startswith(name))
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return next(p for p in into.iterdir() if p.is_dir() and p.name.lower().startswith(name))


_CANONICAL = re.compile(
    rb"""<link[^>]+rel=["']canonical["'][^>]*href=["'](https?://[^"']+)"""
    rb"""|property=["']og:url["'][^>]*content=["'](https?://[^"']+)""",
    re.IGNORECASE,
)


def page_address(body: bytes, name: str) -> str:
    """The address a page names as its own, else one made up of its file's name."""
    match = _CANONICAL.search(body)
    if match:
        return html.unescape((match.group(1) or match.group(2)).decode("utf-8", "replace"))
    return f"https://{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.example/index"


def kind_of(body: bytes, url: str) -> tuple[str, str]:
    """(kind, why) of a page read as a new source is: its links answer 404."""
    from digest.gather import read
    from digest.gather.fetch import Fetched

    def fetcher(asked: str) -> Fetched:
        if asked == url:
            return Fetched(url, 200, body, "text/html", None, None)
        return Fetched(asked, 404, b"", "text/plain", None, None)

    try:
        got = read(url, fetcher=fetcher, probe=False)
    except Exception as error:  # what a source would record as its error
        return "error", str(error)[:100]
    return got.kind, got.reason or got.note or ""


def measure_kinds(folders: list[tuple[str, Path, str]], verbose: bool) -> None:
    """Page kinds of real pages: (what they are, folder, what each should be)."""
    print("Page kinds: real pages read as new sources are")
    for label, folder, expected in folders:
        counts: dict[str, int] = {}
        for page in sorted(folder.glob("*.html")):
            body = page.read_bytes()
            kind, why = kind_of(body, page_address(body, page.stem))
            counts[kind] = counts.get(kind, 0) + 1
            if verbose or kind != expected:
                print(f"   {page.name:40} {kind:8} {why}")
        total = sum(counts.values())
        right = counts.get(expected, 0)
        shown = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        print(
            f"   {label}: {right}/{total} read as {expected}"
            f" ({100 * right / max(1, total):.1f} %): {shown}"
        )


def words(text: str) -> list[str]:
    """Words to compare texts by; a script without spaces counts by its letters."""
    text = unicodedata.normalize("NFKC", text).casefold()
    out: list[str] = []
    for token in re.findall(r"\w+", text):
        if any(unicodedata.east_asian_width(c) in "WF" or "\u0e00" <= c <= "\u109f" for c in token):
            out.extend(token)
        else:
            out.append(token)
    return out


def measure_text(data: Path) -> None:
    """Recall and noise of the text stored, against each page's expected text."""
    from collections import Counter

    print("Text kept: newspaper4k's pages against the article text its authors expect")
    recalls, noises = [], []
    for name, page, _title, _dek, url, expected in cases(data):
        try:
            entry = parse_article_page(page, url=url)
        except FeedError as error:
            print(f"   {name:22} no article: {error}")
            recalls.append(0.0)
            continue
        got = Counter(words(article_body(entry.content_html, title=entry.title)))
        want = Counter(words(expected))
        common = sum((got & want).values())
        recall = common / max(1, sum(want.values()))
        noise = 1 - common / max(1, sum(got.values()))
        recalls.append(recall)
        noises.append(noise)
        flag = "  <--" if recall < 0.8 or noise > 0.2 else ""
        print(f"   {name:22} recall {recall:.2f}  noise {noise:.2f}{flag}")
    print(
        f"   mean recall {sum(recalls) / max(1, len(recalls)):.3f}, mean noise"
        f" {sum(noises) / max(1, len(noises)):.3f} over {len(recalls)} pages"
    )


def measure_feeds(tests: Path, verbose: bool) -> None:
    """Every test feed gathered as a source: are all its entries accounted for?"""
    import feedparser

    from digest.config import Settings
    from digest.gather.fetch import Fetched
    from digest.pipeline.gather import gather_all
    from digest.services.sources import source_listing
    from digest.store import db
    from digest.store.models import Source
    from digest.store.schema import upgrade

    files = sorted(p for p in tests.rglob("*") if p.suffix in (".xml", ".json", ".rdf", ".atom"))
    by_url = {f"http://feeds.test/{p.relative_to(tests)}": p for p in files}

    class Files:
        def __call__(self, url: str, **_: object) -> Fetched:
            path = by_url.get(url)
            if path is None:
                return Fetched(url, 404, b"", "text/plain", None, None)
            return Fetched(url, 200, path.read_bytes(), "application/xml", None, None)

        page = __call__

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/feeds.db"
        upgrade(url)
        with db.session_scope(url) as session:
            session.add_all(
                Source(url=u, name=u[18:][:200], full_text_mode="never") for u in by_url
            )
        settings = Settings(database_url=url, gather_concurrency=8)
        results = {r.source_id: r for r in gather_all(settings, fetcher=Files())}  # type: ignore[arg-type]
        rows = {row["url"]: row for row in source_listing(settings)["items"]}
        reasons: dict[str, int] = {}
        with db.session_scope(url) as session:
            for source in session.query(Source):
                for left in source.last_left_out or []:
                    reasons[left["code"]] = reasons.get(left["code"], 0) + 1
    with_entries = accounted = silent = failed = stored_none = 0
    entries = stored = 0
    for feed_url, path in by_url.items():
        row = rows[feed_url]
        found = len(feedparser.parse(path.read_bytes()).entries)
        if not found:
            continue
        with_entries += 1
        entries += found
        stored += row["stored"] or 0
        result = results[row["id"]]
        if result.failed:
            failed += 1
            continue
        if row["entries"] == found and (row["stored"] or 0) + row["left_out"] == found:
            accounted += 1
        elif verbose:
            print(f"   {feed_url[18:]}: {found} entries, {row['entries']} accounted for")
        if not row["stored"]:
            stored_none += 1
            if not row["last_error"]:
                silent += 1
                print(f"   stored none, said nothing: {feed_url[18:]} ({found} entries)")
    print(f"Entries of feedparser's {len(by_url)} test feeds, gathered as sources of one instance")
    print(
        f"   feeds with entries: {with_entries}; every entry accounted for (stored, or left out"
        f" with a reason): {accounted}; failed with an error: {failed}"
    )
    print(
        f"   entries: {entries}, stored: {stored}; feeds that stored none: {stored_none},"
        f" of them without a word: {silent} (target 0)"
    )
    print("   left out: " + ", ".join(f"{n} {code}" for code, n in sorted(reasons.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part", choices=("kinds", "text", "feeds", "summaries", "all"), default="all"
    )
    parser.add_argument("--pages", type=Path, help="an unpacked newspaper4k tests/data folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every page and sentence")
    args = parser.parse_args()
    parts = ("kinds", "text", "feeds", "summaries") if args.part == "all" else (args.part,)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.pages
        if data is None and {"kinds", "text", "summaries"} & set(parts):
            data = fetch(Path(tmp) / "newspaper4k")
        if "kinds" in parts:
            cache = sdist(KINDS_PACKAGE, Path(tmp) / "trafilatura") / "tests" / "cache"
            articles = Path(tmp) / "articles"
            articles.mkdir()
            for page in cache.glob("*.html"):
                if not page.name.startswith("exotic_tags"):  # markup tests, no articles
                    (articles / page.name).write_bytes(page.read_bytes())
            homes = Path(tmp) / "homes"
            news = Path(tmp) / "news"
            homes.mkdir()
            news.mkdir()
            for page in (data / "html").glob("*.html"):
                if page.stem.endswith("_main_site"):
                    (homes / page.name).write_bytes(page.read_bytes())
                elif page.stem not in NOT_ARTICLES:
                    (news / page.name).write_bytes(page.read_bytes())
            measure_kinds(
                [
                    (f"{KINDS_PACKAGE} article pages", articles, "article"),
                    (f"{PACKAGE} news pages", news, "article"),
                    (f"{PACKAGE} home pages", homes, "section"),
                ],
                args.verbose,
            )
        if "text" in parts:
            measure_text(data)
        if "feeds" in parts:
            tests = sdist(FEEDS_PACKAGE, Path(tmp) / "feedparser") / "tests"
            measure_feeds(tests, args.verbose)
        if "summaries" in parts:
            measure(data, args.verbose)


if __name__ == "__main__":
    main()
