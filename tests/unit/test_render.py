"""Rendering: escaping, the render-once guarantees, size and subject limits.

What a subscriber sees as a whole is pinned by the golden cases in tests/golden/ (the
"lakeside" case holds what this module's fixture used to pin as golden files).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from digest.render import edition as render
from digest.render.edition import DigestContent, DigestItem, Link, personalize, render_edition

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"

FIXTURE = DigestContent(
    list_name="Lakeside Weekly",
    date=datetime(2026, 11, 27, 7, 0, tzinfo=UTC),
    items=(
        DigestItem(
            title="Ferry pier reopens after storm repairs",
            url="https://lakeside.example.org/news/ferry-pier",
            source="Lakeside Gazette",
            published=datetime(2026, 11, 26, 16, 30, tzinfo=UTC),
            author="Ines Varga",
            summary="The north pier took six weeks and 1.1 million to rebuild. Ferries to "
            "Birch Island resume their full timetable on Monday.",
            read_also=(
                Link(
                    "Storm damage closes the north pier", "https://lakeside.example.org/news/storm"
                ),
                Link(
                    "Island ferry fares to rise in spring",
                    "https://lakeside.example.org/news/fares",
                ),
            ),
        ),
        DigestItem(
            title="School choir wins regional prize & a trip to Vienna",
            url="https://lakeside.example.org/news/choir?ref=rss&x=<1>",
            source="Lakeside Gazette",
            published=None,
            author=None,
            summary="Forty pupils sang three pieces in the final.",
        ),
    ),
    latest=(
        Link("Market hall gets new roof", "https://lakeside.example.org/news/roof", "Gazette"),
    ),
)


def rendered_fixture() -> tuple[str, str, str]:
    edition = render_edition(FIXTURE, TEMPLATES)
    html, text = personalize(
        edition,
        name="Noor <Admin>",
        unsubscribe_url="https://lakeside.example.org/unsubscribe/tok?a=1&b=2",
        preferences_url="https://lakeside.example.org/preferences/tok",
    )
    return edition.subject, html, text


def test_css_is_inlined_and_values_escaped() -> None:
    _, html, text = rendered_fixture()
    assert 'style="' in html.split("<body", 1)[1]  # inlined onto elements
    assert "Noor &lt;Admin&gt;" in html and "<Admin>" not in html
    assert "Noor <Admin>" in text
    assert "tok?a=1&amp;b=2" in html and "tok?a=1&b=2" in text
    assert "&amp; a trip to Vienna" in html
    for placeholder in (render.NAME, render.UNSUBSCRIBE_URL, render.PREFERENCES_URL):
        assert placeholder not in html and placeholder not in text


def test_css_is_inlined_once_per_edition_not_per_subscriber() -> None:
    calls = []

    def counting(document: str) -> str:
        calls.append(1)
        return render.inline_css(document)

    edition = render_edition(FIXTURE, TEMPLATES, inline=counting)
    copies = {
        personalize(edition, name=f"R{i}", unsubscribe_url=f"u{i}", preferences_url=f"p{i}")[0]
        for i in range(50)
    }
    assert len(calls) == 1 and len(copies) == 50


def test_html_is_kept_under_the_clipping_limit() -> None:
    paragraph = "A long summary sentence about the harbour works and the tram line. " * 12
    many = DigestContent(
        list_name="Big",
        date=FIXTURE.date,
        items=tuple(
            DigestItem(f"Story {i}", f"https://e.example/{i}", "Src", None, None, paragraph)
            for i in range(200)
        ),
    )
    edition = render_edition(many, TEMPLATES)
    assert len(edition.html.encode()) <= render.MAX_HTML_BYTES
    assert "Story 0" in edition.html and "Story 199" not in edition.html
    assert "articles were left out" in edition.html and "articles were left out" in edition.text
    assert edition.subject == "Big, 27 Nov 2026: Story 0"


def test_subject_is_one_short_line() -> None:
    long_title = "A very long headline " * 20
    content = DigestContent("L", FIXTURE.date, (DigestItem(long_title, None, "S", None, None, ""),))
    subject = render.subject_for(content)
    assert "\n" not in subject and subject.endswith("…")
    assert subject.startswith("L, 27 Nov 2026: A very long") and len(subject) <= 16 + 100
    assert render.subject_for(DigestContent("L", FIXTURE.date, ())) == "L: no new articles"
