"""The Slack sender: ``render`` jobs that keep a message in step with its stored object.

A render reads the message row and the object (through a ``Renderer``, a pure function of
stored state), posts once and stores ``ts``, and updates in place after that. It holds the
message's render lease while it talks to Slack, waits for the channel's pace slot, and
turns Slack's answers into job outcomes:

- 429: the whole channel is held for ``Retry-After`` and the job postponed (no attempt used);
- 5xx, timeouts, connection errors, unknown errors: raised, retried with backoff;
- ``message_not_found`` on update: the message was deleted, so it is posted anew;
- errors no retry can fix (``channel_not_found``...): the job goes dead with Slack's words.

Pace slots, kept ones and late ones, are ``workflows.pace_slots.PaceSlot``'s.

A post carries ``metadata`` naming its view, so a render that crashed between Slack's ok
and storing ``ts`` finds its message with ``conversations.history`` instead of posting twice.

The ``WebClient`` from ``client_factory`` must not retry 429s itself (no
``RateLimitErrorRetryHandler``): pacing and ``Retry-After`` are handled here, durably.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, NoReturn

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_errors import classify, job_outcome
from commands.common.seams import RenderedMessage, Renderer
from workflows import views
from workflows.jobs import JobContext, JobHandler, PermanentJobError, RetryLater
from workflows.pace_slots import PaceSlot
from workflows.store.models import SlackMessage

log = logging.getLogger(__name__)

VIEW_EVENT_TYPE = "shipbot_view"
_HISTORY_PAGES = 10


class RendererRegistry:
    """Maps view-key prefixes (``"deploy:"``, ``"incident:"``) to their renderers."""

    def __init__(self) -> None:
        self._renderers: dict[str, Renderer] = {}

    def register(self, prefix: str, renderer: Renderer) -> None:
        if prefix in self._renderers:
            raise ValueError(f"a renderer for {prefix!r} is already registered")
        self._renderers[prefix] = renderer

    def resolve(self, view_key: str) -> Renderer | None:
        """The renderer of the longest registered prefix of ``view_key``."""
        matches = [prefix for prefix in self._renderers if view_key.startswith(prefix)]
        return self._renderers[max(matches, key=len)] if matches else None


def make_render_handler(
    *,
    client_factory: Callable[[], WebClient],
    registry: RendererRegistry,
    interval: timedelta = timedelta(seconds=1),
    lease: timedelta = timedelta(seconds=30),
    max_rounds: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> JobHandler:
    """The handler of ``render`` jobs (payload ``{"view_key": ...}``).

    ``interval`` paces messages per channel; ``lease`` bounds how long a crashed render
    blocks its message; ``max_rounds`` bounds re-renders within one job when the object
    keeps changing (after that the job is postponed, not finished, so changes made
    meanwhile are still shown); ``sleep`` waits for a pace slot
    (tests pass one that moves a fake clock).
    """

    def handle(context: JobContext) -> None:
        _Render(
            context,
            client=client_factory(),
            registry=registry,
            interval=interval,
            lease=lease,
            sleep=sleep,
        ).run(max_rounds)

    return handle


class _Render:
    """One run of one render job."""

    def __init__(
        self,
        context: JobContext,
        *,
        client: WebClient,
        registry: RendererRegistry,
        interval: timedelta,
        lease: timedelta,
        sleep: Callable[[float], None],
    ) -> None:
        job = context.job
        view_key = job.payload.get("view_key")
        if not isinstance(view_key, str):
            raise PermanentJobError(f"render job {job.id} has no view_key in its payload")
        self.view_key = view_key
        self.database = context.database
        self.clock = context.clock
        self.client = client
        self.registry = registry
        self.lease = lease
        self.owner = f"{job.lease_owner}/job-{job.id}"
        self.channel = ""
        self.slot = PaceSlot(context, interval=interval, sleep=sleep)

    def _acquire(self) -> SlackMessage | None:
        return views.acquire_render(
            database=self.database,
            clock=self.clock,
            view_key=self.view_key,
            owner=self.owner,
            lease=self.lease,
        )

    def run(self, max_rounds: int) -> None:
        try:
            self._run(max_rounds)
        except RetryLater as later:
            self.slot.forget_spent(later)
            raise

    def _run(self, max_rounds: int) -> None:
        message = self._acquire()
        if message is None:
            if views.load_message(database=self.database, view_key=self.view_key) is None:
                log.warning("render of %s: no such message; nothing to do", self.view_key)
                return
            raise RetryLater(timedelta(seconds=1), reason=f"another render holds {self.view_key}")
        self.channel = message.channel
        try:
            for _ in range(max_rounds):
                if message is None or message.rendered_version >= message.desired_version:
                    return
                message = self._render_once(message)
            if message is not None and message.rendered_version < message.desired_version:
                # Changes that came while rendering share this job (views.render_job_key):
                # ending now would leave them unshown, so the job runs again.
                raise RetryLater(timedelta(0), reason=f"{self.view_key} changed while rendering")
        except SlackApiError as error:
            self._raise_for(error)
        finally:
            views.release_render(database=self.database, view_key=self.view_key, owner=self.owner)

    def _render_once(self, message: SlackMessage) -> SlackMessage | None:
        """Bring Slack to the stored state once; the reloaded row, or None if the render
        lease was lost (the new owner carries on)."""
        version = message.desired_version
        self.channel = message.channel  # a DM's channel changes from user id to D... once
        renderer = self.registry.resolve(self.view_key)
        if renderer is None:
            raise PermanentJobError(f"no renderer registered for view {self.view_key!r}")
        # The pace slot first: a busy channel postpones the job before any rendering, and
        # what goes out is what is stored after the wait, not a second before it.
        self.slot.wait(self.channel)
        with self.database.session() as session:
            rendered = renderer(session, self.view_key)
        ts = message.ts
        posted_in: str | None = None
        if rendered is not None:
            if ts is None and message.post_started_at is not None:
                ts = self._adopt_earlier_post(message)
            if ts is not None:
                ts = self._update(ts, rendered)
            if ts is None:
                views.mark_post_started(**self._owned())
                ts, posted_in = self._post(message, rendered)
        if not views.record_rendered(**self._owned(), version=version, ts=ts, channel=posted_in):
            log.warning("render of %s: lease lost before recording v%s", self.view_key, version)
            return None
        return self._acquire()

    def _owned(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "clock": self.clock,
            "view_key": self.view_key,
            "owner": self.owner,
        }

    def _metadata(self) -> dict[str, Any]:
        return {"event_type": VIEW_EVENT_TYPE, "event_payload": {"view_key": self.view_key}}

    def _post(self, message: SlackMessage, rendered: RenderedMessage) -> tuple[str, str | None]:
        response = self.client.chat_postMessage(
            channel=message.channel,
            text=rendered.text,
            blocks=rendered.blocks or None,
            thread_ts=message.thread_ts,
            metadata=self._metadata(),
            unfurl_links=rendered.unfurl,
            unfurl_media=rendered.unfurl,
        )
        log.info("posted %s to %s as %s", self.view_key, message.channel, response["ts"])
        channel = response.get("channel")
        return str(response["ts"]), str(channel) if channel else None

    def _update(self, ts: str, rendered: RenderedMessage) -> str | None:
        """Update in place; None if Slack no longer has the message (post it anew)."""
        try:
            self.client.chat_update(
                channel=self.channel,
                ts=ts,
                text=rendered.text,
                blocks=rendered.blocks,
                metadata=self._metadata(),
            )
        except SlackApiError as error:
            if error.response.get("error") == "message_not_found":
                log.warning("message %s of %s is gone; posting it anew", ts, self.view_key)
                return None
            raise
        return ts

    def _adopt_earlier_post(self, message: SlackMessage) -> str | None:
        """Find the post of a render that crashed before storing its ``ts``, and keep it."""
        assert message.post_started_at is not None
        oldest = message.post_started_at - timedelta(seconds=1)
        for candidate in self._recent_messages(message, oldest):
            metadata = candidate.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if (
                metadata.get("event_type") == VIEW_EVENT_TYPE
                and payload.get("view_key") == self.view_key
            ):
                ts = str(candidate["ts"])
                log.info("render of %s adopts its earlier post %s", self.view_key, ts)
                views.record_rendered(**self._owned(), version=message.rendered_version, ts=ts)
                return ts
        return None

    def _recent_messages(self, message: SlackMessage, oldest: datetime) -> Iterator[dict[str, Any]]:
        arguments: dict[str, Any] = {
            "channel": message.channel,
            "oldest": f"{oldest.timestamp():.6f}",
            "include_all_metadata": True,
            "limit": 200,
        }
        method: Callable[..., Any] = self.client.conversations_history
        if message.thread_ts is not None:  # replies do not show in the channel's history
            method = self.client.conversations_replies
            arguments["ts"] = message.thread_ts
        for _ in range(_HISTORY_PAGES):
            response = method(**arguments)
            yield from response.get("messages") or []
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not response.get("has_more") or not cursor:
                return
            arguments["cursor"] = cursor

    def _raise_for(self, error: SlackApiError) -> NoReturn:
        failure = classify(error)
        if failure.retry_after is not None:
            # The whole channel waits, not just this message (Slack limits per channel).
            until = self.clock.now() + timedelta(seconds=failure.retry_after)
            views.push_back_channel(
                database=self.database, clock=self.clock, channel=self.channel, until=until
            )
        elif failure.permanent:
            reason = f"Slack refused {self.view_key} in {self.channel}: {failure.code}"
            views.record_render_error(**self._owned(), error=reason)
        raise job_outcome(error, what=f"{self.view_key} in {self.channel}") from error
