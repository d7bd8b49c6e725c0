"""The shipbot config models (pydantic v2). ``ShipbotConfig`` is the root.

Names that point elsewhere in the file (groups, environments, channels) are checked in
``workflows.config.refs`` once every field is valid, so each error names its own path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from workflows.audit.anchors import AuditConfig
from workflows.backends.settings import DeployBackend
from workflows.config.hooks import Hooks
from workflows.config.oncall import OnCall
from workflows.config.section import Section, owner_slash_name
from workflows.config.severities import SEVERITIES as SEVERITIES  # re-exported
from workflows.config.severities import NotifyDeploys, Severities
from workflows.config.severities import SeverityName as SeverityName  # re-exported
from workflows.config.severities import SeverityPolicy as SeverityPolicy  # re-exported
from workflows.config.sources import Source
from workflows.config.trackers import AfterIncidents
from workflows.config.types import (
    ChannelId,
    Cron,
    Duration,
    HttpUrl,
    Name,
    Timezone,
    UsergroupId,
    UserId,
    cron_trigger,
    is_channel_id,
    is_user_id,
)
from workflows.errors import NotFound

_BLOCK_DEPLOYS_BY_DEFAULT: tuple[SeverityName, ...] = ("SEV1", "SEV2")


class User(Section):
    """A person in the optional user directory (keyed by Slack user id)."""

    name: str
    display_name: str | None = None
    email: str | None = Field(default=None, description="Matches on-call providers' users.")


class Group(Section):
    """A named set of people: Slack user ids and Slack user-group ids (expanded at runtime)."""

    users: list[UserId] = Field(default_factory=list)
    usergroups: list[UsergroupId] = Field(default_factory=list)


class Approval(Section):
    """Who must approve a deploy to an environment before it runs."""

    required: int = Field(default=0, ge=0, description="Approvals needed; 0 = none.")
    from_groups: list[str] = Field(default_factory=list, description="Empty = anyone.")
    allow_self_approval: bool = False
    ttl: Duration = Field(default=timedelta(hours=4), description="A request expires after this.")
    remind_every: Duration | None = Field(
        default=timedelta(minutes=30), description="Nudge approvers; null = never."
    )


class FreezeWindow(Section):
    """A recurring window in which deploys need break-glass.

    It opens at each ``cron`` time and stays open for ``duration``.
    """

    cron: Cron
    duration: Duration
    timezone: Timezone = "UTC"
    reason: str = ""

    def trigger(self) -> CronTrigger:
        """When the window opens, in its time zone."""
        return cron_trigger(self.cron, self.timezone)


class BreakGlass(Section):
    """Who may deploy through a freeze window or a blocking incident (always audited)."""

    groups: list[str] = Field(default_factory=list)


class Locks(Section):
    """Who may lock an environment against deploys, and who may lift someone else's lock.

    The person who placed a lock may always remove it; so may the environment's
    break-glass members."""

    lockers: list[str] | None = Field(
        default=None,
        description="Group names or user ids; null = whoever may deploy there (deployers).",
    )
    unlockers: list[str] = Field(
        default_factory=list,
        description="Group names or user ids who may also remove anyone's lock.",
    )


class Environment(Section):
    """A deploy target such as staging or production."""

    order: int = Field(description="Promotion order: lower comes first.")
    deployers: list[str] = Field(
        default_factory=list, description="Group names or user ids; empty = anyone."
    )
    approval: Approval = Field(default_factory=Approval)
    freeze_windows: list[FreezeWindow] = Field(default_factory=list)
    requires_success_in: str | None = Field(
        default=None, description="A version must have succeeded in this environment first."
    )
    break_glass: BreakGlass = Field(default_factory=BreakGlass)
    locks: Locks = Field(default_factory=Locks)


class HealthCheck(Section):
    """Polled after a deploy; the deploy fails if it is not healthy by ``deadline``."""

    url: HttpUrl
    expected_status: int = Field(default=200, ge=100, le=599)
    retries: int = Field(default=3, ge=0)
    interval: Duration = timedelta(seconds=10)
    deadline: Duration = timedelta(minutes=2)


class Service(Section):
    """Something shipbot deploys."""

    team: str | None = None
    alerts_channel: str | None = Field(default=None, description="Channel name or id.")
    environments: list[str] | None = Field(default=None, description="Default: all of them.")
    deploy: DeployBackend
    health_check: HealthCheck | None = None
    source: Source | None = Field(
        default=None, description="Where the code is: deploys show the commits they ship."
    )
    channel: str | None = Field(
        default=None,
        description="CI failures, releases and external deploys; default alerts_channel, "
        "then the deploys channel.",
    )
    repository: str | None = Field(
        default=None, description="GitHub owner/name whose events are this service's."
    )
    argocd_applications: dict[str, str] = Field(
        default_factory=dict, description="Argo CD application -> environment."
    )

    @field_validator("repository")
    @classmethod
    def _owner_slash_name(cls, value: str | None) -> str | None:
        return None if value is None else owner_slash_name(value)

    def github_repository(self) -> str | None:
        """The repository mapped to this service: ``repository``, else ``source.github``."""
        return self.repository or getattr(self.source, "github", None)


class Incidents(AfterIncidents):
    """Incident channels, severities, who may declare and run incidents, and what happens
    after one (archive, follow-ups: ``AfterIncidents``)."""

    channel_prefix: str = Field(default="inc", pattern=r"^[a-z0-9][a-z0-9_-]{0,20}$")
    announce_channel: str | None = Field(
        default=None,
        description="Channel name or id. Default: the channel named 'incidents', if defined.",
    )
    block_deploys_severities: list[SeverityName] = Field(
        default_factory=lambda: list(_BLOCK_DEPLOYS_BY_DEFAULT)
    )
    severities: Severities = Field(default_factory=Severities)
    notify_deploys: NotifyDeploys = Field(default_factory=NotifyDeploys)
    declarers: list[str] = Field(
        default_factory=list,
        description="Who may declare: group names or user ids; empty = anyone.",
    )
    managers: list[str] = Field(
        default_factory=list,
        description="Group names or user ids who may change or resolve any incident.",
    )

    def severity(self, name: SeverityName) -> SeverityPolicy:
        """The policy of one severity."""
        policy: SeverityPolicy = getattr(self.severities, name)
        return policy


class AlertSource(Section):
    """How one webhook source authenticates its requests."""

    auth: Literal["bearer", "hmac", "sns", "pagerduty"]
    token: SecretStr | None = None
    secret: SecretStr | None = None
    secrets: list[SecretStr] = Field(default_factory=list, description="For rotation.")
    header: str | None = Field(default=None, description="Header carrying the token/signature.")
    topics: list[str] = Field(
        default_factory=list,
        description="sns: accepted TopicArns; empty = any topic AWS signed (set this).",
    )

    @model_validator(mode="after")
    def _credentials_for_auth(self) -> AlertSource:
        if self.auth == "bearer" and self.token is None:
            raise PydanticCustomError("auth", "auth 'bearer' needs a token")
        if self.auth in ("hmac", "pagerduty") and not self.all_secrets():
            raise PydanticCustomError("auth", f"auth {self.auth!r} needs a secret (or secrets)")
        return self

    def all_secrets(self) -> list[str]:
        """Every accepted HMAC secret: ``secret`` first, then ``secrets`` (rotation)."""
        values = [self.secret, *self.secrets] if self.secret else list(self.secrets)
        return [value.get_secret_value() for value in values]


class AlertSources(Section):
    """The webhook sources that may post alerts; a source left out is refused."""

    alertmanager: AlertSource | None = None
    grafana: AlertSource | None = None
    sns: AlertSource | None = None
    pagerduty: AlertSource | None = None
    generic: AlertSource | None = None


class AlertRoute(Section):
    """Alerts whose labels all equal ``match`` go to ``channel``; the first match wins."""

    match: dict[str, str] = Field(default_factory=dict)
    channel: str


class AutoDeclare(Section):
    """Alerts whose labels all equal ``match`` declare an incident of ``severity``."""

    match: dict[str, str] = Field(min_length=1)
    severity: SeverityName


class Alerts(Section):
    """Alert intake, grouping and routing."""

    default_channel: str | None = Field(default=None, description="For alerts no route matches.")
    group_window: Duration = Field(default=timedelta(minutes=5))
    sources: AlertSources = Field(default_factory=AlertSources)
    routes: list[AlertRoute] = Field(default_factory=list)
    auto_declare: list[AutoDeclare] = Field(default_factory=list)


class Report(Section):
    """A report posted on a schedule."""

    name: Name
    kind: Literal[
        "deploy_digest", "dora", "incident_summary", "pending_approvals", "audit_checkpoint"
    ]
    cron: Cron
    channel: str
    timezone: Timezone = "UTC"
    missed: Literal["skip", "run_once"] = Field(
        default="skip", description="After downtime: skip missed runs or run once."
    )

    def trigger(self) -> CronTrigger:
        """When the report runs, in its time zone."""
        return cron_trigger(self.cron, self.timezone)


@dataclass(frozen=True)
class Principals:
    """People named by a list of group names and user ids, before user groups are expanded."""

    users: frozenset[str]
    usergroups: frozenset[str]

    @property
    def anyone(self) -> bool:
        """An empty list means no restriction."""
        return not self.users and not self.usergroups


class ShipbotConfig(Section):
    """The whole shipbot configuration file."""

    channels: dict[Name, ChannelId] = Field(
        default_factory=dict, description="Logical name -> Slack channel id."
    )
    users: dict[UserId, User] = Field(default_factory=dict)
    groups: dict[Name, Group] = Field(default_factory=dict)
    environments: dict[Name, Environment] = Field(default_factory=dict)
    services: dict[Name, Service] = Field(default_factory=dict)
    incidents: Incidents = Field(default_factory=Incidents)
    alerts: Alerts = Field(default_factory=Alerts)
    reports: list[Report] = Field(default_factory=list)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    oncall: OnCall = Field(default_factory=OnCall)
    hooks: Hooks = Field(default_factory=Hooks)

    @field_validator("reports")
    @classmethod
    def _unique_report_names(cls, reports: list[Report]) -> list[Report]:
        seen: set[str] = set()
        for report in reports:
            if report.name in seen:
                raise PydanticCustomError("unique", f"report name {report.name!r} is used twice")
            seen.add(report.name)
        return reports

    @model_validator(mode="after")
    def _references_resolve(self) -> ShipbotConfig:
        from workflows.config.refs import reference_problems

        problems = reference_problems(self)
        if problems:
            raise PydanticCustomError(
                "references",
                "{summary}",
                {"summary": "; ".join(f"{p}: {m}" for p, m in problems), "problems": problems},
            )
        return self

    def find_channel_id(self, ref: str) -> str | None:
        """The channel id for a logical name or a raw id, or None if ``ref`` is neither."""
        if ref in self.channels:
            return self.channels[ref]
        return ref if is_channel_id(ref) else None

    def channel_id(self, ref: str) -> str:
        """The channel id for a logical name (from ``channels``) or a raw ``C...``/``G...`` id."""
        channel = self.find_channel_id(ref)
        if channel is None:
            known = ", ".join(sorted(self.channels)) or "none configured"
            raise NotFound(f"unknown channel {ref!r} (known channels: {known})")
        return channel

    def announce_channel_id(self) -> str | None:
        """Where new incidents are announced: ``incidents.announce_channel``, else the channel
        named ``incidents`` if there is one, else nowhere."""
        ref = self.incidents.announce_channel
        return self.channel_id(ref) if ref is not None else self.channels.get("incidents")

    def ordered_environments(self) -> list[str]:
        """Environment names in promotion order."""
        return sorted(self.environments, key=lambda name: (self.environments[name].order, name))

    def environments_for(self, service: str) -> list[str]:
        """The environments ``service`` deploys to, in promotion order."""
        allowed = self.services[service].environments
        return [e for e in self.ordered_environments() if allowed is None or e in allowed]

    def user_name(self, user_id: str) -> str:
        """A person's display name from ``users``, else their name, else the id itself."""
        user = self.users.get(user_id)
        return (user.display_name or user.name) if user else user_id

    def principals(self, refs: Iterable[str]) -> Principals:
        """Expand group names into their users and user groups; user ids pass through."""
        users: set[str] = set()
        usergroups: set[str] = set()
        for ref in refs:
            group = self.groups.get(ref)
            if group is not None:
                users.update(group.users)
                usergroups.update(group.usergroups)
            elif is_user_id(ref):
                users.add(ref)
        return Principals(users=frozenset(users), usergroups=frozenset(usergroups))
