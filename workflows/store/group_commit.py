"""Group commit: small independent writes from many threads, committed together.

A deferred Slack request is one row that must be committed before its ack (rule 1). Under
a burst, fifty threads each opening a transaction for one row pay fifty BEGINs, fifty
statement executions and fifty COMMITs (on SQLite fifty WAL syncs, one at a time behind
the write gate). Here the first thread to arrive writes its row, and every row that
arrives while that transaction is open waits and goes into the next one, all at once:
the classic group commit of database logs. A lone request pays what it paid before; a
burst pays one transaction per wave.

Each ``submit`` returns only once the transaction holding its item has committed, and
raises if it did not. ``submit_nowait`` is for a caller that must not block (the event
loop): it returns a future, and a committer thread of the group writes the batch.

When a transaction of several items fails, each of them is written again in a
transaction of its own, so one bad item fails alone; when the database cannot
be reached, they all fail at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError

Item = TypeVar("Item")

_UNREACHABLE = (OperationalError, InterfaceError)

Write = Callable[[Connection, Sequence[Item]], None]
"""Writes the items with the connection, inside a transaction the caller commits."""


@dataclass(eq=False)
class _Waiter(Generic[Item]):
    """One item's caller: a thread blocked in ``submit`` (``wake``, which may be asked to
    lead the next batch) or a ``submit_nowait`` caller (``future``, never asked to lead;
    no Event to build, which showed in a profile of the event loop's hot path)."""

    item: Item
    wake: threading.Event | None = None
    future: Future[None] | None = None
    done: bool = False
    error: BaseException | None = None

    def finish(self) -> None:
        self.done = True
        if self.wake is not None:
            self.wake.set()
        if self.future is not None:
            if self.error is None:
                self.future.set_result(None)
            else:
                self.future.set_exception(self.error)


class GroupCommit(Generic[Item]):
    """``submit`` from any thread; at most one transaction of this group is open at a time,
    and it carries every item that was waiting when it began."""

    def __init__(self, engine: Engine, write: Write[Item]) -> None:
        self._engine = engine
        self._write = write
        self._lock = threading.Lock()
        self._waiting: list[_Waiter[Item]] = []
        self._writing = False
        self._committer: ThreadPoolExecutor | None = None

    @property
    def queued(self) -> int:
        """How many items wait for the next transaction (the open one's not counted)."""
        with self._lock:
            return len(self._waiting)

    def submit(self, item: Item) -> None:
        """Write ``item`` and return once it is committed (raises the write's error)."""
        wake = threading.Event()
        me = _Waiter(item, wake=wake)
        if not self._queue(me):
            wake.wait()  # set when a batch wrote this item, or to make this one lead
        if not me.done:
            self._lead()
        if me.error is not None:
            raise me.error

    def submit_nowait(self, item: Item) -> Future[None]:
        """Queue ``item`` and return at once: the future resolves once it is committed (or
        carries the write's error). The batch is written on the group's committer thread
        unless a ``submit`` caller is leading already."""
        future: Future[None] = Future()
        if self._queue(_Waiter(item, future=future)):
            self._commit_in_background()
        return future

    def _queue(self, waiter: _Waiter[Item]) -> bool:
        """Queue ``waiter``; True when nobody is writing, so its caller starts the batch."""
        with self._lock:
            self._waiting.append(waiter)
            leads = not self._writing
            self._writing = True
        return leads

    def _commit_in_background(self) -> None:
        with self._lock:
            if self._committer is None:
                self._committer = ThreadPoolExecutor(1, thread_name_prefix="shipbot-commit")
            committer = self._committer
        committer.submit(self._lead)

    def _lead(self) -> None:
        """Write everything waiting (this thread's item among it), then hand the lead to
        the first of those that arrived meanwhile, or put it down."""
        with self._lock:
            batch, self._waiting = self._waiting, []
        written = False
        try:
            self._write_batch(batch)
            written = True
        finally:
            for waiter in batch:
                if not written and waiter.error is None:  # interrupted mid-write
                    waiter.error = RuntimeError("the group commit was interrupted")
                waiter.finish()
            with self._lock:
                following = self._waiting[0] if self._waiting else None
                self._writing = following is not None
            if following is not None and following.wake is not None:
                following.wake.set()  # not done: it leads the next batch
            elif following is not None:
                self._commit_in_background()

    def _write_batch(self, batch: list[_Waiter[Item]]) -> None:
        try:
            self._commit([waiter.item for waiter in batch])
            return
        except Exception as error:
            if len(batch) == 1 or isinstance(error, _UNREACHABLE):
                # No item is to blame when the database cannot be reached: trying each
                # alone would only make every caller wait out the failure once per item.
                for waiter in batch:
                    waiter.error = error
                return
        for waiter in batch:  # find the bad item: each alone
            try:
                self._commit([waiter.item])
            except Exception as error:
                waiter.error = error

    def _commit(self, items: Sequence[Item]) -> None:
        with self._engine.begin() as connection:
            self._write(connection, items)
