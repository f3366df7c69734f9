"""Page kinds: an article or a section page, by what the page says of itself and by what
its main content is, not by how many links it carries."""

from __future__ import annotations

import json

import lxml.html
import pytest

from digest.gather.discover import article_address, home_address, site_domain
from digest.gather.kinds import ARTICLE, SECTION, page_kind, prose

PARAGRAPH = (
    "The harbour board met on Tuesday evening and agreed, after a long hour of questions"
    " from the floor, that the night ferry will run again from the first week of May."
)
TEASER = "A short line under a headline."


def tree(head: str = "", body: str = "") -> lxml.html.HtmlElement:
    return lxml.html.fromstring(f"<html><head>{head}</head><body>{body}</body></html>")


def ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def body(paragraphs: int, text: str = PARAGRAPH) -> str:
    return "".join(f"<p>{text}</p>" for _ in range(paragraphs))


@pytest.mark.parametrize(
    ("head", "kind", "reason"),
    [
        (ld({"@type": "NewsArticle", "headline": "Night ferry"}), ARTICLE, "NewsArticle"),
        (
            ld({"@graph": [{"@type": "WebSite"}, {"@type": ["BlogPosting"]}]}),
            ARTICLE,
            "BlogPosting",
        ),
        (
            ld({"@type": "WebPage", "mainEntity": {"@type": "ReportageNewsArticle"}}),
            ARTICLE,
            "Reportage",
        ),
        (ld({"@type": "https://schema.org/Article", "name": "x"}), ARTICLE, "Article"),
        (ld({"@type": "CollectionPage"}), SECTION, "CollectionPage"),
        (
            ld({"@type": "ItemList", "itemListElement": []})
            + ld([{"@type": "NewsArticle", "headline": f"Story {i}"} for i in range(3)]),
            SECTION,
            "3 articles",
        ),
        ('<meta property="og:type" content="article">', ARTICLE, "og:type"),
        (
            '<meta property="article:published_time" content="2026-03-01">',
            ARTICLE,
            "published_time",
        ),
    ],
)
def test_what_the_page_says_of_itself_decides(head: str, kind: str, reason: str) -> None:
    # A short body and many links: the page's own word is what counts.
    verdict = page_kind(tree(head, body(1)), "https://example.org/news/x", 12, body(1))
    assert verdict.kind == kind and reason in verdict.reason


def test_a_broken_or_foreign_json_ld_block_is_ignored() -> None:
    head = '<script type="application/ld+json">{not json</script>' + ld("a string")
    verdict = page_kind(tree(head), "https://example.org/news/x", 12, body(4))
    assert verdict.kind == ARTICLE and "running text" in verdict.reason


def test_microdata_marks_an_article_or_a_list_of_them() -> None:
    one = '<div itemscope itemtype="https://schema.org/NewsArticle"><p>x</p></div>'
    assert page_kind(tree(body=one), "https://example.org/a", 10, body(1)).kind == ARTICLE
    many = one * 4
    verdict = page_kind(tree(body=many), "https://example.org/a", 10, body(1))
    assert verdict.kind == SECTION and "4 articles" in verdict.reason


def test_running_text_makes_an_article_whatever_its_links() -> None:
    verdict = page_kind(tree(), "https://example.org/news", 30, body(3))
    assert verdict.kind == ARTICLE and "3 paragraphs of running text" in verdict.reason
    # Two long paragraphs of some length are an article too; two short lines are not.
    assert page_kind(tree(), "https://example.org/news", 30, body(2, PARAGRAPH * 4)).kind == ARTICLE
    assert page_kind(tree(), "https://example.org/news", 30, body(2)).kind == SECTION


def test_a_list_of_headline_cards_or_a_home_page_is_a_section() -> None:
    cards = "".join(
        f'<article><h3><a href="/news/story-{i}-of-the-day">Story {i}</a></h3>'
        f"<p>{TEASER}</p></article>"
        for i in range(6)
    )
    verdict = page_kind(tree(body=cards), "https://example.org/news", 6, body(1))
    assert verdict.kind == SECTION and "6 linked headlines" in verdict.reason
    # A home page of long teasers is still the home page.
    home = page_kind(tree(), "https://example.org/", 20, body(8))
    assert home.kind == SECTION and "home page" in home.reason


def test_a_short_post_at_an_articles_address_is_an_article() -> None:
    post = body(1)
    dated = page_kind(tree(), "https://blog.example/2011/09/11/liked-it/", 9, post)
    assert dated.kind == ARTICLE and "address" in dated.reason
    assert page_kind(tree(), "https://blog.example/archive", 9, post).kind == SECTION


def test_no_article_text_and_no_links_decides_nothing() -> None:
    assert page_kind(tree(), "https://example.org/x", 0, None).kind is None
    assert page_kind(tree(), "https://example.org/x", 2, None).kind == SECTION


def test_prose_counts_paragraphs_of_running_text_not_links() -> None:
    linked = f'<p><a href="/x">{PARAGRAPH}</a></p>'
    assert prose(body(2) + linked).paragraphs == 2
    sentence = "港口委员会星期二晚上开会，决定从五月第一周起恢复夜间渡轮，居民对此表示欢迎。"
    assert prose(f"<p>{sentence * 2}</p>" * 3).paragraphs == 3
    assert prose(f"<p>{sentence[:20]}</p>" * 3).paragraphs == 0  # lines, not paragraphs
    assert prose("").chars == 0


@pytest.mark.parametrize(
    ("link", "article"),
    [
        ("https://example.org/2026/03/01/", True),
        ("https://example.org/news/night-ferry-returns", True),
        ("https://example.org/story?id=123456", True),
        ("https://example.org/tag/ferries", False),
        ("https://example.org/news/", False),
    ],
)
def test_an_articles_address(link: str, article: bool) -> None:
    assert article_address(link) is article


def test_home_addresses_and_site_domains() -> None:
    assert home_address("https://example.org/") and home_address("https://example.org/index.html")
    assert not home_address("https://example.org/news")
    assert site_domain("uk.news.yahoo.com") == site_domain("uk.yahoo.com") == "yahoo.com"
    assert site_domain("www.bbc.co.uk") == "bbc.co.uk" != site_domain("www.itv.co.uk")
    assert site_domain("127.0.0.1") == "127.0.0.1"
