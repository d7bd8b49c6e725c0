"""Slack user groups expanded through ``usergroups.users.list``, cached for a while."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from workflows.clock import Clock

log = logging.getLogger("shipcommands.common.directory")

CACHE_FOR = timedelta(minutes=5)


class SlackDirectory:
    """Members of a user group, asked of Slack at most once per ``ttl`` per group.

    Lookups happen while a Slack request waits for its answer, so give this a client
    with a short timeout. When Slack cannot answer, the last known members are used; with
    none known, nobody (a permission check then fails closed rather than letting anyone
    through)."""

    def __init__(self, client: WebClient, *, clock: Clock, ttl: timedelta = CACHE_FOR) -> None:
        self.client = client
        self.clock = clock
        self.ttl = ttl
        self._cache: dict[str, tuple[datetime, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def usergroup_members(self, usergroup_id: str) -> frozenset[str]:
        now = self.clock.now()
        with self._lock:
            cached = self._cache.get(usergroup_id)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        try:
            response = self.client.usergroups_users_list(usergroup=usergroup_id)
            users = frozenset(str(u) for u in response.get("users") or [])
        except (SlackApiError, OSError) as error:  # OSError: timeouts, refused connections
            reason = error.response.get("error") if isinstance(error, SlackApiError) else error
            log.warning("could not list user group %s: %s", usergroup_id, reason)
            return cached[1] if cached is not None else frozenset()
        with self._lock:
            self._cache[usergroup_id] = (now, users)
        return users
