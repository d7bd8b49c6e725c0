"""The one seam every on-call provider implements, and the values it answers with.

A provider is asked ``who_is_on_call(target=<schedule config>, at=<aware datetime>)`` and
answers an ``OnCallNow``: the people on call at ``at`` and the people whose turn comes
next. Providers return people as the provider knows them (name, email, or a Slack user
id for the static rotation); ``lookup`` maps emails to Slack users. A provider that cannot
answer raises ``ProviderError`` with a reason fit to show (no secret, no body dump); the
callers turn it into a message, never into a failed declare or a failed command.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from workflows.config.oncall import OpsgenieSchedule, PagerDutySchedule, StaticRotation

ScheduleConfig = PagerDutySchedule | OpsgenieSchedule | StaticRotation
Trouble = Literal["timeout", "unreachable", "unauthorized", "server_error", "refused", "bad_answer"]


class ProviderError(Exception):
    """A provider did not answer usefully. ``trouble`` says how; ``message`` is safe to show."""

    def __init__(self, provider: str, trouble: Trouble, detail: str = "") -> None:
        self.provider = provider
        self.trouble = trouble
        self.detail = detail
        super().__init__(self.message)

    @property
    def message(self) -> str:
        said = {
            "timeout": "did not answer in time",
            "unreachable": "could not be reached",
            "unauthorized": "refused shipbot's credentials (check the token)",
            "server_error": "had an internal error",
            "refused": "refused the request",
            "bad_answer": "answered something shipbot could not read",
        }[self.trouble]
        return f"{self.provider} {said}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class OnCallPerson:
    """Someone on call. ``name`` and ``email`` are the provider's text (untrusted);
    ``slack_user`` is a Slack user id when shipbot knows it."""

    name: str
    email: str | None = None
    slack_user: str | None = None


@dataclass(frozen=True)
class OnCallShift:
    """One person's turn; ``start``/``end`` None when the provider does not say."""

    person: OnCallPerson
    start: datetime | None = None
    end: datetime | None = None
    level: int = 1


@dataclass(frozen=True)
class OnCallNow:
    """Who is on call at a moment, and whose turn comes next."""

    now: tuple[OnCallShift, ...]
    next: tuple[OnCallShift, ...] = ()


class OnCallProvider(Protocol):
    """Answers who is on call for one kind of schedule config."""

    def who_is_on_call(self, *, target: ScheduleConfig, at: datetime) -> OnCallNow:
        """The people on call at ``at`` (aware) and the next ones; ``ProviderError`` if
        the provider cannot say."""
        ...
