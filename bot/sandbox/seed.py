"""Fill the emulated workspace from a shipbot config: its users, channels and user groups.

The sandbox and the end-to-end tests both start from the example config this way, so
the emulator knows exactly the people and channels the config names."""

from __future__ import annotations

from typing import Any

from bot.sandbox.slack.api import FakeSlackApi


def seed_workspace(fake: FakeSlackApi, config: Any) -> None:
    """``config`` is a ``workflows.config.ShipbotConfig``."""
    for user_id, user in config.users.items():
        fake.add_user(user_id, name=user.name, real_name=user.display_name or user.name.title())
    members = list(config.users)
    for name, channel_id in config.channels.items():
        fake.add_channel(name, channel_id=channel_id, members=members)
    for group_name, group in config.groups.items():
        for usergroup_id in group.usergroups:
            fake.add_usergroup(usergroup_id, handle=group_name, users=group.users)
