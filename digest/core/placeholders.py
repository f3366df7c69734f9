"""What a rendered edition leaves open for each copy, and what a subject line may say.

An edition is rendered once for all who get it, with placeholders where a subscriber's
name and links go; `fill` swaps them in with one regex pass (the mail template splits the
serialised message at the same placeholders). `DIGEST_SUBJECT` is a format string over
`SUBJECT_FIELDS`.
"""

from __future__ import annotations

import html
import re
import string

NAME = "__DIGEST_SUBSCRIBER_NAME__"
UNSUBSCRIBE_URL = "__DIGEST_UNSUBSCRIBE_URL__"
PREFERENCES_URL = "__DIGEST_PREFERENCES_URL__"
_PLACEHOLDER = re.compile("|".join((NAME, UNSUBSCRIBE_URL, PREFERENCES_URL)))


# DIGEST_SUBJECT: a Python format string over these fields.
DEFAULT_SUBJECT = "{list_name}, {date}: {headline}"
SUBJECT_FIELDS = {
    "list_name": "the list's name (DIGEST_LIST_NAME)",
    "date": "the edition's date, in the list's language",
    "headline": "the first article's headline",
    "count": "how many new articles the edition has",
    "more": "how many besides the first",
}


def subject_template_problem(template: str) -> str | None:
    """What is wrong with a DIGEST_SUBJECT value, or None."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return f"{template!r} is not a valid template ({exc}); write fields as {{headline}}"
    unknown = [n for n in names if n not in SUBJECT_FIELDS]
    if unknown:
        known = ", ".join("{" + n + "}" for n in SUBJECT_FIELDS)
        return f"unknown field {{{unknown[0]}}} in {template!r}; use any of {known}"
    return None


def fill(
    html_body: str,
    text_body: str,
    *,
    name: str | None,
    unsubscribe_url: str,
    preferences_url: str,
    anonymous: str = "there",
) -> tuple[str, str]:
    """The HTML and text of one subscriber's copy; `anonymous` greets one with no name."""
    display = name or anonymous
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
        _PLACEHOLDER.sub(lambda m: html_values[m.group()], html_body),
        _PLACEHOLDER.sub(lambda m: text_values[m.group()], text_body),
    )
