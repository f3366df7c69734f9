"""Tests for digest.content.summarize: sentence splitting and lead summaries."""

from __future__ import annotations

import pytest

from digest.content import article_body, html_to_text, split_sentences, summarize

TITLE = "Harbour expansion gets the green light"
S1 = "The port board approved the long-debated expansion of the north harbour on Monday."
S2 = "Work on a new 400-metre quay will start in May and is expected to cost €212.5 million."
S3 = "Mr. Okafor, who chairs the board, said the quay would let larger ferries dock by 2028."
S4 = "Residents of the Saltmarsh estate have asked for a noise barrier along the access road."
SHORT = "It passed."

PAGE = f"""<html><body>
<p>Skip to content</p>
<h1>{TITLE}</h1>
<p>{S1} {SHORT} {S2}</p>
<p>Read also:</p>
<ul><li><a href="/a">Ferry timetable changes for the summer season</a></li>
<li><a href="/b">New fish market opens on the east pier</a></li></ul>
<p>{S3}</p>
<p>{S4}</p>
<h2>Latest</h2>
<ul><li>Lighthouse museum extends its opening hours this winter</li></ul>
</body></html>"""


class TestSplitSentences:
    def test_basic(self) -> None:
        assert split_sentences("One thing. Another thing! A third? Yes.") == [
            "One thing.",
            "Another thing!",
            "A third?",
            "Yes.",
        ]

    def test_abbreviations_titles_and_numbers(self) -> None:
        text = (
            "Mr. Okafor met Dr. Lind at St. Olaf's quay. "
            "The ticket rose 6.79 per cent, e.g. from 2.40 to 2.56. "
            "Berth No. 5 reopens in Jan. next year."
        )
        assert split_sentences(text) == [
            "Mr. Okafor met Dr. Lind at St. Olaf's quay.",
            "The ticket rose 6.79 per cent, e.g. from 2.40 to 2.56.",
            "Berth No. 5 reopens in Jan. next year.",
        ]

    def test_initials_and_dotted_acronyms(self) -> None:
        text = (
            "The plans were drawn by J. K. Marsh for a U.S. operator. "
            "The ferry leaves at 9 a.m. The return trip is at noon."
        )
        assert split_sentences(text) == [
            "The plans were drawn by J. K. Marsh for a U.S. operator.",
            "The ferry leaves at 9 a.m.",
            "The return trip is at noon.",
        ]

    def test_quotes(self) -> None:
        text = '"The quay is overdue," she said. He replied: "We agree." The vote followed.'
        assert split_sentences(text) == [
            '"The quay is overdue," she said.',
            'He replied: "We agree."',
            "The vote followed.",
        ]

    def test_question_inside_quote_followed_by_lowercase(self) -> None:
        assert split_sentences('"Is it ready?" she asked. It was.') == [
            '"Is it ready?" she asked.',
            "It was.",
        ]

    def test_cjk(self) -> None:
        assert split_sentences("新码头明年开工。市民表示欢迎！票价会涨吗？") == [
            "新码头明年开工。",
            "市民表示欢迎！",
            "票价会涨吗？",
        ]

    def test_spanish_inverted_marks(self) -> None:
        assert split_sentences("¿Cuándo abre el muelle? ¡En mayo! Lo dijo la alcaldesa.") == [
            "¿Cuándo abre el muelle?",
            "¡En mayo!",
            "Lo dijo la alcaldesa.",
        ]

    def test_paragraphs_and_lines_are_boundaries(self) -> None:
        text = "Heading without stop\n\nFirst sentence here\ncontinues on a new line.\nNext item"
        assert split_sentences(text) == [
            "Heading without stop",
            "First sentence here continues on a new line.",
            "Next item",
        ]

    def test_empty(self) -> None:
        assert split_sentences("") == []
        assert split_sentences(" \n\n ") == []


class TestSummarize:
    def test_lead_of_fixture_body(self) -> None:
        body = article_body(PAGE, title=TITLE)
        assert summarize(body) == f"{S1} {S2} {S3}"

    def test_short_sentences_skipped(self) -> None:
        assert SHORT not in summarize(article_body(PAGE, title=TITLE))

    @pytest.mark.parametrize("source", ["body", "raw_text"])
    def test_no_boilerplate(self, source: str) -> None:
        text = article_body(PAGE, title=TITLE) if source == "body" else html_to_text(PAGE)
        summary = summarize(text, max_sentences=10, max_chars=2000)
        for piece in ["Read also", "Skip to content", "Latest", "Ferry timetable", "Lighthouse"]:
            assert piece not in summary
        assert summary.startswith(S1)

    def test_max_sentences(self) -> None:
        body = article_body(PAGE, title=TITLE)
        assert summarize(body, max_sentences=1) == S1
        assert summarize(body, max_sentences=2) == f"{S1} {S2}"

    def test_max_chars_stops_before_exceeding(self) -> None:
        body = article_body(PAGE, title=TITLE)
        limit = len(S1) + 1 + len(S2) + 5  # room for two sentences, not three
        summary = summarize(body, max_chars=limit)
        assert summary == f"{S1} {S2}"
        assert len(summary) <= limit

    def test_long_first_sentence_cut_at_word_boundary(self) -> None:
        sentence = (
            "The harbour board, after a meeting that ran well past midnight and heard from "
            "fishermen, ferry operators, residents and two separate engineering firms, approved "
            "the plan."
        )
        summary = summarize(sentence, max_chars=60)
        assert summary.endswith("…")
        assert len(summary) <= 60
        assert sentence.startswith(summary[:-1])
        assert sentence[len(summary) - 1] == " "

    def test_cjk_summary(self) -> None:
        text = "新码头将于明年五月开工，预计耗资两亿欧元。市民表示欢迎！港务局称工期约为三年半。"
        assert (
            summarize(text, max_sentences=2)
            == "新码头将于明年五月开工，预计耗资两亿欧元。港务局称工期约为三年半。"
        )

    def test_text_without_full_stops_still_summarised(self) -> None:
        text = "Ferry timetable changes for the whole summer season on every route"
        assert summarize(text) == text

    def test_empty(self) -> None:
        assert summarize("") == ""
        assert summarize("   \n\n ") == ""
