"""Language tags of a list (BCP 47) and the direction their script is written in."""

from __future__ import annotations

import re

# Scripts written right to left, by the primary language subtag.
RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur", "ps", "sd", "yi", "dv", "ckb", "ug"})


# A BCP 47 tag as pages and feeds give it: a 2-3 letter primary subtag (or 4-8 letters,
# which the grammar allows), then subtags of 1-8 letters or digits. "en_US" is accepted
# and written "en-US".
_TAG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")


def normalize_tag(tag: str | None) -> str | None:
    """The tag written as BCP 47 ("en_US" becomes "en-US"), or None if it is not one."""
    if not tag:
        return None
    tag = tag.strip().replace("_", "-")
    return tag if _TAG.match(tag) else None


def primary(tag: str) -> str:
    return tag.split("-", 1)[0].lower()


def direction(tag: str | None) -> str:
    """ "rtl" for a right-to-left language, else "ltr"."""
    return "rtl" if tag and primary(tag) in RTL_LANGUAGES else "ltr"


def language_problem(tag: str) -> str | None:
    """What is wrong with a language setting, or None."""
    if normalize_tag(tag) is None:
        return f"{tag!r} is not a language tag; use a BCP 47 tag such as en, de or pt-BR"
    return None
