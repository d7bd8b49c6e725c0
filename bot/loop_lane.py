"""Deferred requests dispatched in the event loop (``SHIPBOT_ACK_MODE=deferred``).

A request that a deferred ack only stores (bot/deferred.py) needs no thread of its own:
its listener parses the payload, checks the text and hands one job row to the group
commit. Dispatching it in a pool thread, as every other request is, cost a thread hop and
kept up to eight threads competing for the GIL with the one that commits, and bounded a
commit's batch by the pool's size (docs/performance.md, eleventh pass). Here Bolt runs it
in the event loop, as Bolt's own adapter runs every request; the listener queues its row
without waiting (``LoopWrites``), and the HTTP response is sent only once that row is
committed, so the intent is still durable before the ack (rule 1).

Only requests that do nothing else take this lane: a slash command a domain marked
deferrable, a click on a deferrable button, each a first delivery (a retry's early look
reads the store). A listener that finds its request is not deferred after all (``/deploy
status``, a button with no response_url) raises ``NeedsThread`` before it does anything,
and the request is dispatched again, from its raw bytes, in a pool thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.middleware.authorization import SingleTeamAuthorization
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from starlette.concurrency import run_in_threadpool

log = logging.getLogger("shipbot.loop_lane")

_CONTEXT_KEY = "shipbot_loop_writes"


class NeedsThread(BaseException):
    """Raised by a listener dispatched in the event loop whose request would block it.
    A ``BaseException``: Bolt's listener runner and its error handler catch ``Exception``
    only, so this leaves ``App.dispatch`` untouched."""


class LoopWrites:
    """The commits a request dispatched in the loop is waiting for before its ack."""

    def __init__(self) -> None:
        self._pending: list[Future[None]] = []

    def add(self, commit: Future[None]) -> None:
        self._pending.append(commit)

    def __bool__(self) -> bool:
        return bool(self._pending)

    async def settled(self) -> Exception | None:
        """Wait for every commit; the first error, if any failed."""
        error: Exception | None = None
        for commit in self._pending:
            try:
                await asyncio.wrap_future(commit)
            except Exception as failed:  # the caller answers with an error id
                error = error or failed
        return error


def loop_writes(context: BoltContext) -> LoopWrites | None:
    """The request's ``LoopWrites`` when it is being dispatched in the event loop."""
    writes = context.get(_CONTEXT_KEY)
    return writes if isinstance(writes, LoopWrites) else None


def in_thread_only(context: BoltContext) -> None:
    """Call before anything that may block: raises ``NeedsThread`` in the event loop."""
    if loop_writes(context) is not None:
        raise NeedsThread


CommitFailed = Callable[[Exception, dict[str, Any]], BoltResponse]
"""Answers a request whose stored row did not commit (bot.errors.handle_error)."""


class LoopLane:
    """Which requests Bolt dispatches in the event loop, and how."""

    def __init__(
        self,
        *,
        bolt_app: App,
        commands: frozenset[str],
        actions: frozenset[str],
        on_stored: Callable[[], None],
        on_commit_failed: CommitFailed,
    ) -> None:
        self._app = bolt_app
        self._commands = commands
        self._actions = actions
        self._on_stored = on_stored
        self._on_commit_failed = on_commit_failed

    def takes(self, request: BoltRequest) -> bool:
        """A first delivery of a deferrable command or click, once Bolt has its
        ``auth.test`` answer (until then its first dispatch calls Slack)."""
        if not self._authorized() or request.headers.get("x-slack-retry-num"):
            return False
        body = request.body
        if body.get("command") in self._commands:
            return True
        if body.get("type") != "block_actions":
            return False
        actions = body.get("actions")
        first = actions[0] if isinstance(actions, list) and actions else None
        return isinstance(first, dict) and first.get("action_id") in self._actions

    async def dispatch(self, request: BoltRequest) -> BoltResponse | None:
        """Bolt's answer once its stored rows are committed, or None when the listener
        needs a thread (nothing was stored: dispatch it again there)."""
        writes = LoopWrites()
        request.context[_CONTEXT_KEY] = writes
        try:
            response = self._app.dispatch(request)
        except NeedsThread:
            return None
        error = await writes.settled()
        if error is not None:
            return await run_in_threadpool(self._on_commit_failed, error, request.body)
        if writes:
            self._on_stored()
        return response

    def _authorized(self) -> bool:
        # Bolt keeps the answer on its authorization middleware; the list is private, so
        # if Bolt ever changes it this lane stays closed rather than block the loop.
        middleware = getattr(self._app, "_middleware_list", [])
        return any(
            isinstance(m, SingleTeamAuthorization) and m.auth_test_result is not None
            for m in middleware
        )
