"""Rendering editions: Jinja2 + premailer once per distinct content, cheap fill-in per subscriber.

`render_edition` produces the HTML (CSS inlined) and text of a digest with placeholders
where per-subscriber values go; `personalize` swaps those in with one regex pass, so a
send to many subscribers pays for templating and CSS inlining only once.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

# Gmail clips messages whose HTML is over 102 KB; keep headroom for the per-subscriber parts.
MAX_HTML_BYTES = 100_000

NAME = "__DIGEST_SUBSCRIBER_NAME__"
UNSUBSCRIBE_URL = "__DIGEST_UNSUBSCRIBE_URL__"
PREFERENCES_URL = "__DIGEST_PREFERENCES_URL__"
_PLACEHOLDER = re.compile("|".join((NAME, UNSUBSCRIBE_URL, PREFERENCES_URL)))


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
    language: str | None = None  # BCP 47; digest.content.is_rtl tells its direction
    image_url: str | None = None


@dataclass(frozen=True)
class DigestContent:
    list_name: str
    date: datetime
    items: tuple[DigestItem, ...]
    latest: tuple[Link, ...] = ()
    omitted: int = 0  # items left out to stay under the size limit
    more: int = 0  # new articles not chosen for the digest (see digest.pipeline.editions)
    more_url: str | None = None  # where the whole edition can be read, if anywhere


@dataclass(frozen=True)
class RenderedEdition:
    subject: str
    html: str
    text: str


def subject_for(content: DigestContent) -> str:
    if not content.items:
        return f"{content.list_name}: no new articles"
    first = " ".join(content.items[0].title.split())
    if len(first) > 100:
        first = first[:99].rstrip() + "…"
    more = len(content.items) + content.omitted + content.more - 1
    return f"{content.list_name}: {first}" + (f" and {more} more" if more else "")


def _date(value: datetime | None) -> str:
    return value.strftime("%-d %b %Y") if value else ""


@lru_cache(maxsize=4)
def environment(templates_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date"] = _date
    return env


def inline_css(document: str) -> str:
    """Move the stylesheet's rules into style attributes, as mail clients need."""
    import premailer  # imported on first render: it costs every CLI command 0.15 s otherwise

    return premailer.Premailer(
        document,
        base_url=None,
        disable_link_rewrites=True,
        keep_style_tags=True,  # media queries for narrow screens only work from a <style>
        remove_classes=False,
        strip_important=False,
        cssutils_logging_level=logging.CRITICAL,
        allow_network=False,
    ).transform(pretty_print=False)


Inliner = Callable[[str], str]


def _render_once(content: DigestContent, env: Environment, inline: Inliner) -> RenderedEdition:
    context = {
        "content": content,
        "subject": subject_for(content),
        "name": NAME,
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "preferences_url": PREFERENCES_URL,
    }
    document = env.get_template("email/digest.html").render(context)
    text = env.get_template("email/digest.txt").render(context)
    return RenderedEdition(subject=context["subject"], html=inline(document), text=text)


def render_edition(
    content: DigestContent, templates_dir: Path, *, inline: Inliner = inline_css
) -> RenderedEdition:
    """Render and inline once; drop trailing items if the HTML would be clipped."""
    env = environment(templates_dir)
    rendered = _render_once(content, env, inline)
    while len(rendered.html.encode()) > MAX_HTML_BYTES and len(content.items) > 1:
        # Trimming by the measured overshoot keeps this to a few renders even for huge input.
        share = len(rendered.html.encode()) / MAX_HTML_BYTES
        keep = max(1, min(len(content.items) - 1, int(len(content.items) / share)))
        dropped = len(content.items) - keep
        content = replace(content, items=content.items[:keep], omitted=content.omitted + dropped)
        rendered = _render_once(content, env, inline)
    return rendered


def personalize(
    rendered: RenderedEdition, *, name: str | None, unsubscribe_url: str, preferences_url: str
) -> tuple[str, str]:
    """The HTML and text of one subscriber's copy."""
    display = name or "there"
    html_values = {
        NAME: html.escape(display),
        UNSUBSCRIBE_URL: html.escape(unsubscribe_url),
        PREFERENCES_URL: html.escape(preferences_url),
    }
    text_values = {
        NAME: display,
        UNSUBSCRIBE_URL: unsubscribe_url,
        PREFERENCES_URL: preferences_url,
    }
    return (
        _PLACEHOLDER.sub(lambda m: html_values[m.group()], rendered.html),
        _PLACEHOLDER.sub(lambda m: text_values[m.group()], rendered.text),
    )
