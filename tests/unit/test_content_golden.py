"""Golden cases for article content: a page in, its body, language and summary out.

Each folder under tests/golden/content/ holds `page.html` (an article page, in our own
words), `case.json` (its headline, the language the page declares or null, and pieces of
page clutter that must not survive), `reference.txt` (the article's own sentences, one a
line, paragraphs apart) and `expected.json` (what we make of it).
UPDATE_GOLDEN=1 rewrites expected.json; review the diff like any change readers see.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from digest.content import article_body, article_language, sanitize_html, summarize

CASES_DIR = Path(__file__).resolve().parents[1] / "golden" / "content"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "case.json").is_file())


def process(folder: Path) -> tuple[dict[str, Any], dict[str, Any], list[list[str]]]:
    case = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    page = (folder / "page.html").read_text(encoding="utf-8")
    body = article_body(sanitize_html(page), title=case["title"])
    language = article_language(case["language"], f"{case['title']}\n{body}")
    summary = summarize(body, title=case["title"], language=language)
    reference = [
        p.splitlines()
        for p in (folder / "reference.txt").read_text(encoding="utf-8").strip().split("\n\n")
    ]
    return case, {"language": language, "summary": summary, "body": body}, reference


def test_every_language_asked_for_has_a_case() -> None:
    languages = {process(CASES_DIR / name)[1]["language"].split("-")[0] for name in CASES}
    assert {"en", "de", "ar", "zh", "ko", "my"} <= languages


@pytest.mark.parametrize("name", CASES)
def test_content_golden_case(name: str) -> None:
    folder = CASES_DIR / name
    case, actual, reference = process(folder)
    expected_file = folder / "expected.json"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_file.write_text(
            json.dumps(actual, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    assert actual == json.loads(expected_file.read_text(encoding="utf-8"))

    # What makes a summary trustworthy, whatever the expected file says.
    sentences = [s for paragraph in reference for s in paragraph]
    summary = actual["summary"]
    assert summary, name
    shown = [s for s in sentences if s in summary]
    # Whole reference sentences, from the first one, none left out in between...
    assert shown == sentences[: len(shown)] and shown, name
    # ...and nothing else: no clipped sentence, no clutter.
    rest = summary
    for sentence in shown:
        rest = rest.replace(sentence, "", 1)
    assert not rest.strip(), f"{name}: {rest!r} is not a sentence of the article"
    for clutter in case["boilerplate"]:
        assert clutter not in summary and clutter not in actual["body"], (name, clutter)
    for paragraph in reference:
        assert " ".join(paragraph) in actual["body"].replace("\n", " ") or all(
            s in actual["body"] for s in paragraph
        ), name
