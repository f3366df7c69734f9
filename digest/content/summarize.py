"""Short extractive summaries for digest entries.

News bodies put the point first, so the summary is the lead: the first informative
sentences of the article body, within a sentence and character budget.
"""

from __future__ import annotations

import re
import unicodedata

from digest.content.clean import strip_boilerplate

__all__ = ["split_sentences", "summarize"]

_CLOSERS = "\"'”’»)]」』）"
_CLOSER_CLASS = "[" + re.escape(_CLOSERS) + "]"
# A terminator run plus closing quotes/brackets. Latin punctuation needs following
# whitespace (so 6.79 and example.com stay whole); CJK punctuation does not.
_BOUNDARY = re.compile(rf"[。！？]+{_CLOSER_CLASS}*\s*|[.!?…]+{_CLOSER_CLASS}*(?:\s+|$)")
_WORD_BEFORE = re.compile(r"(\S+)$")
_NEXT_WORD = re.compile(r"\S+")

# Lower-cased, without the final period.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "mt", "gen", "gov", "sen", "rep",
    "col", "lt", "capt", "sgt", "rev", "hon", "vs", "approx", "ave", "blvd", "dept", "est",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "e.g", "i.e", "cf", "ca", "bzw", "vgl", "z.b", "hr", "fr", "sra", "srta", "dra", "av",
    "mme", "mlle",
}  # fmt: skip
# Abbreviations only when a number follows ("No. 5", "Fig. 2", "p. 12").
_NUMBER_ABBREVIATIONS = {"no", "nos", "nr", "fig", "vol", "p", "pp", "art", "ch"}
# After a dotted acronym ("U.S.", "a.m.") these words signal that a new sentence started.
_SENTENCE_STARTERS = {
    "the", "a", "an", "it", "its", "he", "she", "they", "we", "i", "you", "his", "her",
    "their", "our", "this", "that", "these", "those", "there", "but", "and", "so", "yet",
    "however", "in", "on", "at", "after", "before", "when", "while", "if",
}  # fmt: skip
# German ordinal dates: "am 5. Mai".
_GERMAN_MONTHS = {
    "januar", "februar", "märz", "april", "mai", "juni", "juli", "august", "september",
    "oktober", "november", "dezember",
}  # fmt: skip
_LETTER = r"[^\W\d_]"
_INITIAL = re.compile(_LETTER)
_DOTTED_ACRONYM = re.compile(rf"(?:{_LETTER}\.)+{_LETTER}")
_OPENERS = "\"'“‘(¿¡«["

# Shorter sentences are fragments ("It passed.") rather than information. A wide (CJK)
# character carries about as much as a short word, so it counts as three.
_MIN_INFORMATIVE = 25
_SENTENCE_FINAL = re.compile(rf"[.!?…。！？]{_CLOSER_CLASS}*$")


def split_sentences(text: str) -> list[str]:
    """Split *text* into sentences.

    Paragraphs and lines are hard boundaries (a line starting in lower case is taken as a
    wrapped continuation). Abbreviations, initials, decimals and dotted acronyms do not end
    a sentence; CJK full stops and Spanish inverted marks are handled.
    """
    sentences: list[str] = []
    for chunk in _chunks(text):
        start = 0
        for match in _BOUNDARY.finditer(chunk):
            end = match.end()
            if end < len(chunk) and not _is_boundary(chunk, start, match):
                continue
            sentence = chunk[start:end].strip()
            if sentence:
                sentences.append(sentence)
            start = end
        rest = chunk[start:].strip()
        if rest:
            sentences.append(rest)
    return sentences


def _chunks(text: str) -> list[str]:
    chunks: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        current: list[str] = []
        for line in paragraph.splitlines():
            line = " ".join(line.split())
            if not line:
                continue
            if current and not line[0].islower():
                chunks.append(" ".join(current))
                current = []
            current.append(line)
        if current:
            chunks.append(" ".join(current))
    return chunks


def _is_boundary(chunk: str, start: int, match: re.Match[str]) -> bool:
    terminator = match.group().rstrip()
    if terminator[0] in "。！？":
        return True
    following = chunk[match.end() :]
    if following[0].islower():
        return False  # '"Is it ready?" she asked', 'e.g. the depot'
    if terminator.rstrip(_CLOSERS) != ".":
        return True
    word_match = _WORD_BEFORE.search(chunk, start, match.start())
    if not word_match:
        return True
    word = word_match.group(1).lstrip(_OPENERS).lower()
    if word in _ABBREVIATIONS:
        return False
    if word in _NUMBER_ABBREVIATIONS:
        return not following[0].isdigit()
    if _INITIAL.fullmatch(word):
        return False
    next_match = _NEXT_WORD.match(following)
    next_word = next_match.group().strip(_OPENERS).lower() if next_match else ""
    if _DOTTED_ACRONYM.fullmatch(word):
        return next_word in _SENTENCE_STARTERS
    return not (word.isdigit() and len(word) <= 2 and next_word in _GERMAN_MONTHS)


def _weight(text: str) -> int:
    return sum(3 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def summarize(text: str, *, max_sentences: int = 3, max_chars: int = 400) -> str:
    """Return the lead of *text*: up to *max_sentences* informative sentences.

    Sentences are added while the summary stays within *max_chars*; a first sentence that
    alone is too long is cut at a word boundary and ends with "…". Boilerplate is stripped
    first in case *text* did not come from ``article_body``.
    """
    if not text or not text.strip() or max_sentences <= 0 or max_chars <= 0:
        return ""
    sentences = split_sentences(strip_boilerplate(text))
    informative = [s for s in sentences if _weight(s) >= _MIN_INFORMATIVE]
    # Headlines, deks and captions rarely end with a full stop; prose does.
    chosen = [s for s in informative if _SENTENCE_FINAL.search(s)] or informative or sentences
    if not chosen:
        return ""
    if len(chosen[0]) > max_chars:
        return _truncate(chosen[0], max_chars)

    summary = chosen[0]
    for sentence in chosen[1:max_sentences]:
        separator = "" if summary[-1] in "。！？」』）" else " "
        candidate = summary + separator + sentence
        if len(candidate) > max_chars:
            break
        summary = candidate
    return summary


def _truncate(sentence: str, max_chars: int) -> str:
    cut = sentence[: max_chars - 1]
    if not sentence[max_chars - 1].isspace() and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:–—-") + "…"
