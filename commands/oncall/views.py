"""Block Kit of on-call: the ``/incident oncall`` answer, a page's message and the
message listing a severity's on-call responders. Pure functions of typed data and stored
rows; a provider's text (names, emails, errors) is always escaped, and a person becomes a
mention only when shipbot knows their Slack user id."""

from __future__ import annotations

from typing import Any

from commands.common.reply import context, escape, section
from commands.incidents.views import when
from workflows.oncall.base import OnCallShift
from workflows.oncall.lookup import ScheduleAnswer
from workflows.oncall.models import OnCallPage

Blocks = list[dict[str, Any]]
PROVIDER_NAMES = {"pagerduty": "PagerDuty", "opsgenie": "Opsgenie", "static": "rotation"}


def person(user: str | None, name: str | None) -> str:
    """A mention for a known Slack user, else the provider's name, escaped."""
    if user:
        return f"<@{user}>"
    return escape(name or "someone")


def _shift(shift: OnCallShift, *, upcoming: bool) -> str:
    text = person(shift.person.slack_user, shift.person.name)
    if shift.level > 1:
        text = f"{text} (level {shift.level})"
    if upcoming and shift.start is not None:
        return f"{text} from {when(shift.start)}"
    if not upcoming and shift.end is not None:
        return f"{text} until {when(shift.end)}"
    return text


def _schedule_lines(answer: ScheduleAnswer) -> str:
    title = f"*{escape(answer.schedule)}* ({PROVIDER_NAMES.get(answer.provider, answer.provider)})"
    if answer.error is not None or answer.oncall is None:
        reason = escape(answer.error or "no answer")
        return f"{title}\n:warning: Could not tell who is on call: {reason}."
    now = ", ".join(_shift(s, upcoming=False) for s in answer.oncall.now) or "_nobody_"
    upcoming = ", ".join(_shift(s, upcoming=True) for s in answer.oncall.next) or "_not known_"
    return f"{title}\n*Now:* {now}\n*Next:* {upcoming}"


def oncall_answer(answers: list[ScheduleAnswer], *, asked_for: str | None) -> tuple[str, Blocks]:
    """The ephemeral answer to ``/incident oncall [service]``."""
    heading = f"Who is on call for {escape(asked_for)}" if asked_for else "Who is on call"
    if not answers:
        text = "No on-call schedules are configured (see `oncall` in the config)."
        return text, [section(text)]
    lines = [_schedule_lines(answer) for answer in answers]
    text = f"{heading}:\n" + "\n".join(lines)
    return text, [section(f"*{heading}*"), *[section(line) for line in lines]]


_STATUS = {
    "sending": ":hourglass_flowing_sand: sending the page…",
    "triggered": ":rotating_light: triggered, waiting for someone to acknowledge",
    "resolved": ":white_check_mark: resolved in PagerDuty",
}


def page_message(page: OnCallPage) -> tuple[str, Blocks]:
    """The channel message of one page, re-rendered as it is sent and acknowledged."""
    head = (
        f"{person(page.requested_by, None)} paged *{escape(page.schedule)}* through "
        f"PagerDuty: {escape(page.message)}"
    )
    if page.status == "acknowledged":
        by = person(page.acknowledged_by_user, page.acknowledged_by_name)
        at = f" at {when(page.acknowledged_at)}" if page.acknowledged_at else ""
        state = f":white_check_mark: acknowledged by {by}{at}"
    elif page.status == "failed":
        state = (
            f":warning: the page was not sent: {escape(page.error or 'unknown error')}. "
            "Page by hand in PagerDuty."
        )
    else:
        state = _STATUS.get(page.status, escape(page.status))
    blocks = [section(head), context(state)]
    return f"{head}\n{state}", blocks


def _strings(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def responders_message(stored: list[dict[str, object]], severity: str) -> tuple[str, Blocks]:
    """Who was on call for the severity's schedules when the channel opened."""
    lines = []
    for data in stored:
        schedule = escape(str(data.get("schedule")))
        if data.get("error"):
            lines.append(
                f":warning: *{schedule}*: could not tell who is on call "
                f"({escape(str(data['error']))}). "
                f"Page by hand: `/incident page {schedule} <message>`"
            )
            continue
        users = [f"<@{u}>" for u in _strings(data.get("users"))]
        others = [escape(n) for n in _strings(data.get("unmapped"))]
        invited = ", ".join(users) + (" (invited)" if users else "")
        unknown = (f"; not in Slack's directory: {', '.join(others)}") if others else ""
        lines.append(f"*{schedule}*: {invited or '_nobody shipbot can invite_'}{unknown}")
    text = f"On call for this {escape(severity)} incident:\n" + "\n".join(lines)
    return text, [section(text)]
