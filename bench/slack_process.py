"""The Slack emulator of bench/ack_latency.py, in a process of its own.

In production Slack's servers do not share the bot's cores, let alone a Python process
with the people timing it. When the emulator ran in the bench's own process, every card
shipbot rendered and every deferred answer it posted during a measured burst was parsed
and checked (Block Kit validation included) in the same interpreter as the client
threads, which then waited for its GIL between sending a request and reading its ack:
a cost that only shipbot's runs paid (bare Bolt calls no Slack method). Here the
emulator gets its own interpreter; its CPU still lands on the same cores as everything
else in the run.

The bench talks to it through a ``multiprocessing`` manager: a handful of calls before
and after each run, none while the clients are timing requests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.managers import BaseManager
from pathlib import Path
from typing import Any, Protocol

from ack_load import ERROR_MARKS, Result  # a sibling script module: bench/ is on sys.path

from bot.sandbox.seed import seed_workspace
from bot.sandbox.slack.api import FakeSlackApi
from workflows.config import parse_config


class Emulator(Protocol):
    """What the bench asks of the emulator (a manager proxy of ``_EmulatorHost``)."""

    def url(self) -> str: ...

    def response_urls(self, channel: str, user: str, count: int) -> list[str]: ...

    def answers_since(self, start: int) -> list[tuple[str, float, str]]: ...


class _EmulatorHost:
    """Lives in the manager's process: a ``FakeSlackApi`` seeded from the bench's config."""

    def __init__(self, config_path: str) -> None:
        self.fake = FakeSlackApi().start()
        seed_workspace(self.fake, parse_config(Path(config_path).read_text(), environ={}))

    def url(self) -> str:
        return self.fake.url

    def response_urls(self, channel: str, user: str, count: int) -> list[str]:
        return [self.fake.response_url(channel=channel, user=user) for _ in range(count)]

    def answers_since(self, start: int) -> list[tuple[str, float, str]]:
        """(url id, arrival time, text) of each response_url POST from ``start`` on."""
        posts = self.fake.response_posts()[start:]
        return [(post.url_id, post.at, str(post.body.get("text"))) for post in posts]


class _Manager(BaseManager):
    pass


_Manager.register("Emulator", _EmulatorHost)


@contextmanager
def slack_process(config: Path) -> Iterator[Emulator]:
    """The emulator, seeded from ``config``, running in a child process until exit."""
    manager: Any = _Manager()  # register() adds Emulator at run time
    manager.start()
    try:
        yield manager.Emulator(str(config))
    finally:
        manager.shutdown()


class Answers:
    """A working response_url per request of one kind and level, and what came back to each
    (``--ack deferred``: the answer after the "received" ack). The URLs are made before
    the run, so the clients ask the emulator nothing while they are timed."""

    def __init__(self, emulator: Emulator, *, channel: str, user: str, count: int) -> None:
        self.emulator = emulator
        self.urls = emulator.response_urls(channel, user, count)
        self.index_of = {url.rsplit("/", 1)[1]: i for i, url in enumerate(self.urls)}

    def url(self, i: int) -> str:
        return self.urls[i]

    def collect(self, result: Result, *, timeout: float = 120) -> str:
        """Wait for an answer to every acked request; a line of their latencies."""
        answered: dict[int, tuple[float, str]] = {}
        seen = 0
        deadline = time.monotonic() + timeout
        while len(answered) < len(result.acked) and time.monotonic() < deadline:
            new = self.emulator.answers_since(seen)
            seen += len(new)
            for url_id, at, text in new:
                i = self.index_of.get(url_id)
                if i is not None and i not in answered:
                    answered[i] = (at, text)
            time.sleep(0.05)
        errors = sum(1 for _, text in answered.values() if any(m in text for m in ERROR_MARKS))
        latencies = Result(latencies=[at - result.sent_at[i] for i, (at, _) in answered.items()])
        return (
            f"{'':<10} answered {len(answered)}/{len(result.acked)} acks, {errors} errors, "
            f"answer p50 {latencies.percentile(50):.1f} ms, "
            f"p99 {latencies.percentile(99):.1f} ms, max {latencies.worst:.1f} ms"
        )
