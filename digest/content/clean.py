"""Turn feed and page HTML into something safe to email and something plain to summarise.

``sanitize_html`` makes third-party HTML safe to embed in a digest email, ``html_to_text``
flattens HTML into paragraphs of plain text, and ``article_body`` additionally strips the
page furniture (navigation, share buttons, "Read also" blocks, "Latest" lists...) that
extractors and feeds leave around the actual article.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Sequence

import nh3
from lxml import etree
from lxml import html as lxml_html

__all__ = [
    "article_body",
    "html_to_text",
    "is_boilerplate_sentence",
    "sanitize_html",
    "strip_boilerplate",
    "without_boilerplate",
]

# --- sanitize_html -------------------------------------------------------------------------

_ALLOWED_TAGS = {
    "p", "br", "a", "strong", "em", "b", "i", "ul", "ol", "li", "blockquote",
    "h2", "h3", "h4", "img", "figure", "figcaption", "code", "pre",
}  # fmt: skip
# Whole subtree goes: their text is code, widget chrome or fallback noise, never prose.
_DROP_WITH_CONTENT = {
    "script", "style", "iframe", "form", "noscript", "template", "object", "embed",
    "svg", "math", "textarea", "select", "button", "title",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt"}}
_LINK_SCHEMES = ("http://", "https://", "mailto:")
_IMAGE_SCHEMES = ("http://", "https://")


def _filter_attribute(tag: str, attr: str, value: str) -> str | None:
    # nh3 applies one scheme list to every URL attribute; images must not get mailto:.
    if attr == "src" and tag == "img":
        return value if value.strip().lower().startswith(_IMAGE_SCHEMES) else None
    return value


_CLEANER = nh3.Cleaner(
    tags=_ALLOWED_TAGS,
    clean_content_tags=_DROP_WITH_CONTENT,
    attributes=_ALLOWED_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    url_schemes={scheme.rstrip(":/") for scheme in _LINK_SCHEMES},
    # Relative URLs mean nothing inside an email client, so they are dropped.
    url_relative="deny",
    link_rel="noopener noreferrer",
    strip_comments=True,
)
_SRCLESS_IMG = re.compile(r'<img(?: alt="[^"]*")?\s*/?>')


def sanitize_html(html: str) -> str:
    """Return *html* reduced to a conservative, email-safe subset.

    Images are kept (digests commonly show a lead image) but only with an http(s) ``src``
    and ``alt``; sizes and styles are stripped so the email template controls layout.
    Links keep only http, https and mailto targets and get ``rel="noopener noreferrer"``.
    """
    if not html or not html.strip():
        return ""
    # An image whose src was rejected is left as a bare tag that would render as a broken
    # image; nh3 keeps at most src and alt on img, so a src-less one looks exactly like this.
    return _SRCLESS_IMG.sub("", _CLEANER.clean(html)).strip()


# --- html_to_text --------------------------------------------------------------------------

_SKIP_TAGS = _DROP_WITH_CONTENT | {"head", "audio", "video", "canvas", "option", "datalist"}
_PARAGRAPH_TAGS = {
    "address", "article", "aside", "blockquote", "body", "dd", "details", "div", "dl",
    "fieldset", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "html", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
    "ul",
}  # fmt: skip
_LINE_TAGS = {"br", "li", "dt", "tr", "caption"}
_CELL_TAGS = {"td", "th"}

# Break markers placed between text pieces; the strongest one between two texts wins.
_LINE, _PARAGRAPH = 1, 2
_PARSER = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
_SPACES = re.compile(r"\s+")


def html_to_text(
    html: str, *, skip: frozenset[str] = frozenset(), skip_classes: frozenset[str] = frozenset()
) -> str:
    """Flatten *html* to plain text.

    Block elements become paragraphs separated by one blank line, ``<br>`` and list items
    become single line breaks, whitespace is collapsed within lines and the contents of
    script/style-like elements are dropped, as are those of the elements named in *skip*
    and of the elements with a class named in *skip_classes*.
    """
    if not html or not html.strip():
        return ""
    try:
        # Bytes plus an explicit encoding: lxml refuses str input that carries an XML
        # encoding declaration, which some feeds include.
        root = lxml_html.document_fromstring(html.encode("utf-8", "ignore"), parser=_PARSER)
    except (etree.ParserError, ValueError):
        return ""

    pieces: list[str | int] = []
    pre_depth = 0
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _SKIP_TAGS or tag in skip or _has_class(el, skip_classes):
                walker.skip_subtree()
                continue
            if tag == "pre":
                pre_depth += 1
            _append_break(pieces, tag)
            if el.text:
                pieces.extend(_text_pieces(el.text, pre_depth > 0))
        else:
            if tag not in _SKIP_TAGS and tag not in skip:
                if tag == "pre":
                    pre_depth -= 1
                if tag != "br":
                    _append_break(pieces, tag)
            if el.tail:
                pieces.extend(_text_pieces(el.tail, pre_depth > 0))
    return _assemble(pieces)


def _has_class(el: etree._Element, names: frozenset[str]) -> bool:
    if not names:
        return False
    classes = el.get("class")
    return classes is not None and not names.isdisjoint(classes.lower().split())


def _append_break(pieces: list[str | int], tag: str) -> None:
    if tag == "br":
        # Feeds often separate paragraphs with "<br><br>" instead of <p>.
        for i in range(len(pieces) - 1, -1, -1):
            piece = pieces[i]
            if piece == _LINE:
                pieces[i] = _PARAGRAPH
                return
            if not isinstance(piece, str) or piece.strip():
                break
    if tag in _PARAGRAPH_TAGS:
        pieces.append(_PARAGRAPH)
    elif tag in _LINE_TAGS:
        pieces.append(_LINE)
    elif tag in _CELL_TAGS:
        pieces.append(" ")


def _text_pieces(text: str, preformatted: bool) -> list[str | int]:
    if not preformatted:
        return [text.replace("\n", " ")]
    out: list[str | int] = []
    for i, line in enumerate(text.split("\n")):
        if i:
            out.append(_LINE)
        out.append(line)
    return out


def _assemble(pieces: list[str | int]) -> str:
    paragraphs: list[list[str]] = [[]]
    line: list[str] = []
    pending = 0

    def flush_line() -> None:
        text = _SPACES.sub(" ", "".join(line)).strip()
        if text:
            paragraphs[-1].append(text)
        line.clear()

    for piece in pieces:
        if isinstance(piece, int):
            pending = max(pending, piece)
            continue
        if pending:
            flush_line()
            if pending == _PARAGRAPH and paragraphs[-1]:
                paragraphs.append([])
            pending = 0
        line.append(piece)
    flush_line()
    return "\n\n".join("\n".join(p) for p in paragraphs if p)


# --- article_body --------------------------------------------------------------------------

# Lines that are page chrome wherever they appear (English, German, Chinese, Korean,
# Arabic, Burmese...): skip links, menus, share and sign-in buttons, advertising labels.
_NAV_LINE = re.compile(
    r"skip to (?:main )?(?:content|navigation)|(?:main )?menu|home|search|close|"
    r"share(?: this(?: article| story| page)?| on \w+| via \w+)?|"
    r"advertisement|advertising|advert|sponsored(?: content)?|"
    r"subscribe(?: now| today| to our newsletter)?|sign (?:in|up|out)|log ?(?:in|out)|"
    r"register|my account|print|comments?|back to top|"
    r"zum (?:haupt)?inhalt(?: springen)?|direkt zum inhalt|springe zum inhalt|menü|suche|"
    r"teilen|drucken|anmelden|abonnieren|werbung|anzeige|kommentare|startseite|"
    r"跳(?:到|转到|至)(?:主要)?(?:内容|正文)|跳過導覽|首页|搜索|分享(?:到\w+)?|打印|登录|注册|"
    r"广告|廣告|返回顶部|"
    r"본문 ?바로 ?가기|주 ?메뉴 ?바로 ?가기|메뉴|검색|공유(?:하기)?|구독(?:하기)?|로그인|"
    r"회원가입|광고|맨 위로|"
    r"(?:تخط(?:ى|ي)|انتقل) إلى المحتوى(?: الرئيسي)?|الرئيسية|بحث|شارك|مشاركة|طباعة|اشترك|"
    r"تسجيل الدخول|إعلان|القائمة|"
    r"ပင်မစာမျက်နှာ|ရှာဖွေရန်|မျှဝေရန်"
)
# Headings that introduce a run of links to other articles.
_LINKS_HEADING = re.compile(
    r"read (?:also|more|next)|also read|see also|related(?: articles| stories| content| "
    r"coverage| links| topics)?|more (?:from|on|in|about) .{1,60}|more stories|"
    r"recommended(?: for you)?|you (?:may|might) also (?:like|be interested in)|"
    r"lesen sie (?:auch|mehr)|auch interessant|mehr zum thema(?: .{1,60})?|weitere artikel|"
    r"das könnte sie auch interessieren|"
    r"相(?:关|關)(?:阅读|閱讀|新闻|新聞|文章|报道|報導)|延伸(?:阅读|閱讀)|推荐阅读|推薦閱讀|"
    r"관련 ?(?:기사|뉴스)|함께 (?:보면 좋은|읽으면 좋은) 기사|추천 기사|"
    r"اقرأ (?:أيضا|أيضاً|ايضا|ايضاً)|(?:مواضيع|أخبار|مقالات) ذات صلة|ذات صلة|"
    r"ဆက်စပ်(?:သတင်း(?:များ)?|ဆောင်းပါး(?:များ)?)"
)
# "Read also: <headline>" on a single line.
_LINK_PREFIX = re.compile(
    r"(?:read (?:also|more|next)|also read|see also|related|lesen sie auch|mehr zum thema|"
    r"相关阅读|延伸阅读|相關閱讀|관련 ?기사|اقرأ (?:أيضا|أيضاً|ايضا))\s*[:：]\s*\S"
)
# Headings of page-wide lists that follow the article: nothing after them is body text.
_END_HEADING = re.compile(
    r"latest(?: news| stories| articles| headlines)?|most (?:read|popular|viewed|shared)|"
    r"trending(?: now)?|top stories|"
    r"neueste (?:artikel|nachrichten|beiträge)|meistgelesen(?:e (?:artikel|nachrichten))?|"
    r"aktuelle nachrichten|"
    r"最新(?:新闻|新聞|消息|文章|资讯|資訊)|热门(?:文章|新闻)?|熱門(?:文章|新聞)?|"
    r"최신 ?(?:뉴스|기사)|많이 본 (?:뉴스|기사)|가장 많이 본 (?:뉴스|기사)|"
    r"آخر الأخبار|أحدث الأخبار|الأكثر (?:قراءة|مشاهدة)|"
    r"နောက်ဆုံး(?:ရ)?သတင်း(?:များ)?"
)

# "By Ann Lee", "Von Lena Ostrowski, 5. März 2026, 07:45", "By Ann Lee | Harbour desk":
# a name of up to four words, then perhaps a date or desk after a comma or a bar (with a
# figure in it, so that "By Monday, the bridge will reopen." is not one).
_BYLINE = (
    r"^(?:by|von|par|por|di)\s+[^\W\d_][\w'’.-]*(?:\s+[^\W\d_][\w'’.-]*){0,3}"
    r"(?:\s*[,|–—·-]\s*(?:[^.!?\d]{0,30}\d[^!?]{0,30}|[^\W\d_][\w ]{0,30}))?\s*$"
)
_BYLINE_LINE = re.compile(_BYLINE)
# Sentences that are about the page, the site or the picture, not the story: consent
# notices, prompts to share, subscribe or send material, "originally appeared", bylines,
# photo credits and copyright lines. Searched (not matched whole) in a casefolded sentence.
_BOILERPLATE_SENTENCE = re.compile(
    "|".join(
        (
            # cookies and consent
            r"\bcookies?\b.{0,80}\b(?:use|accept|consent|settings|policy|enable)|"
            r"\b(?:accept|allow|manage|use)\b.{0,40}\bcookies?\b|privacy (?:policy|settings)|"
            r"cookie-?(?:einstellungen|richtlinie|hinweis)|(?:wir )?(?:verwenden|nutzen) cookies|"
            r"datenschutz(?:erklärung|einstellungen|hinweis)|"
            r"(?:使用|接受).{0,10}cookie|隐私(?:政策|设置)|隱私權?政策|쿠키|개인정보 ?처리 ?방침|"
            r"ملفات (?:تعريف )?الارتباط|سياسة الخصوصية|ကွတ်ကီး",
            # prompts: share, subscribe, follow, send us your photos, download the app
            r"\b(?:share|send|email) (?:this|us your)\b|\bsubscribe\b|\bsign up\b|"
            r"\bnewsletter\b|\bfollow us\b|\bdownload (?:our|the) app\b|"
            r"\bshare (?:your|with us)\b.{0,40}\b(?:photos?|videos?|pictures?|stor(?:y|ies)|"
            r"experiences?|views?|thoughts|tips?)\b|\bsend us\b|"
            r"teilen sie (?:ihre|uns)|partagez (?:vos|avec nous)|envoyez-nous|suivez-nous|"
            r"inscrivez-vous|abonnez-vous|comparte (?:tus|con nosotros)|envíanos|síguenos|"
            r"suscríbete|"
            r"\b(?:click|tap) here\b|\bsend (?:us )?your (?:photos|videos|pictures|tips|stories)|"
            r"\bhave you got a story\b|\bget in touch\b.{0,40}\b(?:story|tip)|"
            r"abonnieren sie|newsletter|folgen sie uns|schicken sie uns|teilen sie (?:diesen|den)|"
            r"jetzt (?:abonnieren|registrieren|anmelden)|"
            r"订阅|訂閱|关注我们|關注我們|扫码|掃碼|点击(?:这里|此处)|欢迎(?:投稿|分享)|"
            r"구독|제보(?:하기|는)|좋아요|공유해 ?주세요|"
            r"اشترك|تابعونا|تابعنا|أرسل(?:وا)? لنا|شارك(?:وا)? (?:هذا|المقال)|"
            r"ဆက်သွယ်ရန်|like နှိပ်|"
            r"会員(?:の方|登録|限定)|ログイン|ご覧いただけます|続きをお読み|転載|登录|登錄|회원가입|로그인",
            # where it appeared first
            r"originally (?:appeared|published)|first (?:appeared|published) (?:on|in|at)|"
            r"this (?:article|story) (?:was|is) (?:republished|reproduced)|"
            r"(?:erschien|erschienen) (?:zuerst|ursprünglich)|zuerst erschienen|"
            r"本文(?:首发|首發|原载|原載|转载|轉載)|原文(?:链接|連結|刊载)|"
            r"이 기사는 .{0,30}(?:처음|먼저) 실렸|"
            r"نشر(?:ت)? (?:هذه المادة|هذا المقال) (?:أولا|أصلا)",
            # bylines, credits and rights
            _BYLINE,
            r"^(?:reporting|reported|written|edited|additional reporting) by\b|"
            r"^(?:photo|photograph|picture|image|credit|foto|bild|quelle)s?\s*[:：/]|"
            r"\b(?:getty images|shutterstock|afp photo|ap photo|reuters/)|"
            r"^\(?(?:©|\(c\)|copyright)|all rights reserved|alle rechte vorbehalten|"
            r"版权所有|版權所有|未经授权|(?:（|\()?记者\s*\S{2,4}(?:）|\))|图片来源|圖片來源|"
            r"무단 ?(?:전재|복제)|재배포 ?금지|^\S{2,4} ?기자\s*=|\S{2,4} 기자 [\w.]+@|사진 ?=|"
            r"جميع الحقوق محفوظة|^بقلم|^كتب\s*[:：]|^تصوير|"
            r"ဓာတ်ပုံ\s*[-:–]|မူပိုင်ခွင့်",
        )
    )
)


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of the regular expression *pattern*."""
    parts: list[str] = []
    depth, start, escaped, in_class = 0, 0, False, False
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
    parts.append(pattern[start:])
    return parts


def _needed_words(alternative: str) -> frozenset[str] | None:
    """Strings one of which any match of *alternative* contains, or None if it has none
    worth looking for (of two characters or more).

    Read from the parsed pattern: a run of literal characters in its top-level sequence
    must appear, as must one of the leading runs of a top-level alternation.
    """
    try:  # re's own parser: private, so typeshed describes neither module
        sre = importlib.import_module("re._constants")
        items = list(importlib.import_module("re._parser").parse(alternative))
    except Exception:  # another Python's internals: no shortcut, the regex decides
        return None
    candidates: list[frozenset[str]] = []
    run: list[str] = []

    def leading(branch: Iterable[tuple[object, int]]) -> str:
        chars = []
        for op, value in branch:
            if op is not sre.LITERAL:
                break
            chars.append(chr(value))
        return "".join(chars)

    for op, value in [*items, (None, None)]:
        if op is sre.LITERAL:
            run.append(chr(value))
            continue
        if run:
            candidates.append(frozenset(["".join(run)]))
            run = []
        if op is sre.BRANCH:
            candidates.append(frozenset(leading(branch) for branch in value[1]))
    usable = [c for c in candidates if all(len(word.strip()) >= 2 for word in c)]
    return max(usable, key=lambda c: min(map(len, c)), default=None)


class _Searcher:
    """``search`` of an alternation of many patterns, quicker than ``re`` alone.

    ``re`` tries every alternative at every position of the text. Here alternatives
    anchored with ``^`` are tried at the start only, and the others only once the text
    holds one of the words they need (see `_needed_words`); the few with no such word are
    searched as they are. The answer is the same as the whole pattern's.
    """

    def __init__(self, pattern: str) -> None:
        anchored, anywhere, plain = [], [], []
        words: set[str] = set()
        for alternative in _alternatives(pattern):
            if alternative.startswith("^"):
                anchored.append(alternative)
            elif (needed := _needed_words(alternative)) is not None:
                anywhere.append(alternative)
                words.update(needed)
            else:
                plain.append(alternative)
        self.at_start = re.compile("|".join(anchored)) if anchored else None
        self.anywhere = re.compile("|".join(anywhere)) if anywhere else None
        self.plain = re.compile("|".join(plain)) if plain else None
        self.words = tuple(sorted(words))

    def search(self, text: str) -> bool:
        if self.at_start is not None and self.at_start.match(text):
            return True
        if self.plain is not None and self.plain.search(text):
            return True
        if self.anywhere is None or not any(word in text for word in self.words):
            return False
        return bool(self.anywhere.search(text))


_BOILERPLATE_SEARCH = _Searcher(_BOILERPLATE_SENTENCE.pattern)


def is_boilerplate_sentence(sentence: str) -> bool:
    """Whether *sentence* is about the page rather than the story (see above)."""
    return _BOILERPLATE_SEARCH.search(sentence.strip().casefold())


def without_boilerplate(sentences: list[str]) -> list[str]:
    """*sentences* but the boilerplate ones, and a question put to the reader just before
    one ("Are you in the storm? Share your photos with us"): the call's lead-in."""
    flags = [is_boilerplate_sentence(s) for s in sentences]
    return [
        s
        for i, s in enumerate(sentences)
        if not flags[i]
        and not (i + 1 < len(flags) and flags[i + 1] and s.rstrip().endswith(("?", "？", "؟")))
    ]


def _without_clutter(line: str) -> str:
    """*line* without its consent notices, prompts, bylines and credits ("" if all)."""
    if not is_boilerplate_sentence(line):
        return line
    return " ".join(without_boilerplate(_ROUGH_SENTENCE.split(line)))


# What a line's key leaves out at its ends: whitespace and these marks.
_KEY_TRIM_END = ":：»›>|•·–—-"
_KEY_TRIM_START = "»›>|•·*–—-"
_SENTENCE_END = re.compile(r"[.。;；။۔][\"'”’»)\]]*$")
_MAX_LINK_LINE = 120  # chars; longer lines are prose, not a linked headline
_MAX_TWIN_LINE = 160  # chars; a short line shown twice in a row is a caption/credit
# Where a line is cut to look for clutter sentences in it: after a full stop and a space.
# It may cut after an abbreviation too; only pieces that are clutter are taken out.
_ROUGH_SENTENCE = re.compile(r"(?<=[.!?。！？။؟])\s+")
_HEADER_LINES = 12  # lines from the top where a repeated headline marks the article start
_BYLINE_LINES = 4  # a byline this near the top (headline, dek, byline) ends the header


def _trim(line: str, marks: str, *, end: bool) -> str:
    while True:
        trimmed = line.rstrip().rstrip(marks) if end else line.lstrip().lstrip(marks)
        if trimmed == line:
            return line
        line = trimmed


def _key(line: str) -> str:
    line = _trim(_trim(line, _KEY_TRIM_END, end=True), _KEY_TRIM_START, end=False)
    return " ".join(line.split()).casefold()


def _is_link_like(line: str) -> bool:
    # Linked headlines are short and, unlike body sentences, do not end with a full stop.
    return len(line) <= _MAX_LINK_LINE and not _SENTENCE_END.search(line.rstrip())


def strip_boilerplate(text: str, *, title: str | None = None, drop: Sequence[str] = ()) -> str:
    """Remove page furniture from plain text as produced by :func:`html_to_text`, and
    the lines given in *drop* (captions)."""
    paragraphs = [p.split("\n") for p in text.split("\n\n")]
    lines = [(n, line.strip()) for n, p in enumerate(paragraphs) for line in p if line.strip()]
    keys = [_key(line) for _, line in lines]
    title_key = _key(title) if title else None
    dropped = {_key(line) for text in drop for line in text.splitlines() if line.strip()}

    # Pages often show the headline twice: in the page header (with the dek and teasers)
    # and again where the article starts. What comes before its last showing near the
    # top is header, not body.
    if title_key:
        head = [i for i, k in enumerate(keys[:_HEADER_LINES]) if k == title_key]
        if head:
            lines, keys = lines[head[-1] :], keys[head[-1] :]
    # A byline just under the headline closes the header: a dek before it is the page's
    # lead-in, not the story's first sentence.
    for i, (_, line) in enumerate(lines[:_BYLINE_LINES]):
        if _BYLINE_LINE.match(line.casefold()):
            lines, keys = lines[i:], keys[i:]
            break

    twins: set[int] = set()
    for i in range(len(lines) - 1):
        if keys[i] and keys[i] == keys[i + 1] and len(lines[i][1]) <= _MAX_TWIN_LINE:
            twins.update((i, i + 1))

    kept: list[list[str]] = [[] for _ in paragraphs]
    seen: set[str] = set()
    in_link_run = False
    seen_prose = False
    for i, (n, line) in enumerate(lines):
        key = keys[i]
        if in_link_run:
            if _is_link_like(line) and not _END_HEADING.fullmatch(key):
                continue
            in_link_run = False
        if _END_HEADING.fullmatch(key):
            # A "Latest" link near the top is site navigation, not the end of the article.
            if seen_prose:
                break
            continue
        if _LINKS_HEADING.fullmatch(key) and _is_link_like(line):
            in_link_run = True
            continue
        line = _without_clutter(line)
        if (
            not line
            or not key
            or _NAV_LINE.fullmatch(key)
            or _LINK_PREFIX.match(key)
            or key == title_key
            or key in dropped
            or key in seen
            or i in twins
        ):
            seen.add(key)
            continue
        seen.add(key)
        kept[n].append(line)
        seen_prose = seen_prose or not _is_link_like(line)
    return "\n\n".join("\n".join(p) for p in kept if p)


def article_body(html: str, *, title: str | None = None) -> str:
    """Return the article's body paragraphs from page or feed *html*, joined by blank lines.

    The headline (when it equals *title*) and what precedes it near the top, captions,
    navigation and share chrome, "Read also"-style link blocks, trailing "Latest"/"Most
    read" lists and duplicated lines are removed. Given the page's own HTML (not yet
    sanitized, which drops classes), elements its classes mark as a dek, byline, caption
    or promotion go too.
    """
    # Captions describe the picture, not the story, wherever the page repeats them.
    captions = [html_to_text(c) for c in _FIGCAPTION.findall(html)]
    text = html_to_text(html, skip_classes=_CLUTTER_CLASSES)
    return strip_boilerplate(text, title=title, drop=captions)


# Classes pages give to what is not the story: the lead-in under the headline, bylines,
# captions and credits, sharing and sign-up boxes, advertising, related links.
_CLUTTER_CLASSES = frozenset(
    {
        "dek", "standfirst", "subtitle", "subheadline", "strapline", "kicker", "byline",
        "author", "caption", "credit", "credits", "share", "sharing", "social-share",
        "newsletter", "promo", "ad", "ads", "advert", "advertisement", "sponsored",
        "cookie-banner", "consent", "related", "related-articles", "read-also", "skip-link",
    }
)  # fmt: skip


_FIGCAPTION = re.compile(r"<figcaption\b[^>]*>(.*?)</figcaption>", re.IGNORECASE | re.DOTALL)
