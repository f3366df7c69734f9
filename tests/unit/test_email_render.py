"""The digest email as a reader meets it: languages and directions, images, footer,
accessibility, subject, size, the text part, and an admin's own templates."""

from __future__ import annotations

import email
import email.policy
import itertools
import os
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import pytest
from pydantic import ValidationError

from digest.config import Settings
from digest.core.languages import direction, normalize_tag
from digest.errors import ConfigError
from digest.mail.message import build_message
from digest.render.catalogue import CATALOGUES, format_date
from digest.render.edition import (
    MAX_HTML_BYTES,
    DigestContent,
    DigestItem,
    Link,
    Mailing,
    check_templates,
    environment,
    personalize,
    render_edition,
    subject_for,
)
from digest.runtime.showcase import SHOWCASE
from digest.store import schema

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
GOLDEN = ROOT / "tests" / "golden" / "render-showcase"
MAILING = Mailing(
    language="en",
    sender="Lakeside Weekly <digest@news.lakeside.example>",
    postal_address="Lakeside Weekly, 4 Harbour Row, 1234 Lakeside",
)


def copy_of(
    content: DigestContent = SHOWCASE, mailing: Mailing = MAILING, templates: Path = TEMPLATES
) -> tuple[str, str, str]:
    edition = render_edition(content, templates, mailing=mailing)
    html, text = personalize(
        edition,
        name="Noor",
        unsubscribe_url="https://news.lakeside.example/unsubscribe/tok?a=1&b=2",
        preferences_url="https://news.lakeside.example/preferences/tok",
    )
    return edition.subject, html, text


@pytest.fixture(scope="module")
def showcase() -> tuple[str, str, str]:
    return copy_of()


def tree(html: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(html.encode())


def item(title: str, language: str | None, **kwargs: object) -> DigestItem:
    url = f"https://e.example/{len(title)}"
    return DigestItem(title, url, "Src", None, None, "Text.", language=language, **kwargs)  # type: ignore[arg-type]  # keyword arguments from a dict


# --- every script ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("ar", "rtl"),
        ("he-IL", "rtl"),
        ("fa", "rtl"),
        ("ur", "rtl"),
        ("ps", "rtl"),
        ("sd", "rtl"),
        ("yi", "rtl"),
        ("dv", "rtl"),
        ("ckb-IQ", "rtl"),
        ("UG", "rtl"),
        ("en", "ltr"),
        ("arn", "ltr"),  # Mapudungun: starts like Arabic's tag, written left to right
        ("zh-Hant", "ltr"),
        ("my", "ltr"),
        (None, "ltr"),
    ],
)
def test_direction_follows_the_primary_subtag(tag: str | None, expected: str) -> None:
    assert direction(tag) == expected


def test_language_tags_are_normalized_or_refused() -> None:
    assert normalize_tag("en_US") == "en-US"
    assert normalize_tag(" de ") == "de"
    for junk in ("", None, "english language", "e", "fr;drop", "en--US"):
        assert normalize_tag(junk) is None


def test_each_item_carries_its_language_and_direction() -> None:
    content = DigestContent(
        "Mixed",
        SHOWCASE.date,
        (
            item("English first", "en"),
            item("عنوان عربي", "ar"),
            item("כותרת בעברית", "he"),
            item("Unknown language", None),
            item("Bad tag", "not a tag"),
            item("Kurdish", "ckb"),
        ),
    )
    _, html, _ = copy_of(content)
    items = tree(html).find_class("item")
    assert [(i.get("lang"), i.get("dir")) for i in items] == [
        ("en", "ltr"),
        ("ar", "rtl"),
        ("he", "rtl"),
        ("en", "ltr"),  # unknown: the list's language
        ("en", "ltr"),
        ("ckb", "rtl"),
    ]
    # The container holds the headline, the summary and the links of its item.
    arabic = items[1]
    assert arabic.find(".//h2").text_content() == "عنوان عربي"
    assert arabic.find_class("summary")[0].text_content() == "Text."
    assert arabic.find_class("read-link")[0].get("href") == "https://e.example/10"
    # Its fixed link text is in the list's language, and says so.
    assert arabic.find_class("read-link")[0].get("lang") == "en"
    assert "text-align:right" in arabic.get("style").replace(" ", "")


def test_the_masthead_and_footer_follow_the_list_language() -> None:
    german = Mailing(language="de", sender="Seebote <post@seebote.example>")
    _, html, text = copy_of(mailing=german)
    root = tree(html)
    assert root.get("lang") == "de" and root.get("dir") == "ltr"
    assert "10 neue Artikel" in root.find_class("dateline")[0].text_content()
    assert "27. Nov. 2026" in root.find_class("dateline")[0].text_content()
    assert "Hallo Noor, hier ist das Neueste." in html and "Hallo Noor" in text
    assert "Abbestellen" in html and "Einstellungen ändern: https://" in text
    arabic = Mailing(language="ar")
    _, html, _ = copy_of(mailing=arabic)
    root = tree(html)
    assert root.get("lang") == "ar" and root.get("dir") == "rtl"
    assert "إلغاء الاشتراك" in html
    # An English item in an Arabic list stays left to right.
    assert root.find_class("item")[0].get("dir") == "ltr"


def test_a_language_without_strings_falls_back_to_english_words_marked_english() -> None:
    _, html, _ = copy_of(mailing=Mailing(language="fr"))
    root = tree(html)
    assert root.get("lang") == "fr"
    greeting = root.find_class("greeting")[0]
    assert greeting.get("lang") == "en" and greeting.text_content().startswith("Hello")
    assert "27 nov. 2026" in root.find_class("dateline")[0].text_content()  # dates by Babel


def test_every_catalogue_has_every_string() -> None:
    keys = set(CATALOGUES["en"])
    for language, strings in CATALOGUES.items():
        assert set(strings) == keys, language
        for key, value in strings.items():
            placeholders = set(re.findall(r"{(\w+)}", value))
            assert placeholders == set(re.findall(r"{(\w+)}", CATALOGUES["en"][key])), (
                language,
                key,
            )


def test_fonts_fall_back_to_system_fonts_for_cjk_arabic_and_burmese(showcase) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, html, _ = showcase
    page = tree(html).find_class("page")[0].get("style")
    for family in ("Noto Sans Arabic", "Noto Sans CJK SC", "PingFang SC", "Myanmar Text"):
        assert family in page
    assert page.rstrip("; ").endswith("sans-serif")


def test_dates_are_written_in_the_language() -> None:
    day = datetime(2026, 3, 5, tzinfo=UTC)
    assert format_date(day, "en") == "5 Mar 2026"
    assert format_date(day, "de") == "5. März 2026"
    assert format_date(day, "ja") == "2026年3月5日"
    assert format_date(day, "en-US") == "Mar 5, 2026"
    assert format_date(day, "xx") == "5 Mar 2026"  # a language Babel does not know
    assert format_date(None, "en") == ""


# --- layout without <style>, images, accessibility ----------------------------------------


def test_only_enhancements_are_left_in_style(showcase) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, html, _ = showcase
    styles = re.findall(r"<style\b[^>]*>(.*?)</style>", html, flags=re.S)
    assert len(styles) == 1
    top_level = re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", styles[0])
    selectors = [s.strip() for s in re.findall(r"([^{}]+)\{", top_level)]
    assert selectors and all(s.startswith("[data-og") for s in selectors), selectors
    body = tree(html).body
    column = body.find_class("column")[0].get("style").replace(" ", "")
    assert "max-width:600px" in column and "margin:0auto" in column
    assert "font-size:19px" in body.find_class("headline")[0].get("style")


def test_the_lead_image_is_a_thumbnail_by_url(showcase) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, html, _ = showcase
    images = tree(html).findall(".//img")
    assert [i.get("src") for i in images] == [
        "https://news.lakeside.example/images/tram.jpg",
        "https://news.lakeside.example/images/library.jpg",
        "https://news.lakeside.example/images/regatta.jpg",
    ]
    for image in images:
        assert image.get("width") == "112" and image.get("height") == "84"
        assert image.get("alt").startswith("Picture: ")
    assert images[0].get("alt") == f"Picture: {SHOWCASE.items[0].title}"
    assert "data:" not in html and "cid:" not in html


@pytest.mark.parametrize(
    "url", ["data:image/png;base64,AAAA", "file:///etc/passwd", "javascript:x", "cid:one"]
)
def test_an_image_that_is_not_a_web_url_is_left_out(url: str) -> None:
    _, html, _ = copy_of(DigestContent("L", SHOWCASE.date, (item("T", "en", image_url=url),)))
    assert tree(html).findall(".//img") == []
    assert url.split(":")[0] + ":" not in html.split("<body", 1)[1]


def test_footer_says_who_sends_where_from_why_and_how_to_leave(showcase) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, html, text = showcase
    footer = " ".join(p.text_content() for p in tree(html).find_class("footer"))
    assert "You receive Lakeside Weekly because you subscribed to it." in footer
    assert "Sent by Lakeside Weekly (digest@news.lakeside.example)." in footer
    assert "Lakeside Weekly, 4 Harbour Row, 1234 Lakeside" in footer
    links = {a.text_content(): a.get("href") for a in tree(html).find_class("footer-link")}
    assert links == {
        "Change your preferences": "https://news.lakeside.example/preferences/tok",
        "Unsubscribe": "https://news.lakeside.example/unsubscribe/tok?a=1&b=2",
    }
    for line in (
        "Sent by Lakeside Weekly (digest@news.lakeside.example).",
        "Lakeside Weekly, 4 Harbour Row, 1234 Lakeside",
        "Unsubscribe: https://news.lakeside.example/unsubscribe/tok?a=1&b=2",
    ):
        assert line in text.splitlines()


def test_no_postal_address_no_empty_line() -> None:
    _, html, text = copy_of(mailing=Mailing())
    assert "<br>" not in html.split('class="footer-cell"', 1)[1]
    assert "\n\n\n" not in text


def test_headings_in_order_and_layout_tables_are_presentation(showcase) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, html, _ = showcase
    root = tree(html)
    levels = [int(h.tag[1]) for h in root.iter("h1", "h2", "h3", "h4", "h5", "h6")]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), levels
    tables = root.findall(".//table")
    assert tables and all(t.get("role") == "presentation" for t in tables)


def test_link_text_says_where_it_goes(showcase) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, html, _ = showcase
    vague = {"here", "click here", "read more", "more", "link", "this", "→"}
    for a in tree(html).iter("a"):
        words = a.text_content().strip()
        if not words:  # the thumbnail's link: its picture has alt text, and it is skipped
            assert a.get("tabindex") == "-1" and a.find(".//img") is not None
            continue
        assert words.lower() not in vague, words
    reads = [a.text_content() for a in tree(html).find_class("read-link")]
    assert "Read the article at Lakeside Gazette" in reads


def test_the_preheader_lists_the_top_headlines(showcase) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, html, _ = showcase
    preheader = tree(html).find_class("preheader")[0]
    text = preheader.text_content()
    for headline in (i.title for i in SHOWCASE.items[:3]):
        assert headline in text
    assert text.startswith("In this edition: ") and SHOWCASE.items[3].title not in text
    # It is the body's first text, which clients show as the preview; and it is visible
    # (hidden text is what spam filters look for).
    body_text = tree(html).body.text_content().strip()
    assert body_text.startswith(text)
    assert "display:none" not in html.replace(" ", "") and "opacity" not in html


def test_the_greeting_lines_up_with_the_articles_on_phones(showcase) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, html, _ = showcase
    rule = re.search(r"@media[^{]*max-width: 620px[^{]*\{(.*?)\n\}", html, flags=re.S)
    assert rule is not None
    narrow = [line for line in rule.group(1).splitlines() if "padding-left: 16px" in line]
    assert narrow and ".greeting-cell" in narrow[0] and ".item-cell" in narrow[0]


# --- size, text part, subject ---------------------------------------------------------


def twenty_items() -> DigestContent:
    summary = (
        "The council approved the harbour plan after a long debate about the ferry landing, "
        "the bus lanes on the shore road and the cost of moving the fish market. "
    ) * 3
    items = tuple(
        DigestItem(
            title=f"Story {i}: the harbour plan moves ahead with a new ferry landing",
            url=f"https://news.lakeside.example/2026/11/story-{i}-harbour-plan-ferry-landing",
            source="Lakeside Gazette",
            published=SHOWCASE.date,
            author="Ines Varga",
            summary=summary[:600],
            read_also=tuple(
                Link(f"Earlier story {i}.{j} about the harbour", f"https://e.example/{i}/{j}")
                for j in range(3)
            ),
            language="ar" if i % 3 == 0 else "en",
            image_url=f"https://news.lakeside.example/images/story-{i}-lead.jpg",
        )
        for i in range(20)
    )
    return replace(SHOWCASE, items=items)


def test_twenty_items_fit_under_gmails_clipping_limit() -> None:
    edition = render_edition(twenty_items(), TEMPLATES, mailing=MAILING)
    size = len(edition.html.encode())
    assert size <= 102 * 1024 and size <= MAX_HTML_BYTES, size
    assert "left out to keep this email short" not in edition.html  # nothing was dropped
    assert edition.html.count('class="item"') == 20


def test_the_text_part_lists_every_link(showcase) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, _, text = showcase
    for story in SHOWCASE.items:
        assert story.title in text
        assert f"   {story.url}" in text.splitlines() or f"   {story.url}" in text
        for link in story.read_also:
            assert f"     {link.url}" in text
    for link in SHOWCASE.latest:
        assert f"  {link.url}" in text
    assert f"Read the full edition on the web: {SHOWCASE.more_url}" in text
    assert "And 3 more articles in this edition." in text
    assert max(len(line) for line in text.splitlines()) < 200


def test_subject_default_has_list_date_and_top_headline(showcase) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    subject, _, _ = showcase
    assert subject == f"Lakeside Weekly, 27 Nov 2026: {SHOWCASE.items[0].title}"


def test_subject_template_fields() -> None:
    mailing = Mailing(subject="[{list_name}] {headline} (+{more} of {count})")
    assert subject_for(SHOWCASE, mailing) == (
        f"[Lakeside Weekly] {SHOWCASE.items[0].title} (+9 of 10)"
    )
    hostile = replace(SHOWCASE, items=(item("Line one\r\nBcc: x@example.org", "en"),))
    assert "\n" not in subject_for(hostile, mailing) and "\r" not in subject_for(hostile, mailing)
    german = Mailing(language="de")
    assert (
        subject_for(replace(SHOWCASE, items=()), german) == "Lakeside Weekly: keine neuen Artikel"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{list_name}: {title}", "unknown field {title}"),
        ("{list_name", "not a valid template"),
        ("{0}", "unknown field {0}"),
    ],
)
def test_a_bad_subject_template_is_refused_by_name(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Settings(_env_file=None, subject=value)  # type: ignore[call-arg]  # pydantic-settings' own argument


def test_a_bad_language_is_refused() -> None:
    with pytest.raises(ValidationError, match="not a language tag"):
        Settings(_env_file=None, language="English please")  # type: ignore[call-arg]  # pydantic-settings' own argument
    assert Settings(_env_file=None, language="pt_BR").language == "pt-BR"  # type: ignore[call-arg]  # pydantic-settings' own argument


@pytest.mark.parametrize(
    "headline",
    [
        "افتتاح مكتبة جديدة في الحي القديم",
        "湖畔の花火大会、今年は十月に開催",
        "ရေကန်ဘေး စာကြည့်တိုက်",
        "Ærø ferry",
    ],
)
def test_the_subject_is_encoded_for_any_script(headline: str) -> None:
    content = replace(SHOWCASE, items=(item(headline, None),))
    subject = subject_for(content, Mailing(subject="{list_name} · {headline}"))
    msg = build_message(
        sender="Lakeside <d@news.lakeside.example>",
        to_address="ann@example.org",
        to_name=None,
        subject=subject,
        html="<p>x</p>",
        text="x",
        message_id="<1@news.lakeside.example>",
        list_id="<lakeside.news.lakeside.example>",
        unsubscribe_url="https://news.lakeside.example/u",
        date=SHOWCASE.date,
    )
    raw = msg.as_bytes(policy=email.policy.SMTP)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"=?utf-8?" in head.lower()
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(parsed["Subject"]) == f"Lakeside Weekly · {headline}"


# --- own templates ----------------------------------------------------------------------


def test_an_admins_folder_overrides_only_the_files_it_holds(tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "digest.txt").write_text(
        "{{ content.list_name }} ({{ items | length }} items) for {{ name }}\n", "utf-8"
    )
    _, html, text = copy_of(templates=tmp_path)
    assert text == "Lakeside Weekly (7 items) for Noor\n"
    assert 'class="headline"' in html  # the installed digest.html
    check_templates(tmp_path, MAILING)  # and the set is fine
    env = environment(tmp_path, "email")
    assert "welcome.html" in env.list_templates()


@pytest.mark.parametrize(
    ("file", "source", "line", "reason"),
    [
        (
            "email/digest.html",
            "<p>\n{{ content.list_name }\n</p>\n",
            2,
            "unexpected '}'",
        ),
        (
            "email/digest.txt",
            "{{ content.list_name }}\n\n{% for item in items %}{{ item.headline }}{% endfor %}\n",
            3,
            "has no attribute 'headline'",
        ),
        ("email/welcome.html", "Hi\n{{ missing_value }}\n", 2, "'missing_value' is undefined"),
        ("web/subscribe.html", "{% extends 'base.html' %}\n{% block x %}\n", 2, "Unexpected end"),
        ("email/confirm.txt", "{{ confirm_url | nosuchfilter }}\n", 1, "No filter named"),
    ],
)
def test_a_broken_template_is_named_with_its_line_and_reason(
    tmp_path: Path, file: str, source: str, line: int, reason: str
) -> None:
    path = tmp_path / file
    path.parent.mkdir(parents=True)
    path.write_text(source, "utf-8")
    with pytest.raises(ConfigError) as caught:
        check_templates(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"DIGEST_TEMPLATES_DIR: {path}, line {line}: "), message
    assert reason in message


def test_a_template_folder_that_is_not_there_or_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a folder"):
        check_templates(tmp_path / "missing")
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "digest.txt").write_bytes(b"caf\xe9 {{ name }}\n")
    with pytest.raises(ConfigError, match=r"email/digest.txt: not UTF-8"):
        check_templates(tmp_path)


def test_the_installed_templates_pass_the_check() -> None:
    check_templates(TEMPLATES, MAILING)
    check_templates(TEMPLATES, Mailing(language="ar"))


# --- the showcase, pinned ---------------------------------------------------------------


def test_the_showcase_digest_is_as_pinned(showcase) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    """The rendered showcase (every script, images, read also, more): review its diff."""
    subject, html, text = showcase
    actual = {"subject.txt": subject + "\n", "digest.html": html, "digest.txt": text}
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name, content in actual.items():
            (GOLDEN / name).write_text(content, encoding="utf-8")
    for name, content in actual.items():
        expected = (GOLDEN / name).read_text(encoding="utf-8")
        assert content == expected, f"{name} differs (UPDATE_GOLDEN=1 rewrites it)"


def test_an_admins_folder_overrides_a_web_page_too(database_url: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from digest.web import create_app

    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "message.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1 class="own">{{ title }}</h1>'
        "{% endblock %}",
        "utf-8",
    )
    settings = Settings(_env_file=None, database_url=database_url, templates_dir=tmp_path)  # type: ignore[call-arg]  # pydantic-settings' own argument
    schema.upgrade(database_url)
    response = TestClient(create_app(settings)).get("/unsubscribe/MQ.forged")
    assert response.status_code == 400
    assert '<h1 class="own">Invalid link</h1>' in response.text
    assert "<html" in response.text  # base.html, from the installed pages


@pytest.mark.parametrize(
    ("language", "greeting"),
    [("en", "Hello there, here is"), ("de", "Hallo zusammen, hier"), ("ar", "مرحبًا بك، إليك")],
)
def test_a_subscriber_without_a_name_is_greeted_in_the_lists_language(
    language: str, greeting: str
) -> None:
    from digest.mail.template import Recipient, build_template

    mailing = Mailing(language=language)
    edition = render_edition(SHOWCASE, TEMPLATES, mailing=mailing)
    html, text = personalize(
        edition, name=None, unsubscribe_url="u", preferences_url="p", anonymous=mailing.anonymous
    )
    assert greeting in html and greeting in text
    template = build_template(
        sender="L <d@news.lakeside.example>",
        subject=edition.subject,
        html=edition.html,
        text=edition.text,
        list_id="<l.news.lakeside.example>",
        anonymous=mailing.anonymous,
    )
    copy = template.copy_for(
        Recipient(
            address="ann@example.org",
            name=None,
            message_id="<1@news.lakeside.example>",
            unsubscribe_url="https://news.lakeside.example/u",
            preferences_url="https://news.lakeside.example/p",
            date=SHOWCASE.date,
        )
    )
    message = email.message_from_bytes(copy.plain(), policy=email.policy.default)
    assert greeting in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]  # the message has that part
    assert greeting in copy.fallback().get_body(("html",)).get_content()  # type: ignore[union-attr]  # the message has that part
