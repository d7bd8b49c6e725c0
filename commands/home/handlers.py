"""The Home tab opened: ask for it to be published (a job; nothing calls Slack here)."""

from __future__ import annotations

from commands.common.seams import Deps
from commands.common.surfaces import AppEvent
from workflows.home.refresh import home_opened

HOME_OPENED = "app_home_opened"


def opened(event: AppEvent, deps: Deps) -> None:
    """``app_home_opened`` for the Home tab (the Messages tab needs nothing)."""
    if event.tab != "home" or not event.user_id:
        return
    with deps.database.transaction() as session:
        home_opened(
            session=session,
            clock=deps.clock,
            user_id=event.user_id,
            delivery_key=event.delivery_key,
        )
    deps.wake_worker()
