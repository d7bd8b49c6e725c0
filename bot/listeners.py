"""Bolt listeners for buttons and modals that hand plain values to ``commands/``.

A flow module registers its interactive pieces with ``on_action`` / ``on_submission``;
Slack payloads stop here. Errors go to the single error handler (``bot.errors``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.deps import Deps
from commands.common.reply import Action, Reply, Submission

ActionHandler = Callable[[Action, Any], Reply | None]
"""A click's answer: None (the stored state changed; its messages re-render), a Reply
shown only to the clicker, or a Reply with ``modal`` to open (e.g. "why reject?")."""

SubmissionHandler = Callable[[Submission, Any], dict[str, str] | None]
"""A modal's answer: None closes it; ``{block_id: message}`` shows field errors."""


def on_action(
    app: App, deps: Deps, action_id: str | re.Pattern[str], handler: ActionHandler
) -> None:
    def listener(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Any) -> None:
        action = Action.from_payload(body, delivery_key=context.get("delivery_key", ""))
        reply = handler(action, deps)
        ack()
        if reply is None:
            return
        if reply.modal is not None:
            deps.client.views_open(trigger_id=action.trigger_id, view=reply.modal)
        elif body.get("response_url"):
            respond(
                text=reply.text,
                blocks=reply.blocks or None,
                response_type="ephemeral",
                replace_original=False,
            )
        elif action.channel_id:
            deps.client.chat_postEphemeral(
                channel=action.channel_id,
                user=action.user_id,
                text=reply.text,
                blocks=reply.blocks or None,
            )

    app.action(action_id)(listener)


def on_submission(app: App, deps: Deps, callback_id: str, handler: SubmissionHandler) -> None:
    def listener(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        submission = Submission.from_payload(body, delivery_key=context.get("delivery_key", ""))
        errors = handler(submission, deps)
        if errors:
            ack(response_action="errors", errors=errors)
        else:
            ack()

    app.view(callback_id)(listener)
