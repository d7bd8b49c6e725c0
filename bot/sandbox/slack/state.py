"""The state of the emulated Slack workspace, separate from any transport.

``SlackState`` is what the Web API fake answers from and what the ``shipbot dev`` browser
sandbox will read and drive: users, channels, messages, files, views, ephemerals,
usergroups, plus the record of every API call. Everything is guarded by one re-entrant
lock wrapped in a ``Condition`` so tests can block until an async worker has done
something (``wait_for``) instead of sleeping.

The records and stores themselves live in ``model``.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, TypeVar

from bot.sandbox.slack.model import (
    Call,
    Channel,
    Ephemeral,
    InvalidBlocks,
    ResponsePost,
    ResponseUrl,
    ScriptedFailure,
    UploadedFile,
    Workspace,
    user_object,
)
from bot.sandbox.workspace import BOT_ID, BOT_USER_ID, BOT_USER_NAME, TEAM_ID
from workflows.clock import Clock

__all__ = [
    "Call",
    "Channel",
    "Ephemeral",
    "InvalidBlocks",
    "ResponsePost",
    "ScriptedFailure",
    "SlackState",
    "UploadedFile",
]

T = TypeVar("T")

# Slack timestamps of this workspace start here (2026-01-01) unless a clock says otherwise.
_FIRST_TS_MICROS = 1_767_000_000_000_000
_TS_STEP_MICROS = 100


class _CountingCondition(threading.Condition):
    """A ``Condition`` that counts its ``notify_all`` calls. Every change to the workspace
    notifies (while holding the lock), so the count is a version number: the browser
    sandbox long-polls on it to show changes live."""

    def __init__(self, lock: threading.RLock) -> None:
        super().__init__(lock)
        self.version = 0

    def notify_all(self) -> None:
        self.version += 1
        super().notify_all()


class SlackState:
    """One emulated workspace and the record of what the app asked of it. Thread-safe."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.lock = threading.RLock()
        self.condition = _CountingCondition(self.lock)
        self._clock = clock
        self.reset()

    # --- lifecycle and seeding ----------------------------------------------------------

    def reset(self) -> None:
        """Forget everything: an empty workspace holding only the bot user."""
        with self.condition:
            self.data = Workspace()
            self._calls: list[Call] = []
            self._unexpected: list[Call] = []
            self._invalid: list[InvalidBlocks] = []
            self._failures: dict[str, deque[ScriptedFailure]] = defaultdict(deque)
            self._expected: frozenset[str] | None = None
            self._last_ts = 0
            self._ids: dict[str, int] = defaultdict(int)
            self.add_user(BOT_USER_ID, name=BOT_USER_NAME, is_bot=True)
            self.data.users[BOT_USER_ID]["profile"]["bot_id"] = BOT_ID
            self.condition.notify_all()

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        real_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        is_admin: bool = False,
        tz: str = "UTC",
    ) -> None:
        with self.condition:
            self.data.users[user_id] = user_object(
                user_id,
                name=name,
                real_name=real_name,
                email=email,
                is_bot=is_bot,
                is_admin=is_admin,
                tz=tz,
            )
            self.condition.notify_all()

    def seed_users(self, users: Mapping[str, Mapping[str, Any]]) -> None:
        """Add users from ``{user_id: {"name": ..., "real_name": ..., "email": ...}}``."""
        for user_id, fields in users.items():
            self.add_user(user_id, **fields)

    def add_channel(
        self,
        name: str,
        *,
        channel_id: str | None = None,
        members: Iterable[str] = (),
        is_private: bool = False,
        topic: str = "",
        bot_is_member: bool = True,
    ) -> str:
        """Create a channel directly (no API call recorded) and return its id."""
        with self.condition:
            cid = channel_id or self.new_id("G" if is_private else "C")
            member_set = set(members) | ({BOT_USER_ID} if bot_is_member else set())
            self.data.channels[cid] = Channel(
                id=cid,
                name=name,
                is_private=is_private,
                members=member_set,
                topic=topic,
                created=self.now_seconds(),
            )
            self.condition.notify_all()
            return cid

    def add_usergroup(self, usergroup_id: str, *, handle: str, users: Iterable[str]) -> None:
        with self.condition:
            self.data.usergroups[usergroup_id] = {
                "id": usergroup_id,
                "team_id": TEAM_ID,
                "handle": handle,
                "name": handle,
                "users": list(users),
            }
            self.condition.notify_all()

    def im_channel(self, user_id: str) -> Channel:
        """The bot's direct-message channel with ``user_id``, opened on first use."""
        with self.condition:
            for channel in self.data.channels.values():
                if channel.im_user == user_id:
                    return channel
            cid = self.new_id("D")
            channel = Channel(
                id=cid,
                name=cid,
                members={BOT_USER_ID, user_id},
                created=self.now_seconds(),
                im_user=user_id,
            )
            self.data.channels[cid] = channel
            return channel

    def register_trigger(self, trigger_id: str, *, user: str) -> None:
        """Remember whose click or command issued ``trigger_id``: a modal opened with it
        belongs to that user (Slack shows it only to them)."""
        with self.condition:
            self.data.trigger_users[trigger_id] = user

    def register_response_url(
        self, *, channel: str, user: str | None = None, message_ts: str | None = None
    ) -> str:
        """Remember a response_url target and return its id (the HTTP layer makes the URL)."""
        with self.condition:
            url_id = self.new_id("R")
            self.data.response_urls[url_id] = ResponseUrl(url_id, channel, user, message_ts)
            return url_id

    # --- ids and time ----------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        """A fresh Slack-looking id (``C00000001``); deterministic after ``reset``."""
        with self.lock:
            self._ids[prefix] += 1
            return f"{prefix}{self._ids[prefix]:08d}"

    def now_seconds(self) -> int:
        return int(self._clock.now().timestamp()) if self._clock else _FIRST_TS_MICROS // 10**6

    def next_ts(self) -> str:
        """A message ts, strictly increasing (Slack's ts is a per-channel unique id)."""
        with self.lock:
            floor = int(self._clock.now().timestamp() * 10**6) if self._clock else 0
            start = self._last_ts or _FIRST_TS_MICROS
            self._last_ts = max(start + _TS_STEP_MICROS, floor)
            seconds, micros = divmod(self._last_ts, 10**6)
            return f"{seconds}.{micros:06d}"

    # --- recording ---------------------------------------------------------------------------

    def record_call(self, call: Call, *, implemented: bool) -> None:
        with self.condition:
            self._calls.append(call)
            expected = self._expected is None or call.method in self._expected
            if not implemented or not expected:
                self._unexpected.append(call)
            self.condition.notify_all()

    def record_invalid(self, failure: InvalidBlocks) -> None:
        with self.condition:
            self._invalid.append(failure)
            self.condition.notify_all()

    def changed(self) -> None:
        """Wake ``wait_for`` callers after a change made directly on ``data``."""
        with self.condition:
            self.condition.notify_all()

    # --- scripting ---------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        count: int = 1,
    ) -> None:
        """Make the next ``count`` calls to ``method`` misbehave, in the order scripted.

        ``status=429`` answers ``ratelimited`` with ``Retry-After`` (default 1 s); another
        ``status`` answers that HTTP status; ``error`` alone answers HTTP 200 with
        ``{"ok": false, "error": error}``; ``delay`` alone answers normally but late (the
        call still takes effect, as a slow Slack would)."""
        if status is None and error is None and delay <= 0:
            raise ValueError("fail_next needs a status, an error or a delay")
        if count < 1:
            raise ValueError("count must be at least 1")
        if status == 429 and retry_after is None:
            retry_after = 1
        failure = ScriptedFailure(status, error, retry_after, delay)
        with self.condition:
            self._failures[method].extend([failure] * count)

    def pop_failure(self, method: str) -> ScriptedFailure | None:
        with self.condition:
            queue = self._failures.get(method)
            return queue.popleft() if queue else None

    def expect_only(self, methods: Collection[str] | None) -> None:
        """Flag calls to any method outside ``methods`` as unexpected (``None``: allow all)."""
        with self.condition:
            self._expected = None if methods is None else frozenset(methods)

    # --- reading -------------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self.lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self._calls if c.method == method]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Copies of every message in ``channel`` (thread replies included), oldest first."""
        with self.lock:
            return copy.deepcopy(self.data.messages.get(channel, []))

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.data.find_message(channel, ts)
            return copy.deepcopy(found) if found is not None else None

    def ephemerals(self, user: str | None = None) -> list[Ephemeral]:
        with self.lock:
            return [e for e in self.data.ephemerals if user is None or e.user == user]

    def response_posts(self) -> list[ResponsePost]:
        with self.lock:
            return list(self.data.response_posts)

    def files(self) -> list[UploadedFile]:
        with self.lock:
            return [copy.copy(f) for f in self.data.files.values() if f.completed]

    def views(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self.data.views.values()))

    def open_views(self, user: str) -> list[dict[str, Any]]:
        """Copies of the modals ``user`` has open (the top view of each of their stacks)."""
        with self.lock:
            return [
                copy.deepcopy(self.data.views[stack[-1]])
                for root, stack in self.data.view_stacks.items()
                if stack and self.data.view_users.get(root) == user
            ]

    @property
    def version(self) -> int:
        """Grows with every change (and every recorded call); see ``wait_for_change``."""
        with self.lock:
            return self.condition.version

    def wait_for_change(self, since: int, timeout: float) -> int:
        """Block until ``version`` differs from ``since`` or ``timeout`` passes; return it."""
        with self.condition:
            self.condition.wait_for(lambda: self.condition.version != since, timeout)
            return self.condition.version

    def channel(self, channel_id: str) -> Channel | None:
        with self.lock:
            found = self.data.channels.get(channel_id)
            return copy.deepcopy(found) if found is not None else None

    def take_unexpected(self) -> list[Call]:
        """Return and clear the calls the fake did not expect."""
        with self.lock:
            taken, self._unexpected = self._unexpected, []
            return taken

    def take_invalid(self) -> list[InvalidBlocks]:
        """Return and clear the block-validation failures."""
        with self.lock:
            taken, self._invalid = self._invalid, []
            return taken

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Block until ``predicate()`` is truthy (re-checked on every change); return it.

        Raises ``TimeoutError`` naming the calls seen so far if it stays falsy."""
        with self.condition:
            result = self.condition.wait_for(predicate, timeout)
            if not result:
                seen = ", ".join(c.method for c in self._calls[-20:]) or "none"
                raise TimeoutError(f"condition not met within {timeout}s; last calls: {seen}")
            return result

    def now(self) -> float:
        return self._clock.now().timestamp() if self._clock else time.time()
