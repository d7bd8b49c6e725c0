"""Deferred acks (``SHIPBOT_ACK_MODE=deferred``): a write is stored, acknowledged, and run
as a job that answers through the request's ``response_url``.

In the default ``inline`` mode a `/deploy` runs its whole flow before the ack (policy,
locks, the deploy, its audit entry, its jobs: 13 statements, 11 to 14 ms of CPU on
PostgreSQL). Under a burst those requests queue behind each other and the ack's p99 grows
with the queue (docs/performance.md). Here the listener stores the request as one job row
(the intent is durable before the ack, rule 1), answers "received", and the worker runs
the same domain handler with the same delivery key, so the flow's own claim still makes a
retried or double-clicked request count once (rule 2).

What the person sees changes: the ack says "received", and the answer (accepted, or a
refusal naming the lock or freeze) follows as a second ephemeral message a moment later.
A request the domain can refuse from the text alone (an unknown service, a bad version)
is still refused in the ack: the domain's deferral check runs first.

A first delivery is dispatched in the event loop (bot/loop_lane.py): ``_store`` then
queues its row (``writes``) and the HTTP route sends the ack once it is committed.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from slack_sdk.webhook import WebhookClient

from bot.deps import Deps
from bot.errors import internal_error_text, new_error_id, user_error_text
from bot.loop_lane import LoopWrites
from commands.common.reply import Action, Reply, SlashCommand, quote_input
from commands.common.seams import ActionHandler, CommandHandler
from workflows.errors import DuplicateDelivery, UserError
from workflows.jobs import JobContext, JobHandler
from workflows.redact import redact

log = logging.getLogger("shipbot.deferred")
Request = TypeVar("Request", SlashCommand, Action)

COMMAND_JOB = "slack.deferred_command"
ACTION_JOB = "slack.deferred_action"
# A response_url takes answers for 30 minutes; retries (2 s, 4 s, 8 s ... with jitter)
# stay well inside that.
MAX_ATTEMPTS = 5
RESPONSE_TIMEOUT = 10  # seconds
# The person who typed it is waiting: a deferred request sorts ahead of every job already
# due (a worker claims the earliest ``run_after`` first), renders and backend polls included.
AHEAD_OF_THE_QUEUE = timedelta(days=1)


def _job_key(delivery_key: str) -> str:
    # A delivery without a key (Slack always sends one) still gets exactly one job.
    return f"deferred:{delivery_key or uuid.uuid4().hex}"


def _store(
    deps: Deps,
    *,
    kind: str,
    payload: dict[str, Any],
    delivery_key: str,
    writes: LoopWrites | None,
) -> None:
    row = deps.job_intake.row(
        kind=kind,
        payload=payload,
        idempotency_key=_job_key(delivery_key),
        run_after=deps.clock.now() - AHEAD_OF_THE_QUEUE,
        max_attempts=MAX_ATTEMPTS,
    )
    if writes is not None:  # in the event loop: the ack waits for this commit there
        writes.add(deps.job_intake.enqueue_nowait(row))
        return
    deps.job_intake.enqueue(row)
    deps.wake_worker()


def _payload(request: SlashCommand | Action, response_url: str) -> dict[str, Any]:
    # The trigger_id is dropped: it expires 3 s after the request, before any job runs.
    return {**dataclasses.asdict(request), "trigger_id": "", "response_url": response_url}


def _restored(kind: type[Request], payload: Mapping[str, Any]) -> Request:
    names = {field.name for field in dataclasses.fields(kind)}
    return kind(**{name: value for name, value in payload.items() if name in names})


def store_command(
    deps: Deps, command: SlashCommand, *, response_url: str, writes: LoopWrites | None = None
) -> Reply:
    """Store ``command`` for the worker (a repeat of its delivery stores nothing new) and
    return the ack that says so. With ``writes`` (the event loop's lane) the row is
    committed before the ack is sent, not before this returns."""
    payload = _payload(command, response_url)
    _store(
        deps, kind=COMMAND_JOB, payload=payload, delivery_key=command.delivery_key, writes=writes
    )
    typed = quote_input(f"{command.command} {command.text}", limit=80)
    return Reply(text=f":hourglass_flowing_sand: Received `{typed}`. The answer follows here.")


def store_action(
    deps: Deps, action: Action, *, response_url: str, writes: LoopWrites | None = None
) -> None:
    """Store a click for the worker; the click's ack is empty, as it is inline."""
    payload = _payload(action, response_url)
    _store(deps, kind=ACTION_JOB, payload=payload, delivery_key=action.delivery_key, writes=writes)


def send_reply(response_url: str, reply: Reply) -> None:
    """Post ``reply`` (ephemeral, a new message) to ``response_url``, redacted on its way
    out; a refusal from Slack is logged."""
    body = redact({"text": reply.text, "blocks": reply.blocks or None})
    response = WebhookClient(response_url, timeout=RESPONSE_TIMEOUT).send(
        text=body["text"],
        blocks=body["blocks"],
        response_type="ephemeral",
        replace_original=False,
    )
    if response.status_code != 200:
        log.warning("a deferred answer was refused by its response_url: %s", response.status_code)


def _run(context: JobContext, call: Callable[[], Reply | None]) -> None:
    """Run a deferred handler and answer through the stored response_url.

    A refusal (``UserError``) is the answer. A repeat of a delivery that already ran
    answers nothing. Anything unexpected is retried with backoff (the flow's transaction
    rolled back, so nothing happened); the last attempt tells the person, with an error id.
    """
    job = context.job
    response_url = str(job.payload.get("response_url") or "")
    try:
        reply = call()
    except DuplicateDelivery:
        log.info("deferred job %s: its delivery was already handled", job.id)
        return
    except UserError as error:
        reply = Reply(text=user_error_text(error))
    except Exception:
        if job.attempts < job.max_attempts:
            raise
        error_id = new_error_id()
        log.exception("deferred job %s failed for good (error id %s)", job.id, error_id)
        reply = Reply(text=internal_error_text(error_id))
    if reply is None or not response_url:
        return
    try:
        send_reply(response_url, reply)
    except Exception:  # the flow committed; the card in the channel shows its outcome
        log.warning("could not post a deferred answer (job %s)", job.id, exc_info=True)


def command_job(*, handlers: Mapping[str, CommandHandler], deps: Deps) -> JobHandler:
    """The worker's side of ``store_command``: the domain's own handler, run now."""

    def run(context: JobContext) -> None:
        command = _restored(SlashCommand, context.job.payload)
        handler = handlers[command.command]
        _run(context, lambda: handler(command, deps))

    return run


def action_job(*, handlers: Mapping[str, ActionHandler], deps: Deps) -> JobHandler:
    """The worker's side of ``store_action``."""

    def run(context: JobContext) -> None:
        action = _restored(Action, context.job.payload)
        handler = handlers[action.action_id]
        _run(context, lambda: handler(action, deps))

    return run
