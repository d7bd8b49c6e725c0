"""Slack-native surfaces: the App Home tab (``app_home_opened``, published by a paced job
as a view of stored state) and the shortcuts ("Add to incident timeline" on a message,
"Declare incident" anywhere)."""

from __future__ import annotations

from commands.common.seams import Registry
from commands.home import handlers, shortcuts
from commands.home.publish import Publisher
from workflows.config import ShipbotConfig
from workflows.home.fanout import HomePorts, handle_fanout
from workflows.home.refresh import FANOUT_JOB, PUBLISH_JOB
from workflows.incidents.cited import PERMALINK_JOB


def register(registry: Registry) -> None:
    registry.event(handlers.HOME_OPENED, handlers.opened)
    registry.shortcut(shortcuts.ADD_TO_TIMELINE, shortcuts.add_to_timeline)
    registry.shortcut(shortcuts.DECLARE_SHORTCUT, shortcuts.declare)
    registry.submission(shortcuts.TIMELINE_MODAL, shortcuts.timeline_submitted)
    deps = registry.deps
    config = deps.config if deps.config is not None else ShipbotConfig()
    ports = HomePorts(config=config, directory=deps.directory)
    registry.job(FANOUT_JOB, lambda context: handle_fanout(context, ports=ports))
    publisher = Publisher(client_factory=lambda: deps.client, ports=ports)
    registry.job(PUBLISH_JOB, publisher.handle)
    registry.job(PERMALINK_JOB, shortcuts.permalink_job(lambda: deps.client))
