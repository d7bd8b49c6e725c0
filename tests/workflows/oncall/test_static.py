"""The static rotation's arithmetic: deterministic, gap-free, round the list, and keeping
its local handoff time across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.config.oncall import StaticRotation
from workflows.oncall.static import StaticRotations, handoff_at, turn_at

USERS = ["U0BOB", "U0CAROL", "U0ERIN"]


def rotation(**overrides: object) -> StaticRotation:
    fields: dict[str, object] = {
        "provider": "static",
        "users": USERS,
        "handoff": "09:00",
        "timezone": "Europe/Berlin",
        "length": "7d",
        "start": "2026-01-05",
    }
    fields.update(overrides)
    return StaticRotation.model_validate(fields)


def test_turns_go_round_the_list_at_the_local_handoff() -> None:
    weekly = rotation()
    provider = StaticRotations()
    at = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # 09:00 Berlin: the first handoff
    answer = provider.who_is_on_call(target=weekly, at=at)
    assert [s.person.slack_user for s in answer.now] == ["U0BOB"]
    assert [s.person.slack_user for s in answer.next] == ["U0CAROL"]
    assert answer.now[0].end == datetime(2026, 1, 12, 8, 0, tzinfo=UTC)
    just_before = provider.who_is_on_call(target=weekly, at=at - timedelta(seconds=1))
    assert [s.person.slack_user for s in just_before.now] == ["U0ERIN"]  # turn -1 wraps
    fourth = provider.who_is_on_call(target=weekly, at=at + timedelta(weeks=3, hours=1))
    assert [s.person.slack_user for s in fourth.now] == ["U0BOB"]


def test_handoff_keeps_local_time_across_daylight_saving() -> None:
    daily = rotation(length="1d", start="2026-03-27")
    berlin = ZoneInfo("Europe/Berlin")
    before = handoff_at(daily, 0).astimezone(berlin)  # Friday, CET
    after = handoff_at(daily, 3).astimezone(berlin)  # Monday, CEST
    assert (before.hour, before.minute) == (after.hour, after.minute) == (9, 0)
    assert handoff_at(daily, 3) - handoff_at(daily, 0) == timedelta(days=3, hours=-1)


def test_a_handoff_in_the_spring_gap_still_moves_forward() -> None:
    gap = rotation(length="1d", start="2026-03-28", handoff="02:30")
    assert handoff_at(gap, 0) < handoff_at(gap, 1) < handoff_at(gap, 2)


moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=200, deadline=None)
@given(
    at=moments,
    days=st.integers(min_value=1, max_value=28),
    people=st.integers(min_value=1, max_value=5),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
    hour=st.integers(min_value=0, max_value=23),
    start=st.dates(min_value=date(2010, 1, 1), max_value=date(2040, 1, 1)),
)
def test_exactly_one_turn_covers_every_moment(
    at: datetime, days: int, people: int, zone: str, hour: int, start: date
) -> None:
    schedule = rotation(
        users=[f"U0P{n}" for n in range(people)],
        length=f"{days}d",
        timezone=zone,
        handoff=f"{hour:02d}:30",
        start=start.isoformat(),
    )
    turn = turn_at(schedule, at)
    assert handoff_at(schedule, turn) <= at < handoff_at(schedule, turn + 1)
    answer = StaticRotations().who_is_on_call(target=schedule, at=at)
    (now,), (upcoming,) = answer.now, answer.next
    assert now.person.slack_user == schedule.users[turn % people]
    assert now.end == upcoming.start  # no gap, no overlap
    assert upcoming.person.slack_user == schedule.users[(turn + 1) % people]
    # Deterministic: asking again, or anywhere inside the same turn, gives the same turn.
    assert turn_at(schedule, at) == turn
    assert now.start is not None and turn_at(schedule, now.start) == turn
