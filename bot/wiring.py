"""The runtime's side of the domain seam: ``Wiring`` collects what each domain in
``commands.DOMAINS`` registers (``commands.common.seams.Registry``), and ``Runtime``
builds the Bolt app, the worker and the renderers from it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bot.deps import Deps
from bot.sender import RendererRegistry
from bot.slack_errors import slack_errors_as_job_outcomes
from commands import DOMAINS
from commands.common.seams import (
    ActionHandler,
    CommandHandler,
    DeferCheck,
    EventHandler,
    Renderer,
    ShortcutHandler,
    SubmissionHandler,
)
from workflows.jobs import JobHandler


@dataclass
class Wiring:
    """Implements ``Registry``: every slash command, button, modal, renderer and job
    handler the domains declared."""

    deps: Deps
    state_dir: Path
    renderers: RendererRegistry = field(default_factory=RendererRegistry)
    commands: dict[str, CommandHandler] = field(default_factory=dict)
    actions: list[tuple[str | re.Pattern[str], ActionHandler]] = field(default_factory=list)
    submissions: dict[str, SubmissionHandler] = field(default_factory=dict)
    job_handlers: dict[str, JobHandler] = field(default_factory=dict)
    shortcuts: dict[str, ShortcutHandler] = field(default_factory=dict)
    events: dict[str, EventHandler] = field(default_factory=dict)
    # What may run after the ack under SHIPBOT_ACK_MODE=deferred (bot/deferred.py).
    deferrable_commands: dict[str, DeferCheck] = field(default_factory=dict)
    deferrable_actions: dict[str, ActionHandler] = field(default_factory=dict)

    def command(
        self, name: str, handler: CommandHandler, *, deferrable: DeferCheck | None = None
    ) -> None:
        _add_once(self.commands, name, handler, "slash command")
        if deferrable is not None:
            self.deferrable_commands[name] = deferrable

    def action(
        self, action_id: str | re.Pattern[str], handler: ActionHandler, *, deferrable: bool = False
    ) -> None:
        self.actions.append((action_id, handler))
        if deferrable:
            if not isinstance(action_id, str):
                raise ValueError("only an action_id given as a string can be deferrable")
            _add_once(self.deferrable_actions, action_id, handler, "deferrable action")

    def submission(self, callback_id: str, handler: SubmissionHandler) -> None:
        _add_once(self.submissions, callback_id, handler, "modal callback")

    def shortcut(self, callback_id: str, handler: ShortcutHandler) -> None:
        _add_once(self.shortcuts, callback_id, handler, "shortcut")

    def event(self, event_type: str, handler: EventHandler) -> None:
        _add_once(self.events, event_type, handler, "event")

    def renderer(self, prefix: str, render: Renderer) -> None:
        self.renderers.register(prefix, render)

    def job(self, kind: str, handler: JobHandler) -> None:
        _add_once(self.job_handlers, kind, slack_errors_as_job_outcomes(handler), "job kind")


T = TypeVar("T")


def _add_once(table: dict[str, T], key: str, value: T, what: str) -> None:
    if key in table:
        raise ValueError(f"a handler for {what} {key!r} is already registered")
    table[key] = value


def wire_domains(*, deps: Deps, state_dir: Path) -> Wiring:
    """Every domain registered, in ``commands.DOMAINS`` order."""
    wiring = Wiring(deps=deps, state_dir=state_dir)
    for register in DOMAINS:
        register(wiring)
    return wiring
