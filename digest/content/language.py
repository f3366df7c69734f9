"""The language of an article, as a BCP 47 tag, and its writing direction.

A page or feed that declares its language (``<html lang>``, ``<language>``, ``xml:lang``)
is believed when the tag is well formed; otherwise the language is detected from the
text, offline, with ``py3langid`` (a model shipped inside the package, nothing is
downloaded). Text too short to tell gives None rather than a guess.
"""

from __future__ import annotations

import re

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


def _letters(text: str) -> int:
    return sum(3 if _is_wide(ch) else 1 for ch in text if ch.isalpha())


def detect_language(text: str) -> str | None:
    """The language of *text* as a bare language tag ("de", "my"), or None if too short."""
    sample = " ".join(text.split())[:_SAMPLE_CHARS]
    if _letters(sample) < _MIN_LETTERS:
        return None
    # Imported on first use: loading the model costs a quarter of a second.
    import py3langid

    language, _ = py3langid.classify(sample)
    return str(language)


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
