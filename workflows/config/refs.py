"""Cross-references inside a config: every group, environment and channel named must exist."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

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


def reference_problems(config: ShipbotConfig) -> list[Problem]:
    """Every dangling reference in ``config`` as ``(dotted.path, message)``, in file order."""
    problems: list[Problem] = []

    def channel(path: str, ref: str | None) -> None:
        if ref is not None and config.find_channel_id(ref) is None:
            problems.append(
                (
                    path,
                    f"unknown channel {ref!r}: not in channels and not a channel id"
                    + _hint(ref, config.channels),
                )
            )

    def groups(path: str, refs: list[str]) -> None:
        for index, ref in enumerate(refs):
            if ref not in config.groups:
                problems.append(
                    (f"{path}.{index}", f"unknown group {ref!r}" + _hint(ref, config.groups))
                )

    def groups_or_users(path: str, refs: list[str]) -> None:
        for index, ref in enumerate(refs):
            if ref not in config.groups and not is_user_id(ref):
                problems.append(
                    (
                        f"{path}.{index}",
                        f"unknown group {ref!r}, and not a user id" + _hint(ref, config.groups),
                    )
                )

    def environment(path: str, ref: str) -> None:
        if ref not in config.environments:
            problems.append(
                (path, f"unknown environment {ref!r}" + _hint(ref, config.environments))
            )

    orders: dict[int, str] = {}
    for name, env in config.environments.items():
        path = f"environments.{name}"
        if env.order in orders:
            problems.append(
                (
                    f"{path}.order",
                    f"order {env.order} is also used by environment {orders[env.order]!r}",
                )
            )
        orders.setdefault(env.order, name)
        groups_or_users(f"{path}.deployers", env.deployers)
        groups(f"{path}.approval.from_groups", env.approval.from_groups)
        groups(f"{path}.break_glass.groups", env.break_glass.groups)
        groups_or_users(f"{path}.locks.lockers", env.locks.lockers or [])
        groups_or_users(f"{path}.locks.unlockers", env.locks.unlockers)
        if env.requires_success_in == name:
            problems.append((f"{path}.requires_success_in", "an environment cannot require itself"))
        elif env.requires_success_in is not None:
            environment(f"{path}.requires_success_in", env.requires_success_in)

    for name, service in config.services.items():
        path = f"services.{name}"
        channel(f"{path}.alerts_channel", service.alerts_channel)
        channel(f"{path}.channel", service.channel)
        for app, env_name in service.argocd_applications.items():
            environment(f"{path}.argocd_applications.{app}", env_name)
        for index, env_name in enumerate(service.environments or []):
            environment(f"{path}.environments.{index}", env_name)

    channel("incidents.announce_channel", config.incidents.announce_channel)
    for severity in ("SEV1", "SEV2", "SEV3", "SEV4"):
        policy = config.incidents.severity(severity)
        groups_or_users(f"incidents.severities.{severity}.responders", policy.responders)
    groups_or_users("incidents.declarers", config.incidents.declarers)
    groups_or_users("incidents.managers", config.incidents.managers)

    channel("alerts.default_channel", config.alerts.default_channel)
    for index, route in enumerate(config.alerts.routes):
        channel(f"alerts.routes.{index}.channel", route.channel)

    for index, report in enumerate(config.reports):
        channel(f"reports.{index}.channel", report.channel)
    return problems
