"""Bolt listeners for shortcuts and Events API events, as the domains registered them
(``bot.wiring``): the payload becomes a plain value (``commands.common.surfaces``) and
the domain's handler runs. Like ``bot.listeners``, only ``views.open`` (the trigger_id
lives 3 s) and the answer to the person happen here; the rest is jobs.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.deps import Deps
from commands.common.seams import EventHandler, ShortcutHandler
from commands.common.surfaces import AppEvent, Shortcut


def on_shortcut(app: App, deps: Deps, callback_id: str, handler: ShortcutHandler) -> None:
    def listener(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Any) -> None:
        shortcut = Shortcut.from_payload(body, delivery_key=context.get("delivery_key", ""))
        reply = handler(shortcut, deps)
        if reply is not None and reply.modal is not None:
            deps.client.views_open(trigger_id=shortcut.trigger_id, view=reply.modal)
            ack()
            return
        ack()
        if reply is None:
            return
        if body.get("response_url"):
            respond(text=reply.text, blocks=reply.blocks or None, response_type="ephemeral")
        elif shortcut.channel_id:
            deps.client.chat_postEphemeral(
                channel=shortcut.channel_id, user=shortcut.user_id, text=reply.text
            )

    app.shortcut(callback_id)(listener)


def on_event(app: App, deps: Deps, event_type: str, handler: EventHandler) -> None:
    def listener(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        handler(AppEvent.from_payload(body, delivery_key=context.get("delivery_key", "")), deps)
        ack()

    app.event(event_type)(listener)
