"""Incident severities, and what an open incident's channel hears about its service
(``incidents.notify_deploys``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from workflows.config.backends import Section

SeverityName = Literal["SEV1", "SEV2", "SEV3", "SEV4"]
SEVERITIES: tuple[SeverityName, ...] = ("SEV1", "SEV2", "SEV3", "SEV4")


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
