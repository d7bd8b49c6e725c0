"""Bolt listeners that turn Slack payloads into plain values for ``commands/``: slash
commands, buttons and modals, as the domains registered them (``bot.wiring``). Slack
payloads stop here. Errors go to the single error handler (``bot.errors``).
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot import deferred
from bot.deps import Deps
from bot.loop_lane import in_thread_only, loop_writes
from commands.common.reply import Action, SlashCommand, Submission
from commands.common.seams import ActionHandler, CommandHandler, DeferCheck, SubmissionHandler


def on_command(
    app: App, deps: Deps, name: str, handler: CommandHandler, defer: DeferCheck | None = None
) -> None:
    def listener(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
        request = SlashCommand.from_payload(command, delivery_key=context.get("delivery_key", ""))
        response_url = str(command.get("response_url") or "")
        if deps.defer_writes and defer is not None and response_url and defer(request, deps):
            writes = loop_writes(context)
            reply = deferred.store_command(deps, request, response_url=response_url, writes=writes)
            ack(**reply.as_response())
            return
        in_thread_only(context)
        reply = handler(request, deps)
        if reply.modal is not None:
            # trigger_id lives 3 s; the listener runs before the ack, well inside that.
            deps.client.views_open(trigger_id=request.trigger_id, view=reply.modal)
            ack()
            return
        ack(**reply.as_response())

    app.command(name)(listener)


def on_action(
    app: App,
    deps: Deps,
    action_id: str | re.Pattern[str],
    handler: ActionHandler,
    *,
    deferrable: bool = False,
) -> None:
    def listener(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Any) -> None:
        action = Action.from_payload(body, delivery_key=context.get("delivery_key", ""))
        response_url = str(body.get("response_url") or "")
        if deps.defer_writes and deferrable and response_url:
            writes = loop_writes(context)
            deferred.store_action(deps, action, response_url=response_url, writes=writes)
            ack()
            return
        in_thread_only(context)
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
