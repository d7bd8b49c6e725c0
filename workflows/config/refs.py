"""Cross-references inside a config: every group, environment and channel named must exist."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from workflows.config.oncall import oncall_problems
from workflows.config.types import is_user_id

if TYPE_CHECKING:
    from workflows.config.models import ShipbotConfig

Problem = tuple[str, str]


def _hint(name: str, known: Iterable[str]) -> str:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(known)})" if known else " (none are defined)"


class _Refs:
    """Collects the dangling references of one config, one kind of reference a method."""

    def __init__(self, config: ShipbotConfig) -> None:
        self.config = config
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def channel(self, path: str, ref: str | None) -> None:
        if ref is not None and self.config.find_channel_id(ref) is None:
            self.add(
                path,
                f"unknown channel {ref!r}: not in channels and not a channel id"
                + _hint(ref, self.config.channels),
            )

    def groups(self, path: str, refs: list[str]) -> None:
        known = self.config.groups
        for index, ref in enumerate(refs):
            if ref not in known:
                self.add(f"{path}.{index}", f"unknown group {ref!r}" + _hint(ref, known))

    def groups_or_users(self, path: str, refs: list[str]) -> None:
        known = self.config.groups
        for index, ref in enumerate(refs):
            if ref not in known and not is_user_id(ref):
                self.add(
                    f"{path}.{index}",
                    f"unknown group {ref!r}, and not a user id" + _hint(ref, known),
                )

    def environment(self, path: str, ref: str) -> None:
        if ref not in self.config.environments:
            self.add(path, f"unknown environment {ref!r}" + _hint(ref, self.config.environments))


def _check_environments(refs: _Refs) -> None:
    orders: dict[int, str] = {}
    for name, env in refs.config.environments.items():
        path = f"environments.{name}"
        if env.order in orders:
            refs.add(
                f"{path}.order",
                f"order {env.order} is also used by environment {orders[env.order]!r}",
            )
        orders.setdefault(env.order, name)
        refs.groups_or_users(f"{path}.deployers", env.deployers)
        refs.groups(f"{path}.approval.from_groups", env.approval.from_groups)
        refs.groups(f"{path}.break_glass.groups", env.break_glass.groups)
        refs.groups_or_users(f"{path}.locks.lockers", env.locks.lockers or [])
        refs.groups_or_users(f"{path}.locks.unlockers", env.locks.unlockers)
        if env.requires_success_in == name:
            refs.add(f"{path}.requires_success_in", "an environment cannot require itself")
        elif env.requires_success_in is not None:
            refs.environment(f"{path}.requires_success_in", env.requires_success_in)


def _check_services(refs: _Refs) -> None:
    for name, service in refs.config.services.items():
        path = f"services.{name}"
        refs.channel(f"{path}.alerts_channel", service.alerts_channel)
        refs.channel(f"{path}.channel", service.channel)
        for app, env_name in service.argocd_applications.items():
            refs.environment(f"{path}.argocd_applications.{app}", env_name)
        for index, env_name in enumerate(service.environments or []):
            refs.environment(f"{path}.environments.{index}", env_name)


def _check_incidents(refs: _Refs) -> None:
    incidents = refs.config.incidents
    refs.channel("incidents.announce_channel", incidents.announce_channel)
    for severity in ("SEV1", "SEV2", "SEV3", "SEV4"):
        policy = incidents.severity(severity)
        refs.groups_or_users(f"incidents.severities.{severity}.responders", policy.responders)
    refs.groups_or_users("incidents.declarers", incidents.declarers)
    refs.groups_or_users("incidents.managers", incidents.managers)
    for index, env_name in enumerate(incidents.notify_deploys.environments or []):
        refs.environment(f"incidents.notify_deploys.environments.{index}", env_name)


def _check_alerts_and_reports(refs: _Refs) -> None:
    refs.channel("alerts.default_channel", refs.config.alerts.default_channel)
    for index, route in enumerate(refs.config.alerts.routes):
        refs.channel(f"alerts.routes.{index}.channel", route.channel)
    for index, report in enumerate(refs.config.reports):
        refs.channel(f"reports.{index}.channel", report.channel)


def _check_oncall(refs: _Refs) -> None:
    refs.problems.extend(oncall_problems(refs.config))


SECTIONS = (
    _check_environments,
    _check_services,
    _check_incidents,
    _check_alerts_and_reports,
    _check_oncall,
)
"""One checker per config section, in file order."""


def reference_problems(config: ShipbotConfig) -> list[Problem]:
    """Every dangling reference in ``config`` as ``(dotted.path, message)``, in file order."""
    refs = _Refs(config)
    for check in SECTIONS:
        check(refs)
    return refs.problems
