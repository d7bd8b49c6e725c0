"""Sub-command dispatch shared by the slash commands: `/cmd <sub> ...` or `/cmd help`."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from commands.common.reply import Reply, SlashCommand, context, header, quote_input, section
from commands.common.seams import Deps
from workflows.errors import UserError

Handler = Callable[[SlashCommand, Any], Reply]


HELP_WORDS = ("help", "-h", "--help", "?")
"""What asks any command for its help text."""


@dataclass(frozen=True)
class Usage:
    """One line of help: how to call it and what it does."""

    syntax: str
    summary: str


@dataclass(frozen=True)
class CommandSpec:
    """A slash command: its name, what it is for, and its sub-commands."""

    name: str
    purpose: str
    usages: tuple[Usage, ...]
    handlers: Mapping[str, Handler]
    default: str = "help"

    def dispatch(self, command: SlashCommand, deps: Deps) -> Reply:
        words = command.words
        sub = words[0].lower() if words else self.default
        if sub in HELP_WORDS:
            return render_help(self)
        handler = self.handlers.get(sub)
        if handler is None:
            raise unknown_subcommand(self, sub)
        return handler(command, deps)


def unknown_subcommand(spec: CommandSpec, sub: str) -> UserError:
    known = sorted({*spec.handlers, "help"})
    close = difflib.get_close_matches(sub, known, n=1)
    hint = f"Did you mean `{spec.name} {close[0]}`? " if close else ""
    return UserError(
        f"`{spec.name} {quote_input(sub)}` is not a command I know.",
        hint=f"{hint}Try `{spec.name} help` for what you can do.",
    )


def render_help(spec: CommandSpec) -> Reply:
    lines = "\n".join(f"`{usage.syntax}`  {usage.summary}" for usage in spec.usages)
    blocks = [
        header(f"{spec.name} help"),
        section(spec.purpose),
        section(lines),
        context("`/shipbot help` lists every shipbot command."),
    ]
    return Reply(text=f"{spec.name}: {spec.purpose}\n{lines}", blocks=blocks)
