"""Summaries of real public pages in many scripts: are their sentences the article's own?

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

    .venv/bin/python bench/real_world.py
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=Path, help="an unpacked tests/data folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every sentence")
    args = parser.parse_args()
    if args.pages:
        measure(args.pages, args.verbose)
        return
    with tempfile.TemporaryDirectory() as tmp:
        measure(fetch(Path(tmp)), args.verbose)


if __name__ == "__main__":
    main()
