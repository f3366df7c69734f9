"""Tests for digest.content.language: declared tags believed when well formed, detection
offline otherwise, and which languages are written right to left."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.content import article_language, is_rtl
from digest.content.language import detect_language, normalize_tag
from digest.gather import FeedEntry
from digest.pipeline.gather import article_from_entry

TEXTS = {
    "en": "The council approved the new harbour budget after a long debate on Tuesday night.",
    "de": "Der Stadtrat hat am Dienstagabend nach langer Debatte den neuen Hafenhaushalt "
    "beschlossen.",
    "ar": "وافق المجلس البلدي على ميزانية الميناء الجديدة بعد نقاش طويل مساء الثلاثاء.",
    "zh": "市议会周二晚上经过长时间辩论后批准了新的港口预算。",
    "ko": "시의회는 화요일 밤 긴 토론 끝에 새 항만 예산을 승인했다.",
    "my": "မြို့တော်ကောင်စီသည် အင်္ဂါနေ့ညတွင် ဆိပ်ကမ်းဘတ်ဂျက်သစ်ကို အတည်ပြုခဲ့သည်။",
    "th": "สภาเมืองอนุมัติงบประมาณท่าเรือใหม่หลังการอภิปรายยาวนานในคืนวันอังคาร",
}


@pytest.mark.parametrize("language", sorted(TEXTS))
def test_detected_when_nothing_is_declared(language: str) -> None:
    assert article_language(None, TEXTS[language]) == language


def test_a_declared_tag_wins_and_is_normalized() -> None:
    assert article_language("en_us", TEXTS["de"]) == "en-US"
    assert article_language("ZH-hant-tw", TEXTS["zh"]) == "zh-Hant-TW"
    assert normalize_tag(" pt-BR ") == "pt-BR"


@pytest.mark.parametrize("declared", ["", "english", "und", "x", "en--US", "12"])
def test_a_tag_that_says_nothing_is_ignored(declared: str) -> None:
    assert normalize_tag(declared) is None
    assert article_language(declared, TEXTS["de"]) == "de"


def test_too_little_text_gives_no_guess() -> None:
    assert detect_language("Hi!") is None
    assert article_language(None, "  \n ") is None


@pytest.mark.parametrize(
    ("tag", "rtl"),
    [
        ("ar", True),
        ("ar-EG", True),
        ("he", True),
        ("fa-IR", True),
        ("ur", True),
        ("az-Arab", True),
        ("ku-Latn", False),
        ("en", False),
        ("zh-Hans", False),
        ("my", False),
        (None, False),
        ("nonsense!", False),
    ],
)
def test_right_to_left(tag: str | None, rtl: bool) -> None:
    assert is_rtl(tag) is rtl


def test_gathered_article_knows_its_language() -> None:
    entry = FeedEntry(
        key="k1",
        link="https://news.example.org/a",
        title="새 항만 예산 승인",
        published=datetime(2026, 3, 1, tzinfo=UTC),
        author=None,
        categories=(),
        content_html=f"<p>{TEXTS['ko']}</p>",
        is_teaser=False,
    )
    article = article_from_entry(entry, 1, datetime(2026, 3, 2, tzinfo=UTC))
    assert article.language == "ko"
    assert article.summary == TEXTS["ko"]


def test_gathered_article_keeps_the_declared_language() -> None:
    entry = FeedEntry(
        "k2", None, "Hafen", None, None, (), f"<p>{TEXTS['de']}</p>", False, language="de-AT"
    )
    article = article_from_entry(entry, 1, datetime(2026, 3, 2, tzinfo=UTC))
    assert article.language == "de-AT"
