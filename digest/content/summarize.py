"""Short extractive summaries for digest entries.

News bodies put the point first, so the summary is the lead: the first sentences of the
article body, one after another with none left out between them, whole sentences only,
within a sentence and word budget. Sentences are found by ``sentencex`` (rule-based,
about 300 languages, no model to download); page furniture and boilerplate sentences
(cookie notices, share and subscribe prompts, bylines, credits...) never reach it.
"""

from __future__ import annotations

import re
import unicodedata

from sentencex import segment

from digest.content.clean import strip_boilerplate, without_boilerplate

__all__ = ["split_sentences", "summarize", "word_count"]

DEFAULT_SENTENCES = 3
DEFAULT_WORDS = 60
# A line without any full stop longer than this many times the word budget is not a
# headline-like teaser but text whose punctuation was lost: it is shortened, with "…".
_WALL = 3

_CLOSERS = "\"'”’»)]」』）›"
# Full stops of the scripts we meet: Latin, CJK, Burmese (။), Ethiopic (።), Arabic and
# Urdu question mark and full stop (؟ ۔), Devanagari danda (।), Armenian (։).
_TERMINATORS = ".!?…。！？။።؟۔।॥։‼⁉"
_SENTENCE_FINAL = re.compile(rf"[{re.escape(_TERMINATORS)}][{re.escape(_CLOSERS)}]*$")
# German and its neighbours write ordinals as "4." ("im 4. Stock", "zum 10. Mal", "am
# 3. März"): a one- to three-digit number before a full stop does not end a sentence there.
_ORDINAL_LANGUAGES = {
    "bs", "cs", "da", "de", "et", "fi", "fo", "hr", "hu", "is", "lv", "nb", "nn", "no",
    "pl", "sk", "sl", "sr", "tr",
}  # fmt: skip
_ORDINAL_END = re.compile(r"(?:^|[\s(])\d{1,3}\.$")
# A short capitalised word without vowels before a full stop is an abbreviated title the
# splitter may not know ("Cllr.", "Ms.", "Cdr."): no word of prose looks like that.
_TITLE_END = re.compile(r"(?:^|\s)[A-Z][b-df-hj-np-tv-xz]{0,4}\.$")
# Thai and Lao end sentences with a space, not a mark.
# What str.isalnum() is not (checked over every code point): what a key leaves out.
_NOT_ALNUM = re.compile(r"[\W_]+")
_SPACE_STOP = re.compile(r"(?<=[\u0e00-\u0eff])\s+(?=[\u0e00-\u0eff])")
_SPACE_STOP_SCRIPT = re.compile(r"[\u0e00-\u0eff]")
# What cannot end a Thai sentence: a title (Mr, Mrs, Miss, Dr, General...), or a word
# that joins it to what follows ("that", "and", "or", "of", "which", "by", "but", "for",
# "from", "with").
_THAI_OPEN_END = re.compile(
    r"(?:นาย|นางสาว|นาง|ด\.ร\.|ดร\.|พล\.[อทต]\.|ร\.ต\.[อทต]\.|"
    r"ว่า|และ|หรือ|ของ|ที่|ซึ่ง|โดย|แต่|เพื่อ|จาก|กับ)$"
)
# A piece shorter than this is a name (a surname after a first name), not a sentence: it
# joins the one before.
_THAI_SHORTEST = 10
# A sentence that is a quotation and nothing else: who said it is in a sentence nearby.
_BARE_QUOTE = re.compile(r"^[\"“„«‘'「『].*[\"”“»’'」』]$")
_LATIN_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
# Scripts written without spaces between words; a word is about this many characters.
_UNSPACED = (
    (re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\u3040-\u30ff]"), 1.7),  # Han, kana
    (re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]"), 4.0),  # Thai, Lao, Burmese, Khmer
)


def _language(tag: str | None) -> str:
    return (tag or "en").split("-")[0].lower() or "en"


def _chunks(text: str) -> list[str]:
    """Paragraphs and lines, a line starting in lower case joined to the one before."""
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


def _segment(chunk: str, language: str) -> list[str]:
    if _SPACE_STOP_SCRIPT.search(chunk) and len(_SPACE_STOP_SCRIPT.findall(chunk)) * 2 > len(chunk):
        return _space_stopped(chunk)
    pieces = [p.strip() for p in segment(language, chunk) if p.strip()]
    ordinals = language in _ORDINAL_LANGUAGES
    merged: list[str] = []
    for piece in pieces:
        if merged and (
            _TITLE_END.search(merged[-1]) or (ordinals and _ORDINAL_END.search(merged[-1]))
        ):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    pieces = merged
    if _SPACE_STOP_SCRIPT.search(chunk):
        pieces = [s for p in pieces for s in _SPACE_STOP.split(p) if s]
    return pieces


def _space_stopped(chunk: str) -> list[str]:
    """Thai and Lao: a space between two letters of the script ends a sentence, and a full
    stop never does (it marks abbreviations: "ม.ค." is January, "น." o'clock). A piece
    that ends with a title or a joining word, or is a few letters long (a surname after
    a first name), is no sentence of its own: it runs on into the next."""
    pieces: list[str] = []
    for piece in (p.strip() for p in _SPACE_STOP.split(chunk)):
        if not piece:
            continue
        if pieces and (
            _THAI_OPEN_END.search(pieces[-1])
            or len(pieces[-1]) < _THAI_SHORTEST
            or len(piece) < _THAI_SHORTEST
        ):
            pieces[-1] = f"{pieces[-1]} {piece}"
        else:
            pieces.append(piece)
    return pieces


def split_sentences(text: str, language: str | None = None) -> list[str]:
    """Split *text* into sentences.

    Paragraphs and lines are hard boundaries (a line starting in lower case is taken as a
    wrapped continuation). *language* is a BCP 47 tag; the rules of its primary language
    are used (English when it is None).
    """
    lang = _language(language)
    return [s for chunk in _chunks(text) for s in _segment(chunk, lang)]


def word_count(text: str) -> float:
    """Words in *text*; for scripts without spaces, characters over a typical word length."""
    count = 0.0
    rest = text
    for pattern, chars_per_word in _UNSPACED:
        found = len(pattern.findall(rest))
        if found:
            count += found / chars_per_word
            rest = pattern.sub(" ", rest)
    return count + len(_LATIN_WORD.findall(rest))


def _key(text: str) -> str:
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text).casefold())


def _is_final(sentence: str) -> bool:
    return bool(_SENTENCE_FINAL.search(sentence)) or bool(_SPACE_STOP_SCRIPT.search(sentence))


def _is_prose(sentence: str) -> bool:
    return _is_final(sentence) or sentence.rstrip().endswith((":", "："))


def _repeats(sentence: str, known: list[str]) -> bool:
    key = _key(sentence)
    return bool(key) and any(key == k or (len(key) >= 12 and key in k) for k in known)


def summarize(
    text: str,
    *,
    title: str | None = None,
    dek: str | None = None,
    language: str | None = None,
    max_sentences: int = DEFAULT_SENTENCES,
    max_words: int = DEFAULT_WORDS,
    from_body: bool = False,
) -> str:
    """Return the lead of *text*: its first whole sentences, none left out in between.

    The lead starts at the first prose sentence (one that ends with a full stop of its
    script and is neither the *title* nor the *dek* again) and takes the sentences that
    follow it while there are at most *max_sentences* and about *max_words* words. The first
    sentence is always whole, however long. A sentence ending in a colon, or a bare
    quotation, is never the last one: the next sentence comes too, or it goes. Boilerplate
    sentences are removed first, and page furniture too unless *from_body* says *text*
    is already an ``article_body`` (whose furniture is gone).
    """
    if not text or not text.strip() or max_sentences <= 0:
        return ""
    known = [k for k in (_key(title or ""), _key(dek or "")) if k]
    sentences = without_boilerplate(
        split_sentences(text if from_body else strip_boilerplate(text, title=title), language)
    )
    start = next(
        (i for i, s in enumerate(sentences) if _is_prose(s) and not _repeats(s, known)), None
    )
    if start is None:
        # No prose at all (a teaser that is one headline-like line): the first line that
        # does not repeat the title, as it is, unless it is a wall of words.
        rest = [s for s in sentences if not _repeats(s, known)]
        return _at_most(rest[0], _WALL * max_words) if rest else ""

    chosen = [sentences[start]]
    words = word_count(sentences[start])
    for sentence in sentences[start + 1 :]:
        if not _is_prose(sentence) or _repeats(sentence, known):
            break  # a heading or a caption: the lead ends here
        needs_next = _needs_next(chosen[-1], chosen[-2] if len(chosen) > 1 else "")
        if not needs_next and (
            len(chosen) >= max_sentences or words + word_count(sentence) > max_words
        ):
            break
        chosen.append(sentence)
        words += word_count(sentence)
    while len(chosen) > 1 and _needs_next(chosen[-1], chosen[-2]):
        chosen.pop()
    return _join(chosen)


def _at_most(line: str, words: int) -> str:
    if word_count(line) <= words:
        return line
    cut = " ".join(line.split()[:words]) if " " in line else line[: words * 2]
    return cut.rstrip(" ,;:–—-") + "…"


def _ends_with_colon(sentence: str) -> bool:
    return sentence.rstrip().endswith((":", "："))


def _needs_next(sentence: str, before: str) -> bool:
    """Whether *sentence* cannot end a summary: it announces what follows, or it is a
    quotation whose speaker was not named just before it (so is named just after)."""
    if _ends_with_colon(sentence):
        return True
    return bool(_BARE_QUOTE.match(sentence.strip())) and not _ends_with_colon(before)


def _join(sentences: list[str]) -> str:
    out = sentences[0]
    for sentence in sentences[1:]:
        wide = unicodedata.east_asian_width(out[-1]) in "WF"
        out += ("" if wide else " ") + sentence
    return out
