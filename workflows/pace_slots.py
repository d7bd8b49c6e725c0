"""A job's turn to send to a paced destination (a channel, one person's Home).

Every job that sends to Slack waits for a slot of ``views.reserve_send_slot``. A slot
within ``MAX_SLOT_WAIT`` is slept for in the worker thread. A further one is booked
anyway (the job's place in the destination's queue), kept in the job's payload and the
job postponed to it; at that time it sends without booking again. Postponed to the next
free slot without booking it, every job waiting for a destination came back at the same
moment and all but one or two were postponed again, five transactions each.

A job posts only within one interval of its slot: one that slept for its slot and then
gave way to Slack requests past it, or whose kept slot the worker claimed late, books
the next free one, since the next slot's message may be going out now.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from workflows import views
from workflows.jobs import JobContext, RetryLater
from workflows.store.models import Job

MAX_SLOT_WAIT = timedelta(seconds=1.5)
# In a job's payload: the slot a postponed run booked, where, and for which attempt (a
# claim counts one, a postponement gives it back; after a failure the count differs, so
# a slot that may have been used already is not used again).
SLOT_KEY = "send_slot"
# Slots booked in one run before it is postponed (each that passed while the job gave way
# to Slack requests is booked anew, so a steady stream of requests cannot keep it here).
_SLOT_TRIES = 3


class PaceSlot:
    """One job run's slots. Call ``wait`` before each send; pass every ``RetryLater`` the
    run raises afterwards through ``forget_spent``."""

    def __init__(
        self,
        context: JobContext,
        *,
        interval: timedelta = timedelta(seconds=1),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.context = context
        self.interval = interval
        self.sleep = sleep
        payload = context.job.payload
        self.payload = {key: value for key, value in payload.items() if key != SLOT_KEY}
        self.reserved = _reserved_slot(context.job)
        self.taken = False  # this run used a slot it had booked before

    def wait(self, destination: str) -> None:
        """Return when ``destination`` may get the next message, or raise ``RetryLater``
        to come back at the slot booked for it."""
        clock = self.context.clock
        for _ in range(_SLOT_TRIES):
            slot = self._take_reserved(destination) or views.reserve_send_slot(
                database=self.context.database,
                clock=clock,
                channel=destination,
                interval=self.interval,
            )
            if slot - clock.now() > MAX_SLOT_WAIT:
                # Keep the place in the queue instead of sleeping in a worker thread.
                held = {"at": slot.isoformat(), "channel": destination, "attempt": self._attempt}
                raise RetryLater(
                    slot,
                    reason=f"{destination} is booked until {slot.isoformat()}",
                    payload={**self.payload, SLOT_KEY: held},
                )
            wait = (slot - clock.now()).total_seconds()
            if wait > 0:
                self.sleep(wait)
            # A burst of Slack requests may have begun while this job slept: they go first.
            self.context.give_way()
            if clock.now() - slot < self.interval:
                return
        raise RetryLater(timedelta(0), reason=f"{destination}: its slots passed while waiting")

    def forget_spent(self, later: RetryLater) -> None:
        """A run that used its booked slot and is postponed for another reason books anew
        next time."""
        if self.taken and later.payload is None:
            later.payload = self.payload

    @property
    def _attempt(self) -> int:
        return self.context.job.attempts

    def _take_reserved(self, destination: str) -> datetime | None:
        reserved, self.reserved = self.reserved, None
        if reserved is None or reserved[0] != destination:
            return None
        self.taken = True
        return reserved[1]


def _reserved_slot(job: Job) -> tuple[str, datetime] | None:
    """(destination, slot) that the previous run of ``job`` booked, if that run was this
    attempt's (see ``SLOT_KEY``)."""
    held: Any = job.payload.get(SLOT_KEY)
    if not isinstance(held, dict) or held.get("attempt") != job.attempts:
        return None
    try:
        return str(held["channel"]), datetime.fromisoformat(str(held["at"]))
    except (KeyError, ValueError):
        return None
