"""The seam between the Slack transport (``commands/``) and the runtime (``bot/``).

A domain package (``commands/deploys``, ``commands/incidents`` ...) exposes
``register(registry: Registry) -> None`` and declares there everything Slack about it:
its slash command, buttons, modals, message renderers and the jobs that call Slack. The
runtime implements ``Registry`` (``bot.wiring.Wiring``) and hands every handler a
``Deps``. Both are Protocols, so ``commands/`` never imports ``bot/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from slack_sdk import WebClient
from sqlmodel import Session

from commands.common.reply import Action, Reply, SlashCommand, Submission
from commands.common.surfaces import AppEvent, Shortcut
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.deploys.directory import Directory
from workflows.errors import UserError
from workflows.jobs import JobHandler
from workflows.store.db import Database


class Deps(Protocol):
    """What every listener and Slack job is handed."""

    database: Database
    clock: Clock
    client: WebClient
    config: ShipbotConfig | None
    directory: Directory

    def wake_worker(self) -> None:
        """Work was enqueued: wake an idle worker instead of waiting for its next poll."""


@dataclass(frozen=True)
class RenderedMessage:
    """What a message should show now."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    unfurl: bool = False


Renderer = Callable[[Session, str], RenderedMessage | None]
"""Builds the message of a view key from the stored object, in the render job's read
session; None when nothing should show (the message is left as it is)."""

CommandHandler = Callable[[SlashCommand, Deps], Reply]
"""A slash command's answer, shown only to the user who typed it."""

ActionHandler = Callable[[Action, Deps], Reply | None]
"""A click's answer: None (the stored state changed; its messages re-render), a Reply
shown only to the clicker, or a Reply with ``modal`` to open (e.g. "why reject?")."""

SubmissionHandler = Callable[[Submission, Deps], dict[str, str] | None]
"""A modal's answer: None closes it; ``{block_id: message}`` shows field errors."""

ShortcutHandler = Callable[[Shortcut, Deps], Reply | None]
"""A shortcut's answer: None, a Reply shown only to the user, or one with ``modal``."""

EventHandler = Callable[[AppEvent, Deps], None]
"""An Events API event: writes what it implies (jobs); answers nothing."""

DeferCheck = Callable[[SlashCommand, Deps], bool]
"""Whether a slash command's request may be acknowledged "received" and run as a job
(``SHIPBOT_ACK_MODE=deferred``): True for a write whose answer needs no modal. It may
raise ``UserError`` to refuse at once what the text alone shows to be wrong."""


class Registry(Protocol):
    """Where a domain declares its Slack pieces; implemented by the runtime."""

    @property
    def deps(self) -> Deps:
        """The dependencies handlers will be called with (config may be None in tests)."""

    @property
    def state_dir(self) -> Path:
        """A directory this process may keep files in (e.g. command backend runs)."""

    def command(
        self, name: str, handler: CommandHandler, *, deferrable: DeferCheck | None = None
    ) -> None:
        """A slash command (``/deploy``); ``app_manifest.yaml`` must declare it.
        ``deferrable`` picks the requests that may run after the ack (``DeferCheck``)."""

    def action(
        self, action_id: str | re.Pattern[str], handler: ActionHandler, *, deferrable: bool = False
    ) -> None:
        """A button or menu by its ``action_id``. ``deferrable``: a click that only writes
        and answers in text may run after the ack (``SHIPBOT_ACK_MODE=deferred``)."""

    def submission(self, callback_id: str, handler: SubmissionHandler) -> None:
        """A modal by its ``callback_id``."""

    def shortcut(self, callback_id: str, handler: ShortcutHandler) -> None:
        """A global or message shortcut by its ``callback_id`` (declared in the manifest)."""

    def event(self, event_type: str, handler: EventHandler) -> None:
        """An Events API event by its type (``app_home_opened``; declared in the manifest)."""

    def renderer(self, prefix: str, render: Renderer) -> None:
        """The renderer of every view key starting with ``prefix`` (``"deploy:"``)."""

    def job(self, kind: str, handler: JobHandler) -> None:
        """The handler of a durable job kind. A ``SlackApiError`` it raises becomes the
        job's outcome through the runtime's one Slack-error mapper (429 waits for
        ``Retry-After``, permanent errors give up, the rest retries with backoff)."""


def require_config(deps: Deps) -> ShipbotConfig:
    """The loaded config; a runtime started without one answers every domain command
    with this error instead of failing."""
    if deps.config is None:
        raise UserError("shipbot has no config loaded.", hint="Start it with SHIPBOT_CONFIG set.")
    return deps.config
