"""SQLite's one write lock, handed over inside the process instead of polled for.

SQLite lets one transaction write at a time. A ``BEGIN IMMEDIATE`` that finds the lock
taken waits in SQLite's busy handler, which sleeps and retries (1, 2, 5 ... 100 ms), so
under a burst a waiting writer sleeps past the moment the lock was freed and the job
worker's many short transactions keep winning it. That was most of the ack tail on
SQLite (bench/ack_latency.py, docs/performance.md).

The gate queues the process's writers on a condition variable instead: a writer waits for
the gate before ``BEGIN IMMEDIATE`` and frees it right after its COMMIT or ROLLBACK, so
the next one starts at once. Writers on a thread marked background (the job worker) yield
to any waiting foreground writer (a Slack request or webhook about to be acknowledged).
Other processes on the same file (the CLI) still meet SQLite's busy handler, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

log = logging.getLogger("shipbot.store")

_thread_role = threading.local()


def mark_background_thread() -> None:
    """The calling thread's writes yield to waiting foreground writes from now on."""
    _thread_role.background = True


def is_background_thread() -> bool:
    return bool(getattr(_thread_role, "background", False))


@dataclass
class _Waiter:
    owner: int
    since: float = field(default_factory=time.monotonic)
    granted: threading.Event = field(default_factory=threading.Event)


class WriteGate:
    """At most one writing connection of this process at a time: first come, first served,
    foreground before background (unless a background writer has waited longer than its
    patience). The gate is handed to the next waiter directly (no
    herd of woken threads racing for it under the GIL)."""

    def __init__(self, *, timeout: float, background_patience: float = 1.0) -> None:
        self._lock = threading.Lock()
        # A job waits at most this long behind requests: a burst must not starve the
        # worker (its lease heartbeats write too) until it gives up on the gate.
        self._patience = background_patience
        self._owner: int | None = None
        self._foreground: deque[_Waiter] = deque()
        self._background: deque[_Waiter] = deque()
        self._timeout = timeout

    def acquire(self, owner: int) -> None:
        """Wait for the gate as connection ``owner``. After ``timeout`` it goes ahead
        anyway, so a stuck holder costs what it cost before: SQLite's busy timeout."""
        queue = self._background if is_background_thread() else self._foreground
        with self._lock:
            if self._owner is None and not self._foreground and not self._background:
                self._owner = owner
                return
            waiter = _Waiter(owner)
            queue.append(waiter)
        if waiter.granted.wait(self._timeout):
            return
        with self._lock:
            if waiter.granted.is_set():
                return
            queue.remove(waiter)
        log.warning("SQLite write gate busy for %ss; going ahead", self._timeout)

    def release(self, owner: int) -> None:
        """Hand the gate to the next waiter if connection ``owner`` holds it (a no-op
        otherwise, e.g. the pool's rollback of a connection that only read)."""
        with self._lock:
            if self._owner != owner:
                return
            queue = self._foreground or self._background
            if self._background and time.monotonic() - self._background[0].since > self._patience:
                queue = self._background
            if not queue:
                self._owner = None
                return
            waiter = queue.popleft()
            self._owner = waiter.owner
            waiter.granted.set()
