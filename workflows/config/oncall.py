"""The ``oncall`` section: who is on call, from PagerDuty, Opsgenie or a static rotation.

Provider credentials are written once per provider (``oncall.pagerduty``,
``oncall.opsgenie``) as ``${ENV_VAR}`` references, like every other secret in the file;
each schedule names its provider with the ``provider`` key. ``services`` maps a service
to the schedule that answers for it.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from workflows.config.section import Section
from workflows.config.types import Duration, HttpUrl, Name, Timezone, UserId

if TYPE_CHECKING:
    from workflows.config.models import ShipbotConfig

_PD_ID_RE = re.compile(r"P[A-Z0-9]{5,13}")
_HANDOFF_RE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
Problem = tuple[str, str]


def _pagerduty_id(value: str | None) -> str | None:
    if value is not None and not _PD_ID_RE.fullmatch(value):
        raise PydanticCustomError("id_format", f"{value!r} is not a PagerDuty id (like 'PWEB123')")
    return value


class PagerDutyAccount(Section):
    """PagerDuty's REST API (who is on call, who acknowledged) and Events API v2 (paging)."""

    token: SecretStr | None = Field(
        default=None, description="REST API token (read access); written as ${ENV_VAR}."
    )
    api_url: HttpUrl = "https://api.pagerduty.com"
    events_url: HttpUrl = "https://events.pagerduty.com"
    poll_every: Duration = Field(
        default=timedelta(seconds=15),
        description="How often a page asks PagerDuty whether it was acknowledged.",
    )


class OpsgenieAccount(Section):
    """Opsgenie's REST API (who is on call)."""

    api_key: SecretStr = Field(description="A GenieKey with read access; written as ${ENV_VAR}.")
    api_url: HttpUrl = "https://api.opsgenie.com"


class PagerDutySchedule(Section):
    """A PagerDuty schedule or escalation policy (exactly one of the two ids)."""

    provider: Literal["pagerduty"]
    schedule_id: str | None = None
    escalation_policy_id: str | None = None
    routing_key: SecretStr | None = Field(
        default=None,
        description="Events API v2 integration key of the PagerDuty service a page of "
        "this schedule triggers; written as ${ENV_VAR}.",
    )

    @field_validator("schedule_id", "escalation_policy_id")
    @classmethod
    def _check_ids(cls, value: str | None) -> str | None:
        return _pagerduty_id(value)

    @model_validator(mode="after")
    def _one_target(self) -> PagerDutySchedule:
        if (self.schedule_id is None) == (self.escalation_policy_id is None):
            raise PydanticCustomError(
                "oncall_target", "give exactly one of schedule_id and escalation_policy_id"
            )
        return self


class OpsgenieSchedule(Section):
    """An Opsgenie schedule, by its id."""

    provider: Literal["opsgenie"]
    schedule_id: str = Field(min_length=1, max_length=100)


class StaticRotation(Section):
    """People taking turns, computed locally: ``users[0]`` is on call from ``start`` at
    ``handoff`` for ``length``, then ``users[1]``, and so on round the list."""

    provider: Literal["static"]
    users: list[UserId] = Field(min_length=1)
    handoff: str = Field(default="09:00", description="Local time of each handoff, HH:MM.")
    timezone: Timezone = "UTC"
    length: Duration = Field(
        default=timedelta(days=7), description="How long each turn lasts: whole days ('7d')."
    )
    start: date = Field(description="The date users[0]'s first turn begins (YYYY-MM-DD).")

    @field_validator("handoff")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if not _HANDOFF_RE.fullmatch(value):
            raise PydanticCustomError("handoff", f"expected a time as HH:MM, got {value!r}")
        return value

    @field_validator("length")
    @classmethod
    def _whole_days(cls, value: timedelta) -> timedelta:
        if value % timedelta(days=1):
            raise PydanticCustomError(
                "rotation_length",
                "a rotation lasts whole days ('1d', '7d'): handoffs keep their local time "
                "across daylight-saving changes",
            )
        return value

    def handoff_time(self) -> time:
        hours, minutes = self.handoff.split(":")
        return time(int(hours), int(minutes))


Schedule = Annotated[
    PagerDutySchedule | OpsgenieSchedule | StaticRotation, Field(discriminator="provider")
]
PROVIDERS: dict[str, type[Section]] = {
    "opsgenie": OpsgenieSchedule,
    "pagerduty": PagerDutySchedule,
    "static": StaticRotation,
}


class OnCall(Section):
    """Who is on call: provider accounts, schedules, and which schedule answers for a service."""

    pagerduty: PagerDutyAccount | None = None
    opsgenie: OpsgenieAccount | None = None
    timeout: Duration = Field(
        default=timedelta(seconds=2),
        description="Give up on a provider after this (answers then say it did not answer).",
    )
    schedules: dict[Name, Schedule] = Field(default_factory=dict)
    services: dict[str, str] = Field(
        default_factory=dict, description="Service name -> schedule name."
    )


def oncall_problems(config: ShipbotConfig) -> list[Problem]:
    """Dangling names in ``oncall`` and in the severities' ``oncall`` lists."""
    from workflows.config.refs import _hint

    oncall = config.oncall
    problems: list[Problem] = []
    for name, schedule in oncall.schedules.items():
        if (
            schedule.provider in ("pagerduty", "opsgenie")
            and getattr(oncall, schedule.provider) is None
        ):
            problems.append(
                (
                    f"oncall.schedules.{name}.provider",
                    f"{schedule.provider} is not configured (add oncall.{schedule.provider})",
                )
            )
    for service, schedule_name in oncall.services.items():
        if service not in config.services:
            problems.append(
                (
                    f"oncall.services.{service}",
                    f"unknown service {service!r}" + _hint(service, config.services),
                )
            )
        if schedule_name not in oncall.schedules:
            problems.append(
                (
                    f"oncall.services.{service}",
                    f"unknown schedule {schedule_name!r}" + _hint(schedule_name, oncall.schedules),
                )
            )
    for severity in ("SEV1", "SEV2", "SEV3", "SEV4"):
        for index, ref in enumerate(config.incidents.severity(severity).oncall):
            if ref not in oncall.schedules:
                problems.append(
                    (
                        f"incidents.severities.{severity}.oncall.{index}",
                        f"unknown on-call schedule {ref!r}" + _hint(ref, oncall.schedules),
                    )
                )
    return problems
