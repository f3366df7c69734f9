"""Secrets kept out of what is shown: URLs are printed and logged without their password."""

from __future__ import annotations

import re

_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*):[^/?#]*@")


def mask_url(url: str) -> str:
    """The URL with its password (if any) replaced by ``***``, fit for messages and logs."""
    return _PASSWORD.sub(r"\1:***@", url)
