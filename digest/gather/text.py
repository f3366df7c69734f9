"""Text as sites send it, made comparable and inert: NFC, no soft hyphens, no invisible
characters, no control characters, and language tags in one form."""

from __future__ import annotations

import re
import unicodedata

# Soft hyphen, zero-width space, word joiner, zero-width no-break space (a stray BOM), and
# the invisible separators. Zero-width (non-)joiners are kept: Persian, Hindi and emoji need
# them to render correctly.
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\u2061\u2062\u2063\u2064\ufeff\u180e]")
# Terminal escape sequences whole (CSI "ESC [ ... final", OSC "ESC ] ... BEL or ESC \\", and
# the 8-bit CSI and OSC), so "\x1b]8;;http://evil\x07click\x1b]8;;\x07" leaves "click".
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]{0,2048}(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[@-Z\\-_]?"
)
# Then any control character left: C0 but tab and newline, DEL, C1.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Character references in HTML to the same (&#27; &#x1b;): a parser would turn them into the
# characters. References to 0x80-0x9f are windows-1252 in HTML (&#146; is ’) and stay,
# but for the five that are not.
_CONTROL_REFERENCES = re.compile(
    r"&#(?:0*(?:[0-8]|1[1-9]|2[0-9]|3[01]|127|129|141|143|144|157)(?![0-9])"
    r"|[xX]0*(?:[0-8]|[b-fB-F]|1[0-9a-fA-F]|7[fF]|81|8[dDfF]|90|9[dD])(?![0-9a-fA-F]));?"
)
_CONTROL_REFERENCE_BYTES = re.compile(_CONTROL_REFERENCES.pattern.encode())
_LANGUAGE_TAG = re.compile(r"^([a-z]{2,3})(?:-([a-z]{4}))?(?:-([a-z]{2}|[0-9]{3}))?(?:-|$)")
_HANS_REGIONS = {"cn", "sg", "my"}
_HANT_REGIONS = {"tw", "hk", "mo"}


def tidy(text: str) -> str:
    """NFC-composed text without soft hyphens, zero-width and control characters."""
    if not text:
        return text
    return unicodedata.normalize("NFC", _INVISIBLE.sub("", inert(text)))


def inert(text: str) -> str:
    """Text (or HTML) from outside without what a terminal, a log or a mail header would
    act on: escape sequences, control characters but tab and newline (CR LF and a lone CR
    become newlines), and character references to them."""
    if not text:
        return text
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "&#" in text:
        text = _CONTROL_REFERENCES.sub("", text)
    if "\x1b" in text or "\x9b" in text or "\x9d" in text:  # the sequences' first bytes
        text = _ESCAPES.sub("", text)
    return _CONTROLS.sub("", text)


def inert_markup(html: bytes | str) -> bytes | str:
    """A page before it is parsed, without control characters (as `inert`) or, for bytes
    in an unknown encoding, without references to them: the extractor would otherwise
    turn ``&#27;`` into a character it cannot store, and lose the page."""
    if isinstance(html, str):
        return inert(html)
    return _CONTROL_REFERENCE_BYTES.sub(b"", html) if b"&#" in html else html


def has_controls(text: str) -> bool:
    """Whether `text` holds a control character other than tab, newline and carriage
    return (which URL parsers drop from links)."""
    return bool(_CONTROLS.search(text.replace("\r", "")))


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
