"""Business time: how much of an interval falls in working hours, and when a budget of
working time runs out.

A :class:`BusinessCalendar` is a time zone, weekly spans (``mon 09:00-17:00``) and
whole-day holidays. Spans are local wall-clock times, so a daylight-saving change
moves them with the clock, as a team's day does. ``ALWAYS`` counts every second.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from hub.operations.settings import DAYS, CalendarSettings, parse_span

__all__ = ["ALWAYS", "BusinessCalendar"]

_HORIZON_DAYS = 800


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Working hours in a time zone; an empty week means around the clock."""

    zone: zoneinfo.ZoneInfo
    week: tuple[tuple[tuple[time, time], ...], ...]
    holidays: frozenset[date] = frozenset()

    @classmethod
    def from_settings(cls, settings: CalendarSettings) -> BusinessCalendar:
        week: list[tuple[tuple[time, time], ...]] = []
        for day in DAYS:
            spans = [parse_span(s) for s in settings.hours.get(day, ())]
            week.append(tuple(sorted(s for s in spans if s is not None)))
        return cls(zoneinfo.ZoneInfo(settings.timezone), tuple(week), frozenset(settings.holidays))

    @property
    def always(self) -> bool:
        return not any(self.week)

    def _windows(self, day: date) -> list[tuple[datetime, datetime]]:
        if day in self.holidays:
            return []
        out = []
        for start, end in self.week[day.weekday()]:
            a = datetime.combine(day, start, self.zone).astimezone(UTC)
            if end == time.max:
                b = datetime.combine(day + timedelta(days=1), time(0), self.zone).astimezone(UTC)
            else:
                b = datetime.combine(day, end, self.zone).astimezone(UTC)
            out.append((a, b))
        return out

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Working seconds in ``[start, end)`` (0 if ``end`` is not after ``start``)."""
        if end <= start:
            return 0.0
        if self.always:
            return (end - start).total_seconds()
        total = 0.0
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        last = end.astimezone(self.zone).date()
        while day <= last:
            for a, b in self._windows(day):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of working time after ``start`` have passed."""
        if self.always or seconds <= 0:
            return start + timedelta(seconds=max(seconds, 0.0))
        left = seconds
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(_HORIZON_DAYS):
            for a, b in self._windows(day):
                lo = max(a, start)
                if b <= lo:
                    continue
                span = (b - lo).total_seconds()
                if span >= left:
                    return lo + timedelta(seconds=left)
                left -= span
            day += timedelta(days=1)
        raise ValueError("the calendar has no working hours in the next two years")


ALWAYS = BusinessCalendar(zoneinfo.ZoneInfo("UTC"), ((),) * 7)
