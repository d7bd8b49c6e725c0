"""`/shipbot`: help, facts about the bot itself, and reports by hand."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from commands.common.dispatch import CommandSpec, Usage
from commands.common.reply import (
    DIVIDER,
    Reply,
    SlashCommand,
    context,
    header,
    quote_input,
    section,
)
from commands.common.seams import Deps, require_config
from commands.deploys import handlers as deploy
from commands.incidents import handlers as incident
from commands.reports.views import render_list
from workflows.delivery import claim_delivery
from workflows.errors import UserError
from workflows.reports import manual


@cache  # reading package metadata costs about a millisecond: once per process is enough
def shipbot_version() -> str:
    try:
        return version("shipbot")
    except PackageNotFoundError:  # running from a source tree without an install
        return "unknown"


def _version(command: SlashCommand, deps: Deps) -> Reply:
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


REPORT_USAGE = "`/shipbot report list` or `/shipbot report run <name>`"


def _report_list(deps: Deps) -> Reply:
    config = require_config(deps)
    with deps.database.read_session() as session:
        listings = manual.list_reports(session=session, config=config, now=deps.clock.now())
    text, blocks = render_list(listings)
    return Reply(text=text, blocks=blocks)


def _report_run(command: SlashCommand, deps: Deps, name: str) -> Reply:
    config = require_config(deps)
    with deps.database.transaction() as session:
        if command.delivery_key:
            claim_delivery(
                session=session, clock=deps.clock, key=command.delivery_key, source="slack"
            )
        run = manual.run_now(
            session=session,
            clock=deps.clock,
            config=config,
            directory=deps.directory,
            report_name=name,
            user=command.user_id,
        )
    deps.wake_worker()
    return Reply(
        text=f"Running report `{run.report_name}` now; it will appear in <#{run.channel}>."
    )


def _report(command: SlashCommand, deps: Deps) -> Reply:
    """`/shipbot report list` and `/shipbot report run <name>`."""
    words = command.words[1:]
    sub = words[0].lower() if words else "list"
    if sub == "list" and len(words) <= 1:
        return _report_list(deps)
    if sub == "run" and len(words) == 2:
        return _report_run(command, deps, words[1])
    if sub == "run":
        raise UserError("Run which report?", hint=f"Usage: {REPORT_USAGE}")
    raise UserError(
        f"`/shipbot report {quote_input(' '.join(words))}` is not something I can do.",
        hint=f"Usage: {REPORT_USAGE}",
    )


SPEC = CommandSpec(
    name="/shipbot",
    purpose="About the bot itself, and its reports.",
    usages=(
        Usage("/shipbot help", "every shipbot command and what it does"),
        Usage("/shipbot version", "the running version"),
        Usage("/shipbot report list", "the scheduled reports, with their next run"),
        Usage("/shipbot report run <name>", "post a report now (approvers and break-glass)"),
    ),
    handlers={"version": _version, "report": _report},
)


def handle(command: SlashCommand, deps: Deps) -> Reply:
    words = command.words
    if not words or words[0].lower() in ("help", "-h", "--help", "?"):
        return overview()
    return SPEC.dispatch(command, deps)
