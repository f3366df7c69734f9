"""What a person chooses on the sign-up and preferences forms, checked: name, schedule and
topics, as the forms write them (so the choice also travels in a confirmation link)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from digest.core.schedule import MONDAY, WEEKDAYS, Schedule, check_schedule, day_of_month_text
from digest.core.topics import normalize_topics
from digest.core.vocabulary import Frequency
from digest.errors import FieldErrors, InvalidField


def clean_name(name: str | None) -> str | None:
    return " ".join(name.split())[:200] or None if name else None


class Chooser(Protocol):
    """What preferences are read from: a subscriber as the store has them (read only, so
    a subscriber's Frequency is the str it is)."""

    @property
    def name(self) -> str | None: ...
    @property
    def frequency(self) -> str: ...
    @property
    def hour(self) -> int: ...
    @property
    def timezone(self) -> str: ...
    @property
    def weekday(self) -> int: ...
    @property
    def day_of_month(self) -> int: ...
    @property
    def topic_names(self) -> list[str]: ...


@dataclass
class Preferences:
    """What a person chooses on the sign-up and preferences forms, as the forms write it
    (weekday a name, day_of_month "1"-"28" or "last"), so it also travels in a link."""

    name: str | None = None
    frequency: str = Frequency.DAILY.value
    hour: int = 7
    timezone: str = "UTC"
    topics: list[str] = field(default_factory=list)
    weekday: str = WEEKDAYS[MONDAY]
    day_of_month: str = "1"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, sub: Chooser) -> Preferences:
        return cls(
            name=sub.name,
            frequency=str(sub.frequency),
            hour=sub.hour,
            timezone=sub.timezone,
            topics=sub.topic_names,
            weekday=WEEKDAYS[sub.weekday],
            day_of_month=day_of_month_text(sub.day_of_month),
        )

    def schedule(self) -> Schedule:
        return check_schedule(
            frequency=self.frequency,
            weekday=self.weekday,
            day_of_month=self.day_of_month,
            hour=self.hour,
            timezone=self.timezone,
        )


SCHEDULE_FIELDS = ("frequency", "weekday", "day_of_month", "hour", "timezone")


def _one(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key)
    return "" if value is None else str(value).strip()


def preferences_from_form(
    form: Mapping[str, Any], topics: Sequence[str], choosable: Sequence[str]
) -> Preferences:
    """Preferences from form fields (name, frequency, weekday, day_of_month, hour, timezone,
    topics), or FieldErrors naming every bad field and why. Blank fields take defaults."""
    errors: dict[str, str] = {}
    given = {key: _one(form, key) for key in SCHEDULE_FIELDS}
    given["frequency"] = given["frequency"].lower()
    given["weekday"] = given["weekday"].lower()
    schedule = None
    # check_schedule names the first bad field; blank it and look again, to show them all.
    for _ in SCHEDULE_FIELDS:
        try:
            schedule = check_schedule(**given)
            break
        except InvalidField as exc:
            errors[exc.field] = exc.reason
            given[exc.field] = ""
    wanted = normalize_topics([str(t) for t in topics])
    unknown = [t for t in wanted if t not in set(choosable)]
    if unknown:
        errors["topics"] = f"no such topic: {', '.join(unknown)}"
    if errors or schedule is None:
        raise FieldErrors(errors)
    return Preferences(
        name=clean_name(_one(form, "name")),
        frequency=schedule.frequency.value,
        hour=schedule.hour,
        timezone=schedule.timezone,
        topics=wanted,
        weekday=schedule.weekday_name,
        day_of_month=schedule.day_of_month_text,
    )
