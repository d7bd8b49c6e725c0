"""Time math of reports: fire times of a cron trigger and DST-correct report windows.

Windows are measured in calendar days of the report's time zone, not in multiples of 24
hours: a daily report at 09:00 Europe/Berlin covers 09:00 yesterday to 09:00 today, which
is 23 or 25 hours on the days the clocks change. Consecutive runs therefore tile time
exactly: nothing is counted twice and nothing falls between two reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

# How far back "the latest fire time" is looked for. A report whose cron fires less than
# once in this span (29 February) simply has no missed run to catch up.
LOOKBACK = timedelta(days=400)


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC, described in ``timezone`` for people."""

    start: datetime
    end: datetime
    timezone: str

    @property
    def zoneinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def as_json(self) -> dict[str, str]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "timezone": self.timezone,
        }


def local_days_before(end: datetime, *, days: int, timezone: str) -> datetime:
    """The instant ``days`` calendar days before ``end`` on the wall clock of ``timezone``.

    A wall time that does not exist (inside a spring-forward gap) resolves as Python's
    ``fold=0`` does: with the offset in force before the change.
    """
    zone = ZoneInfo(timezone)
    local = end.astimezone(zone)
    earlier = (local.replace(tzinfo=None) - timedelta(days=days)).replace(tzinfo=zone)
    return earlier.astimezone(UTC)


def window_before(end: datetime, *, days: int, timezone: str) -> Window:
    """The ``days`` calendar days (in ``timezone``) up to ``end``."""
    return Window(local_days_before(end, days=days, timezone=timezone), end, timezone)


def day_boundaries(window: Window) -> list[datetime]:
    """The start of each local calendar day slice of ``window`` plus its end: for a 7-day
    window, 8 instants, each slice running from one boundary to the next."""
    days = 0
    while local_days_before(window.end, days=days + 1, timezone=window.timezone) >= window.start:
        days += 1
    return [
        local_days_before(window.end, days=days - n, timezone=window.timezone)
        for n in range(days + 1)
    ]


def next_fire_time(trigger: BaseTrigger, after: datetime) -> datetime | None:
    """The first fire time at or after ``after``."""
    return trigger.get_next_fire_time(None, after)


def latest_fire_time(
    trigger: BaseTrigger, *, at_or_before: datetime, not_before: datetime | None = None
) -> datetime | None:
    """The latest fire time of ``trigger`` that is ``<= at_or_before`` (and
    ``>= not_before``, default ``LOOKBACK`` earlier), or None if there is none.

    APScheduler only computes forward. ``next_fire_time(x)`` is monotonic in ``x``, so the
    latest fire time F is ``next_fire_time(x*)`` for the largest ``x*`` whose next fire time
    is still ``<= at_or_before``; a binary search to one second finds it in about 25 steps
    however often the cron fires (cron fire times are at least a minute apart).
    """
    low = not_before if not_before is not None else at_or_before - LOOKBACK
    first = next_fire_time(trigger, low)
    if first is None or first > at_or_before:
        return None
    high = at_or_before
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        candidate = next_fire_time(trigger, middle)
        if candidate is not None and candidate <= at_or_before:
            low = middle
        else:
            high = middle
    found = next_fire_time(trigger, low)
    assert found is not None and found <= at_or_before
    return found.astimezone(UTC)
