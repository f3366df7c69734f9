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
        assert summarize(body) == f"{S1} {SHORT} {S2}"

    def test_a_short_sentence_between_is_never_skipped(self) -> None:
        text = (
            "The new ferry to Gull Island will take longer than the old one. "
            "Ninety minutes. "
            "The operator says the slower crossing saves a third of the fuel."
        )
        assert summarize(text) == " ".join(split_sentences(text))

    @pytest.mark.parametrize("source", ["body", "raw_text"])
    def test_no_boilerplate(self, source: str) -> None:
        text = article_body(PAGE, title=TITLE) if source == "body" else html_to_text(PAGE)
        summary = summarize(text, title=TITLE, max_sentences=10, max_words=2000)
        for piece in ["Read also", "Skip to content", "Latest", "Ferry timetable", "Lighthouse"]:
            assert piece not in summary
        assert summary.startswith(S1)

    def test_max_sentences(self) -> None:
        body = article_body(PAGE, title=TITLE)
        assert summarize(body, max_sentences=1) == S1
        assert summarize(body, max_sentences=2) == f"{S1} {SHORT}"

    def test_word_budget_stops_before_exceeding(self) -> None:
        body = article_body(PAGE, title=TITLE)
        assert summarize(body, max_words=20) == f"{S1} {SHORT}"
        assert summarize(body, max_words=10) == S1  # the first sentence is always whole

    def test_long_first_sentence_is_kept_whole(self) -> None:
        sentence = (
            "The harbour board, after a meeting that ran well past midnight and heard from "
            "fishermen, ferry operators, residents and two separate engineering firms, approved "
            "the plan."
        )
        assert summarize(sentence + " It was late.", max_words=10) == sentence

    def test_colon_and_bare_quote_are_never_left_hanging(self) -> None:
        text = (
            "The mayor opened the quay on Friday. She had one message for the crowd:\n"
            '"This harbour is open for business."\n'
            "Then the first ferry docked."
        )
        assert summarize(text, max_sentences=1) == "The mayor opened the quay on Friday."
        assert summarize(text, max_sentences=2).endswith(
            'crowd: "This harbour is open for business."'
        )
        quote_first = (
            'The quay opened on Friday. "This harbour is open for business." '
            "Those were the mayor's words to the crowd. The first ferry docked at noon."
        )
        assert summarize(quote_first, max_sentences=2).endswith("the mayor's words to the crowd.")

    def test_headline_and_dek_are_not_repeated(self) -> None:
        text = f"{TITLE}.\n\nThe board said yes to a bigger harbour.\n\n{S1} {S2}"
        summary = summarize(text, title=TITLE, dek="The board said yes to a bigger harbour.")
        assert summary == f"{S1} {S2}"

    def test_boilerplate_sentences_are_dropped(self) -> None:
        text = (
            f"We use cookies to give you the best experience on our site. {S1}\n\n"
            "Send us your photos and videos of the harbour.\n\n"
            f"{S2}\n\nThis article originally appeared on the Harbour Gazette."
        )
        assert summarize(text, max_words=200) == f"{S1} {S2}"

    def test_cjk_summary(self) -> None:
        text = "新码头将于明年五月开工，预计耗资两亿欧元。市民表示欢迎！港务局称工期约为三年半。"
        assert (
            summarize(text, max_sentences=2, language="zh")
            == "新码头将于明年五月开工，预计耗资两亿欧元。市民表示欢迎！"
        )

    def test_burmese_full_stop(self) -> None:
        text = (
            "မြို့တော်ခန်းမကို ပြန်လည်ဖွင့်လှစ်ခဲ့သည်။ "
            "ပြင်ဆင်မှုလုပ်ငန်း နှစ်နှစ်ကြာခဲ့သည်။ "
            "ဒေသခံများ ဝမ်းသာကြသည်။ နောက်ထပ် စာကြောင်း ရှိသည်။"
        )
        summary = summarize(text, title="မြို့တော်ခန်းမ", language="my")
        assert summary.count("။") == 3
        assert summary.startswith("မြို့တော်ခန်းမကို")

    def test_titles_the_splitter_does_not_know_do_not_end_a_sentence(self) -> None:
        text = "The plan was signed by Cllr. Tomasz Reyes on Monday. Ms. Ida Lund objected."
        assert split_sentences(text) == [
            "The plan was signed by Cllr. Tomasz Reyes on Monday.",
            "Ms. Ida Lund objected.",
        ]

    def test_thai_sentences_end_with_a_space(self) -> None:
        text = "เทศบาลเปิดสะพานใหม่เมื่อวันจันทร์ สะพานยาว 600 เมตร ประชาชนมาร่วมงานจำนวนมาก"
        assert split_sentences(text, "th") == [
            "เทศบาลเปิดสะพานใหม่เมื่อวันจันทร์",
            "สะพานยาว 600 เมตร",
            "ประชาชนมาร่วมงานจำนวนมาก",
        ]
        assert summarize(text, language="th", max_sentences=2) == (
            "เทศบาลเปิดสะพานใหม่เมื่อวันจันทร์ สะพานยาว 600 เมตร"
        )

    def test_german_ordinals_and_legal_references(self) -> None:
        text = (
            "Das Feuer brach im 4. Stock aus. Die Feuerwehr rückte zum 10. Mal aus. "
            "Nach § 5 Abs. 2 der Hausordnung ist Grillen verboten."
        )
        assert split_sentences(text, "de") == [
            "Das Feuer brach im 4. Stock aus.",
            "Die Feuerwehr rückte zum 10. Mal aus.",
            "Nach § 5 Abs. 2 der Hausordnung ist Grillen verboten.",
        ]
        assert summarize(text, language="de") == text

    def test_text_without_full_stops_still_summarised(self) -> None:
        text = "Ferry timetable changes for the whole summer season on every route"
        assert summarize(text) == text

    def test_a_wall_of_words_without_full_stops_is_shortened(self) -> None:
        wall = " ".join(f"word{i}" for i in range(500))
        summary = summarize(wall, max_words=20)
        assert summary.endswith("…") and summary.startswith("word0 word1")
        assert len(summary.split()) == 60

    def test_empty(self) -> None:
        assert summarize("") == ""
        assert summarize("   \n\n ") == ""


def _sentences_of(summary: str, text: str, language: str) -> list[str]:
    """The summary's sentences that are not sentences of *text* (split the same way)."""
    own = set(split_sentences(text, language))
    return [s for s in split_sentences(summary, language) if s not in own]


class TestSummariesInOtherScripts:
    """Pages as the gatherer sees them: the headline again, a dek, page prompts, then the
    story. Every summary sentence must be a sentence of the text, never the headline or
    the dek. Texts written for these tests."""

    CASES = (
        (
            "zh",
            "江北新桥今日通车",
            "全长一点二公里，双向六车道",
            "江北新桥今日通车\n\n全长一点二公里，双向六车道\n\n"
            "登录后可收藏本文。\n\n"
            "江北新桥周一上午正式通车，市民可以步行和骑车过桥。大桥全长一点二公里，"
            "工期三年。市长在通车仪式上说：“这座桥将缩短两岸的距离。”交通部门预计"
            "每天将有四万辆车经过。",
            "江北新桥周一上午正式通车，市民可以步行和骑车过桥。大桥全长一点二公里，工期三年。"
            "市长在通车仪式上说：“这座桥将缩短两岸的距离。”",
        ),
        (
            "ja",
            "北浜駅に新しい改札口",
            "",
            "北浜駅に新しい改札口\n\n有料会員の方のみご利用になれます。\n\n"
            "北浜駅の東側に新しい改札口が十日に開設された。商店街への近道になる。"
            "鉄道会社によると、朝の混雑が二割ほど減る見込みだという。",
            "北浜駅の東側に新しい改札口が十日に開設された。商店街への近道になる。"
            "鉄道会社によると、朝の混雑が二割ほど減る見込みだという。",
        ),
        (
            "ar",
            "افتتاح جسر جديد في مدينة الواحة",
            "الجسر يربط ضفتي النهر",
            "افتتاح جسر جديد في مدينة الواحة\n\nالجسر يربط ضفتي النهر\n\n"
            "افتتح رئيس البلدية صباح الاثنين جسرا جديدا فوق نهر الواحة. ويبلغ طول الجسر "
            "ستمئة متر. هل سيخفف الجسر الزحام؟ يقول المهندسون إن الرحلة ستصبح أقصر بعشر دقائق.",
            "افتتح رئيس البلدية صباح الاثنين جسرا جديدا فوق نهر الواحة. ويبلغ طول الجسر ستمئة متر. "
            "هل سيخفف الجسر الزحام؟",
        ),
        (
            "th",
            "เปิดสะพานใหม่ข้ามแม่น้ำ",
            "",
            "เปิดสะพานใหม่ข้ามแม่น้ำ\n\n"
            "เมื่อวันที่ 3 ม.ค.2569 เวลา 10.00 น. นายสมชาย ใจดี นายกเทศมนตรีเปิดสะพานใหม่ข้ามแม่น้ำ"
            " สะพานยาว 600 เมตร ประชาชนมาร่วมงานจำนวนมาก",
            "เมื่อวันที่ 3 ม.ค.2569 เวลา 10.00 น. นายสมชาย ใจดี นายกเทศมนตรีเปิดสะพานใหม่ข้ามแม่น้ำ"
            " สะพานยาว 600 เมตร",
        ),
        (
            "my",
            "မြို့တော်ခန်းမ ပြန်ဖွင့်",
            "",
            "မြို့တော်ခန်းမ ပြန်ဖွင့်\n\nမြို့တော်ခန်းမကို ပြန်လည်ဖွင့်လှစ်ခဲ့သည်။ ပြင်ဆင်မှုလုပ်ငန်း နှစ်နှစ်ကြာခဲ့သည်။",
            "မြို့တော်ခန်းမကို ပြန်လည်ဖွင့်လှစ်ခဲ့သည်။ ပြင်ဆင်မှုလုပ်ငန်း နှစ်နှစ်ကြာခဲ့သည်။",
        ),
        (
            "ko",
            "한강시 새 다리 개통",
            "",
            "한강시 새 다리 개통\n\n로그인 후 이용할 수 있습니다.\n\n"
            "한강시의 새 다리가 14일 개통했다. 다리 길이는 600미터다. 시민들은 출근 시간이 "
            "줄어들 것이라고 기대했다.",
            "한강시의 새 다리가 14일 개통했다. 다리 길이는 600미터다. 시민들은 출근 시간이 "
            "줄어들 것이라고 기대했다.",
        ),
    )

    @pytest.mark.parametrize(("language", "title", "dek", "text", "expected"), CASES)
    def test_the_summary_is_sentences_of_the_text(
        self, language: str, title: str, dek: str, text: str, expected: str
    ) -> None:
        summary = summarize(text, title=title, dek=dek or None, language=language)
        assert summary == expected
        assert _sentences_of(summary, text, language) == []
        assert not summary.startswith(title)
        assert not dek or not summary.startswith(dek)

    def test_thai_abbreviations_and_titles_do_not_end_a_sentence(self) -> None:
        text = "เวลา 10.00 น. นายสมชาย ใจดี เปิดงาน ประชาชนมาร่วมงานจำนวนมากที่ลานหน้าเทศบาล"
        assert split_sentences(text, "th") == [
            "เวลา 10.00 น. นายสมชาย ใจดี เปิดงาน",
            "ประชาชนมาร่วมงานจำนวนมากที่ลานหน้าเทศบาล",
        ]


@pytest.mark.parametrize(
    ("language", "prompt", "lead"),
    [
        (
            "en",
            "Are you caught in the snow sweeping across the valley? Please share your photos "
            "and videos with us at Reader Desk, but stay safe.",
            "Heavy snow closed the valley road on Tuesday, and the council sent ploughs out "
            "before dawn.",
        ),
        (
            "en",
            "Follow us for updates through the night. Sign up for our newsletter to get the "
            "morning briefing.",
            "Heavy snow closed the valley road on Tuesday, and the council sent ploughs out "
            "before dawn.",
        ),
        (
            "de",
            "Sind Sie auch vom Schnee betroffen? Teilen Sie Ihre Fotos mit uns.",
            "Starker Schneefall hat am Dienstag die Talstraße gesperrt, die Räumdienste "
            "fuhren schon vor dem Morgengrauen aus.",
        ),
        (
            "fr",
            "Vous êtes bloqué par la neige ? Partagez vos photos et vidéos avec la rédaction.",
            "De fortes chutes de neige ont fermé la route de la vallée mardi, et la mairie "
            "a envoyé les chasse-neige avant l'aube.",
        ),
        (
            "es",
            "¿Estás atrapado por la nieve? Comparte tus fotos y videos con nuestra redacción.",
            "Una fuerte nevada cerró el martes la carretera del valle, y el ayuntamiento "
            "envió las quitanieves antes del amanecer.",
        ),
    ],
)
def test_a_call_to_share_or_follow_never_opens_a_summary(
    language: str, prompt: str, lead: str
) -> None:
    # The call to action and the question leading into it are the page's, not the story's.
    text = f"{prompt}\n\n{lead} More snow is expected tonight."
    for from_body in (False, True):
        summary = summarize(text, language=language, max_sentences=1, from_body=from_body)
        assert summary == lead
