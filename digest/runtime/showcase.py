"""A digest that shows what the email template must cope with: items in several scripts and
directions, lead images, "Read also", "Latest", articles left out, a long unbroken word.

Used by the screenshots script (`scripts/screenshots.py`) and the email tests; the places
and events are made up.
"""

from __future__ import annotations

from datetime import UTC, datetime

from digest.render.edition import DigestContent, DigestItem, Link

BASE = "https://news.lakeside.example"
DATE = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)


def _at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


SHOWCASE = DigestContent(
    list_name="Lakeside Weekly",
    date=DATE,
    items=(
        DigestItem(
            title="Night trams return to the lakeside line after a year of track works",
            url=f"{BASE}/en/night-trams",
            source="Lakeside Gazette",
            published=_at(26, 18),
            author="Ines Varga",
            summary="From Friday, trams run every twenty minutes until two in the morning "
            "between the station and the ferry pier. The operator says the new rails make "
            "the ride quieter for the houses along the shore.",
            read_also=(
                Link("Track works close the shore road for the summer", f"{BASE}/en/works"),
                Link("Council approves the night timetable", f"{BASE}/en/timetable"),
            ),
            language="en",
            image_url=f"{BASE}/images/tram.jpg",
        ),
        DigestItem(
            title="افتتاح مكتبة جديدة في الحي القديم",
            url=f"{BASE}/ar/library",
            source="صحيفة البحيرة",
            published=_at(26, 9),
            author=None,
            summary="تفتح المكتبة أبوابها يوم السبت، وفيها قاعة للأطفال وركن للصحف المحلية. "
            "وتقول البلدية إن المبنى كان مخزنًا للحبوب قبل مئة عام.",
            read_also=(Link("ترميم المخزن القديم يبدأ في الربيع", f"{BASE}/ar/granary"),),
            language="ar",
            image_url=f"{BASE}/images/library.jpg",
        ),
        DigestItem(
            title="湖畔の花火大会、今年は十月に開催",
            url=f"{BASE}/ja/fireworks",
            source="湖畔新聞",
            published=_at(25, 12),
            author=None,
            summary="実行委員会によると、雨の多い八月を避けて日程を変更した。"
            "会場は例年どおり北側の桟橋周辺となる。",
            language="ja",
        ),
        DigestItem(
            title="מרוץ הסירות השנתי נדחה בשבוע",
            url=f"{BASE}/he/regatta",
            source="חדשות האגם",
            published=_at(25, 8),
            author=None,
            summary="בגלל רוחות חזקות הצפויות בסוף השבוע, המארגנים העבירו את המרוץ לשבת הבאה.",
            language="he",
            image_url=f"{BASE}/images/regatta.jpg",
        ),
        DigestItem(
            title="ရေကန်ဘေး စာကြည့်တိုက် ပြန်ဖွင့်ပြီ",
            url=f"{BASE}/my/reading-room",
            source="ရေကန် သတင်း",
            published=_at(24, 10),
            author=None,
            summary="စာကြည့်တိုက်ကို စနေနေ့တိုင်း နံနက် ကိုးနာရီမှ ညနေ ငါးနာရီအထိ ဖွင့်မည်။",
            language="my",
        ),
        DigestItem(
            title="Neue Fähre verbindet die beiden Inseln",
            url=f"{BASE}/de/faehre",
            source="Seebote",
            published=_at(24, 7),
            author="Jonas Keller",
            summary="Die Fähre fährt ab Dezember stündlich und nimmt auch Fahrräder mit.",
            language="de",
        ),
        DigestItem(
            title="Harbour office publishes its list of berth fees",
            url=f"{BASE}/en/berth-fees?utm_source=feed&page=1",
            source="Harbour Office",
            published=None,
            author=None,
            summary="The full list is at "
            "harbouroffice.lakeside.example/documents/berth-fees-2027-final-version.pdf "
            "and covers every pier.",
            language=None,
        ),
    ),
    latest=(
        Link("Market hall gets a new roof", f"{BASE}/en/roof", "Lakeside Gazette"),
        Link("سوق السمك يغيّر مواعيده", f"{BASE}/ar/fish-market", "صحيفة البحيرة"),
    ),
    more=3,
    more_url=f"{BASE}/archive/2026-11-27",
)
