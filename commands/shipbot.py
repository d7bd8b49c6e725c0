"""`/shipbot`: help and facts about the bot itself."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from commands import deploy, incident
from commands.dispatch import CommandSpec, Usage
from commands.reply import DIVIDER, Reply, SlashCommand, context, header, section


@cache  # reading package metadata costs about a millisecond: once per process is enough
def shipbot_version() -> str:
    try:
        return version("shipbot")
    except PackageNotFoundError:  # running from a source tree without an install
        return "unknown"


def _version(command: SlashCommand, deps: Any) -> Reply:
    return Reply(text=f"shipbot {shipbot_version()}")


def overview() -> Reply:
    """`/shipbot help`: every command and what it is for."""
    blocks: list[dict[str, Any]] = [header("shipbot help")]
    text_lines = []
    for spec in (deploy.SPEC, incident.SPEC, SPEC):
        usages = "\n".join(f"`{u.syntax}`  {u.summary}" for u in spec.usages)
        blocks += [section(f"*{spec.name}*  {spec.purpose}\n{usages}"), DIVIDER]
        text_lines.append(f"{spec.name}: {spec.purpose}\n{usages}")
    blocks.append(context(f"shipbot {shipbot_version()}. Add `help` after any command."))
    return Reply(text="\n".join(text_lines), blocks=blocks)


SPEC = CommandSpec(
    name="/shipbot",
    purpose="About the bot itself.",
    usages=(
        Usage("/shipbot help", "every shipbot command and what it does"),
        Usage("/shipbot version", "the running version"),
    ),
    handlers={"version": _version},
)


def handle(command: SlashCommand, deps: Any) -> Reply:
    words = command.words
    if not words or words[0].lower() in ("help", "-h", "--help", "?"):
        return overview()
    return SPEC.dispatch(command, deps)
