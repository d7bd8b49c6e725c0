"""Incident severities (who is paged, how often an update is due) and what an open
incident's channel hears about its service (``incidents.notify_deploys``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from workflows.config.section import Section
from workflows.config.types import Duration

SeverityName = Literal["SEV1", "SEV2", "SEV3", "SEV4"]
SEVERITIES: tuple[SeverityName, ...] = ("SEV1", "SEV2", "SEV3", "SEV4")
_DEFAULT_UPDATE_EVERY = {"SEV1": "15m", "SEV2": "30m", "SEV3": "2h", "SEV4": "1d"}


class NotifyDeploys(Section):
    """What an open incident's channel hears about its service: every deploy (one message
    kept current), lock, unlock and break-glass. docs/incidents.md, "Incident channels"."""

    environments: list[str] | None = Field(
        default=None,
        description="Environments whose deploys and locks are posted; null (the default) = "
        "every environment, [] = none (off).",
    )
    severities: list[SeverityName] = Field(
        default_factory=lambda: list(SEVERITIES[:3]),
        description="Incidents of these severities hear about their service; default: not SEV4.",
    )

    def wants(self, *, severity: str, environment: str) -> bool:
        """Whether an incident of ``severity`` hears about a change in ``environment``."""
        if severity not in self.severities:
            return False
        return self.environments is None or environment in self.environments


class SeverityPolicy(Section):
    """Who is paged into an incident of this severity and how often it wants an update."""

    responders: list[str] = Field(default_factory=list, description="Group names or user ids.")
    oncall: list[str] = Field(
        default_factory=list, description="On-call schedules whose people are invited too."
    )
    update_every: Duration


class Severities(Section):
    """Settings for each of the four severities; the ones left out keep their defaults."""

    SEV1: SeverityPolicy = SeverityPolicy(update_every=timedelta(minutes=15))
    SEV2: SeverityPolicy = SeverityPolicy(update_every=timedelta(minutes=30))
    SEV3: SeverityPolicy = SeverityPolicy(update_every=timedelta(hours=2))
    SEV4: SeverityPolicy = SeverityPolicy(update_every=timedelta(days=1))

    @model_validator(mode="before")
    @classmethod
    def _default_update_every(cls, data: Any) -> Any:
        # A severity given without update_every keeps its own default, not a generic one.
        if not isinstance(data, dict):
            return data
        filled = dict(data)
        for name, policy in data.items():
            if isinstance(policy, dict) and name in _DEFAULT_UPDATE_EVERY:
                filled[name] = {"update_every": _DEFAULT_UPDATE_EVERY[name], **policy}
        return filled
