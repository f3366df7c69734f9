"""Text as sites send it, made comparable: NFC, no soft hyphens, no invisible characters,
and language tags in one form."""

from __future__ import annotations

import re
import unicodedata

# Soft hyphen, zero-width space, word joiner, zero-width no-break space (a stray BOM), and
# the invisible separators. Zero-width (non-)joiners are kept: Persian, Hindi and emoji need
# them to render correctly.
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\u2061\u2062\u2063\u2064\ufeff\u180e]")
_LANGUAGE_TAG = re.compile(r"^([a-z]{2,3})(?:-([a-z]{4}))?(?:-([a-z]{2}|[0-9]{3}))?(?:-|$)")
_HANS_REGIONS = {"cn", "sg", "my"}
_HANT_REGIONS = {"tw", "hk", "mo"}


def tidy(text: str) -> str:
    """NFC-composed text without soft hyphens and zero-width characters."""
    if not text:
        return text
    return unicodedata.normalize("NFC", _INVISIBLE.sub("", text))


def language_tag(value: str | None) -> str | None:
    """A declared language (``de-DE``, ``en_us``, ``zh-CN``, ``zh-Hant-TW``) as a short
    BCP 47 tag: the language alone, with the script for Chinese (``zh-Hans``/``zh-Hant``)
    or where one is given; None if it is not a language tag."""
    raw = (value or "").strip().replace("_", "-").lower()
    match = _LANGUAGE_TAG.match(raw)
    if not match:
        return None
    language, script, region = match.groups()
    if language == "zh" and not script:
        if region in _HANS_REGIONS:
            script = "hans"
        elif region in _HANT_REGIONS:
            script = "hant"
    return f"{language}-{script.title()}" if script else language
