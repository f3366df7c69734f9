"""The digest's few fixed strings in the list's language (`DIGEST_LANGUAGE`), and the
language facts the templates need: which tags are right-to-left, how dates are written.

A language missing here falls back to English for the strings; dates are written by Babel
for any language it knows. Add a language by adding one dictionary with the same keys
(a test checks that every catalogue has them all).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from digest.core.languages import primary

# Keys ending in _one / _other are chosen by the count (English-style plural rule; the
# Arabic strings are phrased so that one form reads right for every number).
CATALOGUES: dict[str, dict[str, str]] = {
    "en": {
        "inside": "In this edition: {headlines}",
        "greeting": "Hello {name}, here is what is new.",
        "anonymous": "there",
        "count_one": "{count} new article",
        "count_other": "{count} new articles",
        "read_at": "Read the article at {source}",
        "read": "Read the whole article",
        "read_also": "Read also",
        "left_out_one": "{count} more article was left out to keep this email short.",
        "left_out_other": "{count} more articles were left out to keep this email short.",
        "more_one": "And {count} more article in this edition.",
        "more_other": "And {count} more articles in this edition.",
        "full_edition": "Read the full edition on the web",
        "latest": "Latest",
        "why": "You receive {list_name} because you subscribed to it.",
        "sent_by": "Sent by {sender}.",
        "preferences": "Change your preferences",
        "unsubscribe": "Unsubscribe",
        "image": "Picture: {title}",
        "no_articles": "no new articles",
    },
    "de": {
        "inside": "In dieser Ausgabe: {headlines}",
        "greeting": "Hallo {name}, hier ist das Neueste.",
        "anonymous": "zusammen",
        "count_one": "{count} neuer Artikel",
        "count_other": "{count} neue Artikel",
        "read_at": "Den Artikel bei {source} lesen",
        "read": "Den ganzen Artikel lesen",
        "read_also": "Lesen Sie auch",
        "left_out_one": "{count} weiterer Artikel fehlt, damit diese E-Mail kurz bleibt.",
        "left_out_other": "{count} weitere Artikel fehlen, damit diese E-Mail kurz bleibt.",
        "more_one": "Und {count} weiterer Artikel in dieser Ausgabe.",
        "more_other": "Und {count} weitere Artikel in dieser Ausgabe.",
        "full_edition": "Die ganze Ausgabe im Web lesen",
        "latest": "Neu erschienen",
        "why": "Sie erhalten {list_name}, weil Sie es abonniert haben.",
        "sent_by": "Gesendet von {sender}.",
        "preferences": "Einstellungen ändern",
        "unsubscribe": "Abbestellen",
        "image": "Bild: {title}",
        "no_articles": "keine neuen Artikel",
    },
    "ar": {
        "inside": "في هذا العدد: {headlines}",
        "greeting": "مرحبًا {name}، إليك الجديد.",
        "anonymous": "بك",
        "count_one": "عدد المقالات الجديدة: {count}",
        "count_other": "عدد المقالات الجديدة: {count}",
        "read_at": "اقرأ المقال على {source}",
        "read": "اقرأ المقال كاملًا",
        "read_also": "اقرأ أيضًا",
        "left_out_one": "حُذفت مقالات أخرى ليبقى هذا البريد قصيرًا، عددها: {count}.",
        "left_out_other": "حُذفت مقالات أخرى ليبقى هذا البريد قصيرًا، عددها: {count}.",
        "more_one": "في هذا العدد مقالات أخرى، عددها: {count}.",
        "more_other": "في هذا العدد مقالات أخرى، عددها: {count}.",
        "full_edition": "اقرأ العدد كاملًا على الويب",
        "latest": "الأحدث",
        "why": "تصلك {list_name} لأنك اشتركت فيها.",
        "sent_by": "أرسلتها {sender}.",
        "preferences": "غيّر تفضيلاتك",
        "unsubscribe": "إلغاء الاشتراك",
        "image": "صورة: {title}",
        "no_articles": "لا مقالات جديدة",
    },
}


class Messages:
    """The strings of one language: `t("count", count=3)` picks the plural form."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.strings = CATALOGUES.get(primary(language), CATALOGUES["en"])
        # Strings in English when the list's language has no catalogue: their own lang.
        self.strings_language = language if primary(language) in CATALOGUES else "en"

    def __call__(self, key: str, count: int | None = None, **fields: Any) -> str:
        if count is not None:
            key = f"{key}_one" if count == 1 else f"{key}_other"
            fields["count"] = count
        return self.strings[key].format(**fields)

    def date(self, value: datetime | None) -> str:
        return format_date(value, self.language)


@lru_cache(maxsize=16)
def messages(language: str) -> Messages:
    return Messages(language)


def format_date(value: datetime | None, language: str) -> str:
    """A short date in the language's own way ("27 Nov 2026", "27. Nov. 2026")."""
    if value is None:
        return ""
    from babel import Locale, UnknownLocaleError
    from babel.dates import format_skeleton

    try:
        locale = Locale.parse(language, sep="-")
    except (UnknownLocaleError, ValueError):
        locale = Locale.parse("en")
    if locale.language == "en" and not locale.territory:
        return value.strftime("%-d %b %Y")  # neither the US nor the UK order: unambiguous
    return format_skeleton("yMMMd", value, locale=locale)
