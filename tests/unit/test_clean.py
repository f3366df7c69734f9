"""Tests for digest.content.clean: sanitising, HTML to text and boilerplate removal."""

from __future__ import annotations

from digest.content import article_body, html_to_text, sanitize_html
from digest.content.clean import strip_boilerplate

TITLE = "Riverside tram line will open in March"
CAPTION = "Tram 14 during a night-time test run near the Eastgate depot."
BODY = [
    "The Riverside tram line will carry its first passengers on 3 March, the city transport "
    "authority confirmed on Tuesday, ending four years of construction along the river.",
    "The 6.8 km route links the old town with the harbour district and has eleven stops. "
    "Trams will run every seven minutes at peak times & every twelve minutes in the evening.",
    "Shopkeepers on Mill Street, where the tracks closed the road for most of last year, said "
    "they hoped the opening would bring customers back before the spring market.",
]
READ_ALSO = [
    "Harbour expansion wins final approval",
    "Eastgate depot gets its first new trams",
    "Why the river bridge had to be rebuilt",
]
LATEST = ["Central library reopens after renovation", "Athletic sign teenage goalkeeper"]

PAGE = f"""<!DOCTYPE html>
<html><head><title>{TITLE} | Harbour Gazette</title>
<script>window.dataLayer = [];</script><style>.promo {{ color: red }}</style></head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><nav><ul><li><a href="/">Home</a></li><li>Menu</li><li>Sign in</li></ul></nav></header>
<main id="main"><article>
<h1>{TITLE}</h1>
<figure><img src="https://img.example.org/tram14.jpg" alt=""><figcaption>{CAPTION}</figcaption>
</figure>
<p>{CAPTION}</p>
<p>{BODY[0]}</p>
<p>{BODY[1].replace("&", "&amp;")}</p>
<div class="share">Share</div>
<p><strong>Read also:</strong></p>
<ul>{"".join(f'<li><a href="/news/{i}">{t}</a></li>' for i, t in enumerate(READ_ALSO))}</ul>
<div class="ad">Advertisement</div>
<p>{BODY[2]}</p>
</article>
<aside><h2>Latest</h2><ul>{"".join(f"<li>{t}</li>" for t in LATEST)}</ul></aside>
<footer><p>Subscribe</p><p>Every story from the harbour district, weekly.</p></footer>
</main></body></html>"""


class TestSanitizeHtml:
    def test_script_contents_removed(self) -> None:
        out = sanitize_html("<p>Before<script>alert(1)</script>after</p>")
        assert "script" not in out
        assert "alert" not in out
        assert "Before" in out
        assert "after" in out

    def test_event_handler_attributes_removed(self) -> None:
        out = sanitize_html('<img src="https://x.example/a.png" onerror="alert(1)">')
        assert "onerror" not in out
        assert "alert" not in out

    def test_javascript_links_lose_href(self) -> None:
        for href in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)"):
            out = sanitize_html(f'<a href="{href}">click</a>')
            assert "javascript" not in out.lower()
            assert "click" in out

    def test_style_attributes_and_elements_removed(self) -> None:
        out = sanitize_html('<style>p { color: red }</style><p style="color:red">Text</p>')
        assert "style" not in out
        assert "color" not in out
        assert out == "<p>Text</p>"

    def test_iframe_and_form_removed_with_contents(self) -> None:
        out = sanitize_html(
            '<p>Ok</p><iframe src="https://video.example/embed">Fallback</iframe>'
            '<form action="/x"><input name="q">Search</form>'
        )
        assert out == "<p>Ok</p>"

    def test_links_keep_safe_href_and_get_rel(self) -> None:
        out = sanitize_html('<a href="https://example.org/tram" target="_blank">Tram</a>')
        assert out == '<a href="https://example.org/tram" rel="noopener noreferrer">Tram</a>'
        mail = sanitize_html('<a href="mailto:desk@example.org">Desk</a>')
        assert 'href="mailto:desk@example.org"' in mail

    def test_relative_and_other_scheme_links_lose_href(self) -> None:
        for href in ("/news/1", "data:text/html,hi", "ftp://example.org/f"):
            assert "href" not in sanitize_html(f'<a href="{href}">x</a>')

    def test_images_keep_only_http_src_and_alt(self) -> None:
        out = sanitize_html(
            '<img src="https://img.example.org/a.jpg" width="600" height="400" '
            'style="float:left" alt="Harbour cranes">'
        )
        assert out == '<img src="https://img.example.org/a.jpg" alt="Harbour cranes">'
        assert sanitize_html('<p>x<img src="data:image/png;base64,AAAA"></p>') == "<p>x</p>"
        assert sanitize_html('<p>x<img src="/local.png" alt="y"></p>') == "<p>x</p>"

    def test_disallowed_tags_unwrapped_allowed_kept(self) -> None:
        out = sanitize_html("<div><h2>Head</h2><span>plain</span> <em>em</em></div>")
        assert out == "<h2>Head</h2>plain <em>em</em>"

    def test_empty(self) -> None:
        assert sanitize_html("") == ""
        assert sanitize_html("  \n ") == ""


class TestHtmlToText:
    def test_paragraphs_separated_by_blank_line(self) -> None:
        html = "<div><p>First  paragraph\n here.</p><p>Second one.</p></div>"
        assert html_to_text(html) == "First paragraph here.\n\nSecond one."

    def test_br_and_list_items(self) -> None:
        html = "<p>Line one<br>line two</p><ul><li>alpha</li><li>beta <b>bold</b></li></ul>"
        assert html_to_text(html) == "Line one\nline two\n\nalpha\nbeta bold"

    def test_double_br_is_paragraph_break(self) -> None:
        assert html_to_text("Intro<br><br>\n<br>Next") == "Intro\n\nNext"

    def test_entities_decoded_and_whitespace_collapsed(self) -> None:
        html = "<p>Fish&nbsp;&amp;\t chips &eacute;t&eacute; &#8212; &lt;ok&gt;</p>"
        assert html_to_text(html) == "Fish & chips été — <ok>"

    def test_script_style_and_head_dropped(self) -> None:
        html = (
            "<html><head><title>T</title><style>p{}</style></head>"
            "<body><script>var x = 1;</script><p>Body</p><noscript>Enable JS</noscript></body>"
            "</html>"
        )
        assert html_to_text(html) == "Body"

    def test_broken_html(self) -> None:
        assert html_to_text("<p>Unclosed <b>bold<p>Next <div>block") == (
            "Unclosed bold\n\nNext\n\nblock"
        )

    def test_empty_input(self) -> None:
        assert html_to_text("") == ""
        assert html_to_text("   \n") == ""
        assert html_to_text("<!-- only a comment -->") == ""


class TestArticleBody:
    def test_fixture_page_yields_exactly_the_body(self) -> None:
        body = article_body(PAGE, title=TITLE)
        assert body == "\n\n".join(BODY)

    def test_fixture_boilerplate_absent(self) -> None:
        body = article_body(PAGE, title=TITLE)
        for piece in [
            "Skip to content",
            "Menu",
            "Sign in",
            "Share",
            "Advertisement",
            "Read also",
            "Latest",
            "Subscribe",
            "window.dataLayer",
            TITLE,
            CAPTION,
            *READ_ALSO,
            *LATEST,
        ]:
            assert piece not in body, piece
        for paragraph in BODY:
            assert paragraph in body

    def test_headline_kept_without_title(self) -> None:
        assert article_body(f"<h1>{TITLE}</h1><p>{BODY[0]}</p>") == f"{TITLE}\n\n{BODY[0]}"

    def test_boilerplate_matching_is_case_and_colon_tolerant(self) -> None:
        html = (
            "<p>SKIP TO MAIN CONTENT</p><p>share:</p>"
            f"<p>{BODY[0]}</p><h3>RELATED ARTICLES</h3><p>{READ_ALSO[0]}</p><p>{READ_ALSO[1]}</p>"
            f"<p>{BODY[1]}</p><h2>Most read:</h2><p>{LATEST[0]}</p>"
        )
        assert article_body(html) == f"{BODY[0]}\n\n{BODY[1]}"

    def test_inline_read_also_line_dropped(self) -> None:
        html = (
            f"<p>{BODY[0]}</p><p>Read also: <a href='/n/1'>{READ_ALSO[0]}</a></p><p>{BODY[1]}</p>"
        )
        assert article_body(html) == f"{BODY[0]}\n\n{BODY[1]}"

    def test_latest_in_top_navigation_does_not_end_article(self) -> None:
        html = (
            "<nav><ul><li>Home</li><li>Latest</li></ul></nav>"
            f"<p>{BODY[0]}</p><p>{BODY[1]}</p><h2>Latest news</h2><p>{LATEST[0]}</p>"
        )
        assert article_body(html) == f"{BODY[0]}\n\n{BODY[1]}"

    def test_repeated_paragraph_kept_once(self) -> None:
        html = f"<p>{BODY[0]}</p><p>{BODY[1]}</p><p>{BODY[0]}</p>"
        assert article_body(html) == f"{BODY[0]}\n\n{BODY[1]}"

    def test_empty(self) -> None:
        assert article_body("") == ""
        assert article_body("<p>Skip to content</p><p>Menu</p>") == ""


def test_classes_mark_the_dek_byline_and_promotions() -> None:
    page = (
        "<article><h1>Quay opens</h1>"
        '<p class="dek">A long wait ends for the harbour town.</p>'
        '<p class="byline">By Ann Lee, 3 May 2026</p>'
        "<p>The new quay opened on Friday after four years of work.</p>"
        '<div class="newsletter promo"><p>Get our daily briefing.</p></div>'
        "<p>Ferries will dock there from June.</p></article>"
    )
    assert article_body(page, title="Quay opens") == (
        "The new quay opened on Friday after four years of work.\n\n"
        "Ferries will dock there from June."
    )


def test_a_byline_under_the_headline_ends_the_header() -> None:
    text = (
        "Quay opens\n\nA long wait ends for the harbour town.\n\nBy Ann Lee, 3 May 2026"
        "\n\nThe new quay opened on Friday after four years of work."
    )
    assert strip_boilerplate(text, title="Quay opens") == (
        "The new quay opened on Friday after four years of work."
    )


# --- the clutter search: the same answer as the whole pattern, quicker -----------------------


def _fixture_lines() -> list[str]:
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    lines: list[str] = []
    for path in [*(root / "golden" / "content").rglob("*"), root / "fixtures" / "content"]:
        for file in [path] if path.is_file() else sorted(path.rglob("*.json")):
            text = file.read_text(encoding="utf-8")
            if file.suffix in (".html", ".htm"):
                text = html_to_text(text)
            for line in text.splitlines():
                line = line.strip().casefold()
                if line:
                    lines += [line, *(p for p in line.split(". ") if p)]
    return lines


def test_the_clutter_search_answers_as_the_whole_pattern() -> None:
    from digest.content import clean

    lines = _fixture_lines() + [
        s.casefold()
        for s in (
            "We use cookies to improve your experience.",
            "By Anna Berg, 12 March 2026",
            "Photo: Harbour Gazette",
            "Click here to read more",
            "© 2026 Harbour Gazette. All rights reserved.",
            "Dieser Artikel erschien zuerst in der Abendpost.",
            "本文首发于晚报。",
            "The ferry timetable changes on Monday.",
        )
    ]
    whole = [bool(clean._BOILERPLATE_SENTENCE.search(line)) for line in lines]
    quick = [clean._BOILERPLATE_SEARCH.search(line) for line in lines]
    assert quick == whole
    assert 10 < sum(whole) < len(lines)  # both kinds of line were tried


def test_every_alternative_not_at_the_start_is_looked_for_by_its_words() -> None:
    from digest.content import clean

    search = clean._BOILERPLATE_SEARCH
    assert search.plain is None and search.at_start is not None and search.words
    # The text is casefolded before the search: a word with capitals could never be found.
    assert all(word == word.casefold() for word in search.words)


def test_the_words_an_alternative_needs() -> None:
    import re

    from digest.content.clean import _alternatives, _needed_words

    cases = {
        r"\bcookies?\b.{0,80}\b(?:use|accept)": ["cookie use", "cookies we accept"],
        r"(?:subscribe|sign up) now": ["subscribe now", "sign up now"],
        r"\b(?:click|tap) here\b": ["click here", "tap here"],
        r"(?:使用|接受).{0,10}cookie": ["我们使用cookie", "接受 cookie"],
        r"\S{2,4} 기자": ["홍길동 기자"],
    }
    for pattern, matching in cases.items():
        words = _needed_words(pattern)
        assert words and all(len(w.strip()) >= 2 for w in words), pattern
        for text in matching:
            assert re.search(pattern, text), text
            assert any(word in text for word in words), (pattern, text, words)
    assert _needed_words(r"\bcookies?\b.{0,80}\b(?:use|accept)") == {"cookie"}
    assert _needed_words(r"[a-z]+\d") is None  # nothing literal to look for
    assert _alternatives(r"a|(b|c)|[|]|\|d") == ["a", "(b|c)", "[|]", r"\|d"]
