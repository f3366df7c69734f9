"""Rendering editions: Jinja2 + premailer once per distinct content, cheap fill-in per subscriber.

`render_edition` produces the HTML (CSS inlined) and text of a digest with placeholders
where per-subscriber values go; `personalize` swaps those in with one regex pass, so a
send to many subscribers pays for templating and CSS inlining only once.

Templates come from `DIGEST_TEMPLATES_DIR` first and the ones installed with the package
second, so an admin's folder overrides only the files it holds; `check_templates` tries
them all at start-up, so a broken one is named there rather than at send time.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    select_autoescape,
)

from digest.core.languages import direction, normalize_tag
from digest.core.placeholders import (
    DEFAULT_SUBJECT,
    NAME,
    PREFERENCES_URL,
    UNSUBSCRIBE_URL,
    fill,
)
from digest.errors import ConfigError
from digest.render import default_templates_dir
from digest.render.catalogue import messages

# Gmail clips messages whose HTML is over 102 KB; keep headroom for the per-subscriber parts.
MAX_HTML_BYTES = 100_000


HEADLINE_MAX = 100
PREHEADER_HEADLINES = 3


@dataclass(frozen=True)
class Link:
    title: str
    url: str | None
    source: str | None = None


@dataclass(frozen=True)
class DigestItem:
    title: str
    url: str | None
    source: str
    published: datetime | None
    author: str | None
    summary: str
    read_also: tuple[Link, ...] = ()
    language: str | None = None  # BCP 47, as the page or feed declared it; None: unknown
    image_url: str | None = None  # the lead image, shown by URL (never embedded)


@dataclass(frozen=True)
class DigestContent:
    list_name: str
    date: datetime
    items: tuple[DigestItem, ...]
    latest: tuple[Link, ...] = ()
    omitted: int = 0  # items left out to stay under the size limit
    more: int = 0  # articles of the edition left out of the email (by DIGEST_MAX_ARTICLES)
    more_url: str | None = None  # the full edition in the web archive


@dataclass(frozen=True)
class Mailing:
    """What the list says about itself around the articles: its language, who sends it,
    its postal address, and the subject line's template."""

    language: str = "en"
    sender: str = ""  # "Name <address>", as DIGEST_FROM
    postal_address: str | None = None
    subject: str = DEFAULT_SUBJECT

    @property
    def anonymous(self) -> str:
        """What the greeting calls a subscriber with no name ("Hello there")."""
        return messages(self.language)("anonymous")

    @property
    def sender_shown(self) -> str:
        name, address = parseaddr(self.sender)
        if name and address:
            return f"{name} ({address})"
        return address or name


@dataclass(frozen=True)
class RenderedEdition:
    subject: str
    html: str
    text: str


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _shorten(text: str, limit: int) -> str:
    text = _one_line(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def subject_for(content: DigestContent, mailing: Mailing | None = None) -> str:
    """The subject line: DIGEST_SUBJECT filled in, on one line whatever the feeds hold."""
    mailing = mailing or Mailing()
    t = messages(mailing.language)
    count = len(content.items) + content.omitted + content.more
    headline = _shorten(content.items[0].title, HEADLINE_MAX) if content.items else ""
    if not content.items:
        return _one_line(f"{content.list_name}: {t('no_articles')}")
    return _one_line(
        mailing.subject.format(
            list_name=content.list_name,
            date=t.date(content.date),
            headline=headline,
            count=count,
            more=count - 1,
        )
    )


def _date(value: datetime | None) -> str:
    return value.strftime("%-d %b %Y") if value else ""


@lru_cache(maxsize=16)
def environment(templates_dir: Path, folder: str = "") -> Environment:
    """Templates from `templates_dir`/`folder`, then from the installed ones for any file
    the first lacks: an admin's folder holds only the templates it changes."""
    search = [templates_dir / folder if folder else templates_dir]
    installed = default_templates_dir()
    if installed.resolve() != templates_dir.resolve():
        search.append(installed / folder if folder else installed)
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(path) for path in search]),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date"] = _date
    return env


def inline_css(document: str) -> str:
    """Move the stylesheet's rules into style attributes, as mail clients need.

    The first <style> is inlined and removed: the layout must hold where a client drops
    <style> elements. One marked data-premailer="ignore" (media queries, dark mode) is kept.
    """
    import premailer  # imported on first render: it costs every CLI command 0.15 s otherwise

    return premailer.Premailer(
        document,
        base_url=None,
        disable_link_rewrites=True,
        keep_style_tags=False,
        remove_classes=False,  # the kept <style> finds elements by class
        strip_important=False,
        cssutils_logging_level=logging.CRITICAL,
        allow_network=False,
        # Our own stylesheet, checked by the tests: cssutils' validation of every property
        # costs half the inlining time and changes nothing it would print.
        disable_validation=True,
    ).transform(pretty_print=False)


Inliner = Callable[[str], str]


def _image(url: str | None) -> str | None:
    """Only web images by URL: a data: or file: URL would embed or leak."""
    if url and url.lower().startswith(("https://", "http://")) and len(url) <= 2000:
        return url
    return None


@dataclass(frozen=True)
class ItemView:
    """An item as the templates show it: its language and direction settled."""

    item: DigestItem
    lang: str
    dir: str
    image_url: str | None
    image_alt: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.item, name)


def _views(content: DigestContent, mailing: Mailing) -> list[ItemView]:
    t = messages(mailing.language)
    views = []
    for item in content.items:
        # Unknown: the list's language is the best guess (most feeds are in it).
        lang = normalize_tag(item.language) or mailing.language
        views.append(
            ItemView(
                item=item,
                lang=lang,
                dir=direction(lang),
                image_url=_image(item.image_url),
                image_alt=t("image", title=_shorten(item.title, 80)),
            )
        )
    return views


def _context(content: DigestContent, mailing: Mailing) -> dict[str, Any]:
    t = messages(mailing.language)
    total = len(content.items) + content.omitted + content.more
    return {
        "content": content,
        "items": _views(content, mailing),
        "subject": subject_for(content, mailing),
        # Each headline isolated (FSI ... PDI): one in Arabic does not reorder its neighbours.
        "preheader": " · ".join(
            f"\u2068{_shorten(i.title, 80)}\u2069" for i in content.items[:PREHEADER_HEADLINES]
        ),
        "total": total,
        "lang": mailing.language,
        "dir": direction(mailing.language),
        "strings_lang": t.strings_language,
        "t": t,
        "date": t.date(content.date),
        "sender": mailing.sender_shown,
        "postal_address": mailing.postal_address,
        "name": NAME,
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "preferences_url": PREFERENCES_URL,
    }


def _render_once(
    content: DigestContent, env: Environment, inline: Inliner, mailing: Mailing
) -> RenderedEdition:
    context = _context(content, mailing)
    document = env.get_template("email/digest.html").render(context)
    text = env.get_template("email/digest.txt").render(context)
    return RenderedEdition(subject=context["subject"], html=inline(document), text=text)


def render_edition(
    content: DigestContent,
    templates_dir: Path,
    *,
    inline: Inliner = inline_css,
    mailing: Mailing | None = None,
) -> RenderedEdition:
    """Render and inline once; drop trailing items if the HTML would be clipped."""
    mailing = mailing or Mailing()
    env = environment(templates_dir)
    rendered = _render_once(content, env, inline, mailing)
    while len(rendered.html.encode()) > MAX_HTML_BYTES and len(content.items) > 1:
        # Trimming by the measured overshoot keeps this to a few renders even for huge input.
        share = len(rendered.html.encode()) / MAX_HTML_BYTES
        keep = max(1, min(len(content.items) - 1, int(len(content.items) / share)))
        dropped = len(content.items) - keep
        content = replace(content, items=content.items[:keep], omitted=content.omitted + dropped)
        rendered = _render_once(content, env, inline, mailing)
    return rendered


def personalize(
    rendered: RenderedEdition,
    *,
    name: str | None,
    unsubscribe_url: str,
    preferences_url: str,
    anonymous: str = "there",
) -> tuple[str, str]:
    """The HTML and text of one subscriber's copy; `anonymous` greets one with no name
    (in the list's language: `Mailing.anonymous`)."""
    return fill(
        rendered.html,
        rendered.text,
        name=name,
        unsubscribe_url=unsubscribe_url,
        preferences_url=preferences_url,
        anonymous=anonymous,
    )


# --- start-up check of the templates ------------------------------------------------------

_SAMPLE_DATE = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
SAMPLE_CONTENT = DigestContent(
    list_name="Sample",
    date=_SAMPLE_DATE,
    items=(
        DigestItem(
            title="Harbour bridge opens",
            url="https://example.org/bridge",
            source="Example News",
            published=_SAMPLE_DATE,
            author="A. Writer",
            summary="The new bridge opened on Monday.",
            read_also=(Link("Bridge work begins", "https://example.org/work", "Example News"),),
            language="en",
            image_url="https://example.org/bridge.jpg",
        ),
        DigestItem("افتتاح الجسر", None, "", None, None, "", language="ar"),
    ),
    latest=(Link("Market day", "https://example.org/market", "Example News"),),
    omitted=1,
    more=2,
    more_url="https://example.org/archive/1",
)
_SAMPLE_MAIL = {
    "list_name": "Sample",
    "name": "Sam",
    "email": "sam@example.org",
    "preferences_url": "https://example.org/preferences/x",
    "unsubscribe_url": "https://example.org/unsubscribe/x",
    "confirm_url": "https://example.org/confirm/x",
    "confirm_days": 7,
}
TRANSACTIONAL = ("confirm", "welcome", "preferences")
SETTING = "DIGEST_TEMPLATES_DIR"


def _where(filename: str | None, line: int | None, reason: str) -> ConfigError:
    place = filename or "a template"
    if line:
        place += f", line {line}"
    return ConfigError(f"{SETTING}: {place}: {reason}")


def _runtime_problem(exc: Exception) -> ConfigError:
    """The template file and line an error was raised at (Jinja puts them in the trace)."""
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith((".html", ".txt"))
    ]
    frame = frames[-1] if frames else None
    reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, TemplateError) else str(exc)
    return _where(frame.filename if frame else None, frame.lineno if frame else None, reason)


def check_templates(templates_dir: Path, mailing: Mailing | None = None) -> None:
    """Compile every template and try the mail ones on sample data; raise ConfigError
    naming the file, the line and the reason for the first that fails."""
    if not templates_dir.is_dir():
        raise ConfigError(f"{SETTING}: {templates_dir} is not a folder")
    for folder in ("email", "web"):
        env = environment(templates_dir, folder)
        for name in env.list_templates(extensions=("html", "txt")):
            try:
                env.get_template(name)
            except TemplateSyntaxError as exc:
                raise _where(exc.filename, exc.lineno, exc.message or str(exc)) from None
            except UnicodeDecodeError as exc:
                raise _where(f"{folder}/{name}", None, f"not UTF-8 text ({exc.reason})") from None
    try:
        render_edition(SAMPLE_CONTENT, templates_dir, inline=lambda d: d, mailing=mailing)
        env = environment(templates_dir, "email")
        for kind in TRANSACTIONAL:
            for suffix in (".html", ".txt"):
                env.get_template(kind + suffix).render(_SAMPLE_MAIL)
    except ConfigError:
        raise
    except Exception as exc:  # whatever a template raises, it is the template's fault
        raise _runtime_problem(exc) from None
