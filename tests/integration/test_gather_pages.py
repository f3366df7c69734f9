"""Pages and feeds as real sites serve them, read through the real fetcher over loopback:
legacy encodings, languages without spaces, canonical links, headlines, cleanup of text."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from gather_pages import LOREM, article_page, rss
from web_site import Site, serve_site

from digest.errors import FeedError, FetchError
from digest.gather import Fetcher, read, read_article

CHINESE = (
    "老城区的图书馆今年秋天重新开放，馆内增加了一个安静的阅览室和一间儿童活动室。"
    "附近的居民说，他们等待这一天已经很多年了，很多人小时候就在这里第一次借书。"
)
JAPANESE = (
    "港町の古い倉庫が来年の春に市場として生まれ変わることが決まりました。"
    "地元の人々は長い間この建物の保存を求めてきたので、今回の決定をとても喜んでいます。"
)
LEGACY = {
    "euc-kr": (
        "항구 도시의 오래된 창고가 내년 봄에 시장으로 다시 문을 엽니다 "
        "주민들이 오랫동안 기다렸습니다"
    ),
    "shift_jis": JAPANESE,
    "big5": "臺北市的老舊市場今年夏天將重新開放，附近的居民都很高興能再次在這裡買菜和聊天。",
    "windows-1251": (
        "Старый мост через реку снова открыт для пешеходов и велосипедистов после долгого ремонта"
    ),
}


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve_site() as served:
        yield served


@pytest.fixture(scope="module")
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(httpx.Client(), timeout=3, max_bytes=1_000_000) as shared:
        yield shared


@pytest.mark.parametrize("encoding", list(LEGACY))
def test_legacy_encodings_in_feeds_and_pages(site: Site, fetcher: Fetcher, encoding: str) -> None:
    text = LEGACY[encoding]
    declared = rss([{"title": text[:20], "link": f"{site.base}/{encoding}/a", "description": text}])
    body = declared.replace('encoding="utf-8"', f'encoding="{encoding}"').encode(encoding)
    url = site.add(f"/{encoding}.xml", body, content_type="application/rss+xml")
    (entry,) = read(url, fetcher=fetcher).entries
    assert entry.title == text[:20] and text in entry.content_html

    # Declared wrongly (utf-8 in the prolog, legacy bytes): the text still comes out right.
    wrong = declared.encode(encoding)
    url = site.add(f"/{encoding}-wrong.xml", wrong, content_type="application/rss+xml")
    (entry,) = read(url, fetcher=fetcher).entries
    assert entry.title == text[:20]

    # A page whose charset only the HTTP header names.
    page = article_page(text[:16], [text, text, text], charset=encoding)
    page = page.replace(f'<meta charset="{encoding}">', "")
    url = site.add(
        f"/{encoding}/page", page.encode(encoding), content_type=f"text/html; charset={encoding}"
    )
    article = read_article(url, fetcher)
    assert article.title == text[:16] and text in article.content_html


@pytest.mark.parametrize(("lang", "text"), [("zh-CN", CHINESE), ("ja", JAPANESE)])
def test_chinese_and_japanese_article_pages_are_read(
    site: Site, fetcher: Fetcher, lang: str, text: str
) -> None:
    url = site.add(f"/cjk/{lang}", article_page(text[:12], [text, text], lang=lang))
    got = read(url, fetcher=fetcher)
    assert got.kind == "article"
    (entry,) = got.entries
    assert text in entry.content_html and entry.title == text[:12]
    assert entry.language == ("zh-Hans" if lang == "zh-CN" else "ja")


def test_text_is_composed_and_free_of_soft_hyphens_and_invisible_characters(
    site: Site, fetcher: Fetcher
) -> None:
    decomposed = (
        "Wa\u0308h\u00adrend der Bauzeit fa\u0308hrt die Fa\u0308hre\u200b nur stu\u0308ndlich"
    )
    url = site.add(
        "/de/page",
        article_page(decomposed, [decomposed + ". " + p for p in LOREM], lang="de-DE"),
    )
    entry = read_article(url, fetcher)
    assert entry.title == "Während der Bauzeit fährt die Fähre nur stündlich"
    assert "Während der Bauzeit fährt die Fähre nur stündlich" in entry.content_html
    for invisible in ("\u00ad", "\u200b", "\u0308"):
        assert invisible not in entry.content_html + entry.title
    assert entry.language == "de"

    feed = rss([{"title": decomposed, "link": f"{site.base}/x", "description": decomposed}])
    url = site.add("/de/feed.xml", feed, content_type="application/rss+xml")
    (item,) = read(url, fetcher=fetcher).entries
    assert item.title == "Während der Bauzeit fährt die Fähre nur stündlich"
    assert "\u00ad" not in item.content_html and "\u0308" not in item.content_html


def test_the_link_is_the_canonical_one_never_the_base_href(site: Site, fetcher: Fetcher) -> None:
    # <base href> points at the home page; the URL has a query string that names the story.
    page = article_page("Quay opens", base=f"{site.base}/")
    url = site.add("/news?article123", page)
    assert read_article(url, fetcher).link == f"{site.base}/news?article123"

    canonical = article_page("Quay opens", canonical="/stories/quay-opens", base=f"{site.base}/")
    url = site.add("/amp/stories/quay-opens?utm_campaign=x", canonical)
    assert read_article(url, fetcher).link == f"{site.base}/stories/quay-opens"

    og_only = article_page("Quay opens", og_url=f"{site.base}/stories/quay")
    assert read_article(site.add("/m/quay", og_only), fetcher).link == f"{site.base}/stories/quay"

    # A canonical link to the home page is a template error: the URL fetched after redirects.
    home = article_page("Quay opens", canonical=f"{site.base}/")
    site.add("/q", home)
    site.add("/short", status=301, headers={"Location": "/q"})
    assert read_article(f"{site.base}/short", fetcher).link == f"{site.base}/q"


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (dict(title_tag="Night buses return | Harbour Courier"), "Night buses return"),
        (dict(title_tag="Night buses return -- Courier.net"), "Night buses return"),
        (dict(title_tag="Harbour Courier — Night buses return"), "Night buses return"),
        (dict(og_title="Night buses return - Harbour Courier"), "Night buses return"),
    ],
)
def test_headlines_lose_the_site_name(
    site: Site, fetcher: Fetcher, page: dict[str, str], expected: str
) -> None:
    url = site.add("/title", article_page("Night buses return", **page))  # type: ignore[arg-type]  # keyword arguments from a dict
    assert read_article(url, fetcher).title == expected


def test_a_slug_or_site_name_title_gives_way_to_the_h1(site: Site, fetcher: Fetcher) -> None:
    slug = article_page(
        "Night buses return", title_tag="night-buses-return", og_title="Courier.net"
    )
    assert read_article(site.add("/slug", slug), fetcher).title == "Night buses return"


def test_the_lead_image_and_language_come_from_the_page(site: Site, fetcher: Fetcher) -> None:
    page = article_page("Night buses", image="/media/bus.jpg", lang=None)
    page = page.replace("<head>", '<head><meta property="og:locale" content="fr_FR">')
    entry = read_article(site.add("/img", page), fetcher)
    assert entry.image_url == f"{site.base}/media/bus.jpg"
    assert entry.language == "fr"


def test_feed_images_and_languages(site: Site, fetcher: Fetcher) -> None:
    feed = rss(
        [
            {
                "title": "With a thumbnail",
                "link": f"{site.base}/t",
                "description": "x",
                "raw": '<media:thumbnail url="/thumbs/t.jpg"/>',
            },
            {
                "title": "With an enclosure",
                "link": f"{site.base}/e",
                "description": "x",
                "raw": f'<enclosure url="{site.base}/e.png" type="image/png" length="1"/>',
            },
        ],
        extra="<language>pt-BR</language>",
    )
    url = site.add("/media.xml", feed, content_type="application/rss+xml")
    thumb, enclosure = read(url, fetcher=fetcher).entries
    assert thumb.image_url == f"{site.base}/thumbs/t.jpg"
    assert enclosure.image_url == f"{site.base}/e.png"
    assert thumb.language == enclosure.language == "pt"


def test_an_article_page_advertising_its_feed_stays_a_page(site: Site, fetcher: Fetcher) -> None:
    site.add("/feed.xml", rss([]), content_type="application/rss+xml")
    url = site.add("/article", article_page("Quay opens", feed="/feed.xml"))
    got = read(url, fetcher=fetcher)
    assert got.kind == "article" and len(got.entries) == 1 and got.entries[0].full_text


def test_a_page_with_nothing_to_read_says_so(site: Site, fetcher: Fetcher) -> None:
    url = site.add("/login", "<html><body><form><input name=user></form></body></html>")
    with pytest.raises(FeedError, match="no article text found"):
        read(url, fetcher=fetcher, probe=False)


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", "neither a feed nor an HTML page"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
            "application/feed+json",
            "could not parse XML or JSON",
        ),
        (b'{"title": "no items"}', "application/json", 'without a JSON Feed "items" list'),
    ],
)
def test_not_a_feed_at_all(
    site: Site, fetcher: Fetcher, body: bytes, content_type: str, message: str
) -> None:
    url = site.add("/odd", body, content_type=content_type)
    with pytest.raises(FeedError, match=message):
        read(url, fetcher=fetcher)


def test_other_schemes_are_refused_before_any_request(fetcher: Fetcher) -> None:
    for url in ("ftp://127.0.0.1/feed", "file:///etc/passwd", "gopher://127.0.0.1/"):
        with pytest.raises(FetchError, match="only http and https"):
            read(url, fetcher=fetcher)
