"""Who is in a group: config user ids plus Slack user groups, expanded through a port."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from workflows.config import ShipbotConfig


class Directory(Protocol):
    """Expands a Slack user group (``S...``) into its members (the bot caches them)."""

    def usergroup_members(self, usergroup_id: str) -> frozenset[str]: ...


class NoDirectory:
    """For places with no Slack connection (the CLI): user groups expand to nobody."""

    def usergroup_members(self, usergroup_id: str) -> frozenset[str]:
        return frozenset()


def members(*, config: ShipbotConfig, directory: Directory, refs: Iterable[str]) -> frozenset[str]:
    """Every user id named by ``refs`` (group names and user ids), user groups expanded."""
    principals = config.principals(refs)
    users = set(principals.users)
    for usergroup in sorted(principals.usergroups):
        users |= directory.usergroup_members(usergroup)
    return frozenset(users)


def is_member(
    *, config: ShipbotConfig, directory: Directory, user: str, refs: Iterable[str]
) -> bool:
    """Whether ``user`` is named by ``refs``; an empty ``refs`` means anyone."""
    refs = list(refs)
    if not refs:
        return True
    principals = config.principals(refs)
    if user in principals.users:
        return True
    return any(user in directory.usergroup_members(g) for g in sorted(principals.usergroups))
