"""Scalar types of the shipbot config: durations, cron expressions, time zones, Slack ids, URLs.

Each is an ``Annotated`` type whose validator raises ``PydanticCustomError`` with a message
written for the person editing the YAML file (the loader prints it after the field's path).
Their JSON Schema is a plain ``string`` on purpose: a pattern would reject the
``${VAR}`` interpolation forms that editors see in the raw file.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import Annotated
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger
from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

_DURATION_RE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
USER_ID_RE = re.compile(r"[UW][A-Z0-9]{2,}")
USERGROUP_ID_RE = re.compile(r"S[A-Z0-9]{2,}")
CHANNEL_ID_RE = re.compile(r"[CG][A-Z0-9]{2,}")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def parse_duration(text: str) -> timedelta:
    """Parse ``"90s"``, ``"15m"``, ``"4h"``, ``"2d"`` or a combination such as ``"1h30m"``.

    Units go from largest to smallest, each at most once. Raises ``ValueError`` otherwise.
    """
    match = _DURATION_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ValueError(
            f"invalid duration {text!r} (expected e.g. '90s', '15m', '4h', '2d' or '1h30m')"
        )
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest config spelling of ``value`` (``timedelta(minutes=90)`` -> ``"1h30m"``)."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _to_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "duration",
            f"expected a duration string such as '90s', '15m' or '4h', got {type(value).__name__}",
        )
    try:
        duration = parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", str(exc)) from None
    if duration <= timedelta(0):
        raise PydanticCustomError("duration", "duration must be longer than zero")
    return duration


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_duration),
    # Dumped to JSON (and shown as schema defaults) the way it is written in the file.
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "description": "A duration: '90s', '15m', '4h', '2d' or combinations like '1h30m'.",
            "examples": ["90s", "15m", "1h30m"],
        }
    ),
]


@cache
def _timezone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, _timezone_names(), n=1)
        hint = (
            f" (did you mean {close[0]!r}?)"
            if close
            else " (expected an IANA name such as 'Europe/Berlin')"
        )
        raise PydanticCustomError("timezone", f"unknown timezone {name!r}{hint}") from None
    return name


Timezone = Annotated[str, AfterValidator(_check_timezone)]


_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _cron_day(token: str, expr: str) -> int:
    """A crontab day of week: 0-7 (0 and 7 are Sunday) or a name (SUN, mon)."""
    if token.lower() in _CRON_DAYS:
        return _CRON_DAYS.index(token.lower())
    if token.isdigit() and int(token) <= 7:
        return int(token)
    raise ValueError(f"invalid cron expression {expr!r}: {token!r} is not a day of week")


def _standard_days_of_week(field: str, expr: str) -> str:
    """The crontab day-of-week ``field`` (Sunday = 0 or 7, ranges, lists, steps, names)
    as the explicit day names APScheduler reads the same way: its numbers start at
    Monday = 0, and its ranges do not wrap past Sunday."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        body, slash, step_text = part.partition("/")
        if slash and not (step_text.isdigit() and int(step_text) > 0):
            raise ValueError(f"invalid cron expression {expr!r}: bad step in {part!r}")
        step = int(step_text) if slash else 1
        if body == "*":
            first, last = 0, 6
        elif "-" in body:
            low, _, high = body.partition("-")
            first, last = _cron_day(low, expr), _cron_day(high, expr)
            last = 7 if last == 0 and first > 0 else last  # FRI-SUN
        else:
            first = _cron_day(body, expr)
            last = 6 if slash else first  # "1/2": from Monday on, every other day
        if last < first:
            raise ValueError(f"invalid cron expression {expr!r}: {body!r} runs backwards")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_CRON_DAYS[day] for day in sorted(days))


def cron_trigger(expr: str, timezone: str = "UTC") -> CronTrigger:
    """An APScheduler trigger for a 5-field crontab expression, with crontab's meaning.

    Days of week are read as crontab reads them (0 and 7 are Sunday, ``1-5`` is Monday to
    Friday) and handed to APScheduler as names, since its numbers start at Monday = 0.
    A day of month and a day of week both restricted would mean "either" to cron and
    "both" to APScheduler, so that is refused with a way out. Raises ``ValueError``.
    """
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(
            f"invalid cron expression {expr!r}: expected 5 fields "
            f"(minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    minute, hour, day, month, day_of_week = fields
    if day != "*" and day_of_week != "*":
        raise ValueError(
            f"invalid cron expression {expr!r}: cron runs it on day {day} of the month OR "
            f"on {day_of_week}; write two entries, one with each (and * in the other field)"
        )
    days_of_week = _standard_days_of_week(day_of_week, expr)
    try:
        return CronTrigger.from_crontab(
            f"{minute} {hour} {day} {month} {days_of_week}", timezone=timezone
        )
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expr!r}: {exc}") from None


def _check_cron(expr: str) -> str:
    try:
        cron_trigger(expr)
    except ValueError as exc:
        raise PydanticCustomError("cron", str(exc)) from None
    return expr


Cron = Annotated[
    str,
    AfterValidator(_check_cron),
    WithJsonSchema(
        {
            "type": "string",
            "description": "A 5-field crontab expression, read as crontab reads it "
            "(days of week 0-7 with 0 and 7 Sunday, or names).",
            "examples": ["0 9 * * 1-5", "0 9 * * MON-FRI"],
        }
    ),
]


def _pattern_checker(pattern: re.Pattern[str], what: str, example: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise PydanticCustomError("id_format", f"{value!r} is not {what} (like {example!r})")
        return value

    return check


UserId = Annotated[str, AfterValidator(_pattern_checker(USER_ID_RE, "a Slack user id", "U0ALICE"))]
UsergroupId = Annotated[
    str, AfterValidator(_pattern_checker(USERGROUP_ID_RE, "a Slack user-group id", "S0SRE"))
]
ChannelId = Annotated[
    str, AfterValidator(_pattern_checker(CHANNEL_ID_RE, "a Slack channel id", "C0DEPLOYS"))
]
Name = Annotated[str, AfterValidator(_pattern_checker(_NAME_RE, "a valid name", "web-api"))]


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PydanticCustomError("url", f"{value!r} is not an http(s) URL")
    return value


HttpUrl = Annotated[str, AfterValidator(_check_url)]


def is_channel_id(ref: str) -> bool:
    """True if ``ref`` looks like a raw Slack channel id (``C...`` or ``G...``)."""
    return CHANNEL_ID_RE.fullmatch(ref) is not None


def is_user_id(ref: str) -> bool:
    """True if ``ref`` looks like a Slack user id (``U...`` or ``W...``)."""
    return USER_ID_RE.fullmatch(ref) is not None
