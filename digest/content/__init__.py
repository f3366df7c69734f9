"""Article content processing: cleaning, lead summaries, language and "Read also" links."""

from digest.content.clean import article_body, html_to_text, sanitize_html
from digest.content.language import article_language, is_rtl
from digest.content.related import Doc, related_for_all
from digest.content.summarize import split_sentences, summarize

__all__ = [
    "Doc",
    "article_body",
    "article_language",
    "html_to_text",
    "is_rtl",
    "related_for_all",
    "sanitize_html",
    "split_sentences",
    "summarize",
]
