"""Business hours of the support team (timezone-aware, from ``data/business_hours.yml``)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.yamlfile import read_yaml

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class HoursError(ValueError):
    """``business_hours.yml`` is missing, malformed or inconsistent (the message names the file and key)."""


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours per weekday in one timezone, holidays, and the handoff timers."""

    timezone: zoneinfo.ZoneInfo
    hours: tuple[tuple[dt.time, dt.time] | None, ...]  # index 0 = Monday; None = closed
    holidays: frozenset[dt.date]
    escalate_after: dt.timedelta
    close_silent_after: dt.timedelta

    def is_open(self, now: dt.datetime) -> bool:
        """Whether the team works at ``now`` (an aware datetime, or naive UTC)."""
        local = _aware(now).astimezone(self.timezone)
        if local.date() in self.holidays:
            return False
        span = self.hours[local.weekday()]
        return span is not None and span[0] <= local.time() < span[1]

    def next_open(self, now: dt.datetime) -> dt.datetime:
        """The next moment the team starts work, in the business timezone (``now`` if open now)."""
        local = _aware(now).astimezone(self.timezone)
        if self.is_open(local):
            return local
        for offset in range(0, 15):
            day = local.date() + dt.timedelta(days=offset)
            span = self.hours[day.weekday()]
            if span is None or day in self.holidays:
                continue
            start = dt.datetime.combine(day, span[0], tzinfo=self.timezone)
            if start > local:
                return start
        raise HoursError("business hours never open in the next two weeks")


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def _minutes(document: dict[str, Any], key: str, path: Path) -> dt.timedelta:
    value = document.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise HoursError(f"{path}: {key} must be a positive number of minutes")
    return dt.timedelta(minutes=value)


def _span(value: Any, day: str, path: Path) -> tuple[dt.time, dt.time] | None:
    if value == "closed":
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise HoursError(f'{path}: hours.{day} must be ["HH:MM", "HH:MM"] or closed')
    times = []
    for text in value:
        found = _TIME.match(text)
        if found is None:
            raise HoursError(f"{path}: hours.{day}: {text!r} is not a HH:MM time")
        times.append(dt.time(int(found.group(1)), int(found.group(2))))
    if times[0] >= times[1]:
        raise HoursError(f"{path}: hours.{day}: opening must be before closing")
    return times[0], times[1]


def load_hours(path: Path) -> BusinessHours:
    """Read and check the business hours file.

    Raises:
        HoursError: with the file name and the offending key.
    """
    document = read_yaml(path, HoursError)
    if not isinstance(document, dict):
        raise HoursError(f"{path}: expected a mapping")
    try:
        timezone = zoneinfo.ZoneInfo(str(document.get("timezone")))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise HoursError(f"{path}: timezone {document.get('timezone')!r} is not an IANA timezone") from None
    hours = document.get("hours")
    if not isinstance(hours, dict) or set(hours) != set(WEEKDAYS):
        raise HoursError(f"{path}: hours must list every weekday ({', '.join(WEEKDAYS)})")
    holidays = set()
    for item in document.get("holidays") or []:
        try:
            holidays.add(item if isinstance(item, dt.date) else dt.date.fromisoformat(str(item)))
        except ValueError:
            raise HoursError(f"{path}: holidays: {item!r} is not a YYYY-MM-DD date") from None
    spans = tuple(_span(hours[day], day, path) for day in WEEKDAYS)
    if all(span is None for span in spans):
        raise HoursError(f"{path}: the team is closed every day")
    return BusinessHours(
        timezone=timezone,
        hours=spans,
        holidays=frozenset(holidays),
        escalate_after=_minutes(document, "escalate_after_minutes", path),
        close_silent_after=_minutes(document, "close_silent_after_minutes", path),
    )
