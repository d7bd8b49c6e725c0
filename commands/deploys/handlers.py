"""`/deploy`: parse what was typed into plain values, call one deploy flow, render."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from commands.common.dispatch import HELP_WORDS, CommandSpec, Usage, render_help
from commands.common.permissions import audited_refusals, mention
from commands.common.reply import Reply, SlashCommand, escape, quote_input, section
from commands.common.seams import Deps, require_config
from commands.deploys import modals as deploy_modals
from commands.deploys.policy_text import refusals_explained, render_verdict
from workflows.config import ShipbotConfig
from workflows.config.types import is_user_id
from workflows.deploys import queries
from workflows.deploys.decisions import cancel
from workflows.deploys.followups import NothingEarlier, rollback
from workflows.deploys.locks import AlreadyLocked, lock, unlock
from workflows.deploys.models import Deploy
from workflows.deploys.policy import evaluate, resolve_target
from workflows.deploys.requests import DeployAsk, Ports, request_deploy
from workflows.errors import Conflict, UserError

VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+/-]{0,127}")
BREAK_GLASS = "--break-glass"
REQUEST_USAGE = "/deploy <service> <version> [to] <environment> [reason...]"
LOCK_USAGE = "/deploy lock <env> [service] <reason>"
UNLOCK_USAGE = "/deploy unlock <env> [service] [reason]"


def ports_of(deps: Deps) -> Ports:
    return Ports(clock=deps.clock, config=require_config(deps), directory=deps.directory)


def check_version(version: str) -> str:
    if not VERSION_RE.fullmatch(version):
        raise UserError(
            f"`{quote_input(version)}` is not a version I can deploy.",
            hint="Versions are letters, digits and . _ + / - (up to 128), e.g. `1.4.2`.",
        )
    return version


def _ask(command: SlashCommand, deps: Deps) -> DeployAsk:
    """The request in the text, checked against the config (no store read)."""
    words = command.words
    if len(words) < 3:
        raise UserError("That deploy is missing something.", hint=f"Usage: `{REQUEST_USAGE}`")
    service, version, rest = words[0], words[1], words[2:]
    if rest[0].lower() == "to":
        rest = rest[1:]
    if not rest:
        raise UserError("Which environment?", hint=f"Usage: `{REQUEST_USAGE}`")
    environment, reason_words = rest[0], rest[1:]
    resolve_target(config=ports_of(deps).config, service=service, environment=environment)
    return DeployAsk(
        service=service,
        environment=environment,
        version=check_version(version),
        user=command.user_id,
        reason=" ".join(w for w in reason_words if w != BREAK_GLASS),
        break_glass=BREAK_GLASS in reason_words,
        channel=command.channel_id,
        delivery_key=command.delivery_key,
    )


def deferrable(command: SlashCommand, deps: Deps) -> bool:
    """A deploy request may run after the ack (``SHIPBOT_ACK_MODE=deferred``); its text is
    checked first, so a typo is still refused in the ack. Sub-commands answer inline."""
    words = command.words
    if not words or words[0].lower() in (*SPEC.handlers, *HELP_WORDS):
        return False
    _ask(command, deps)
    return True


def _request(command: SlashCommand, deps: Deps) -> Reply:
    ask = _ask(command, deps)
    with refusals_explained(), deps.database.transaction() as session:
        deploy = request_deploy(session=session, ports=ports_of(deps), ask=ask)
        answer = accepted(deploy)
    deps.wake_worker()
    return answer


def accepted(deploy: Deploy) -> Reply:
    if deploy.approvals_required:
        text = (
            f"Deploy #{deploy.id} of {deploy.service} {deploy.version} to {deploy.environment} "
            f"is waiting for {deploy.approvals_required} approval(s); the request is in "
            f"<#{deploy.approvals_channel}>."
        )
    else:
        text = (
            f"Deploy #{deploy.id} of {deploy.service} {deploy.version} to {deploy.environment} "
            f"is starting; follow it in <#{deploy.channel}>."
        )
    if deploy.override:
        text += " :rotating_light: Break-glass override recorded in the audit log."
    return Reply(text=text)


def _explain(command: SlashCommand, deps: Deps) -> Reply:
    words = command.words[1:]
    if len(words) not in (2, 3):
        raise UserError(
            "Explain what?", hint="Usage: `/deploy explain <service> <environment> [version]`"
        )
    ports = ports_of(deps)
    with deps.database.read_session() as session:
        verdict = evaluate(
            session=session,
            clock=ports.clock,
            config=ports.config,
            directory=ports.directory,
            user=command.user_id,
            service=words[0],
            environment=words[1],
            version=check_version(words[2]) if len(words) == 3 else None,
        )
    return render_verdict(verdict)


def _line(deploy: Deploy) -> str:
    state = deploy.state.replace("_", " ")
    when = f"{deploy.requested_at:%Y-%m-%d %H:%M}"
    override = " :rotating_light:" if deploy.override else ""
    by = deploy.requested_by
    who = f"<@{by}>" if is_user_id(by) else escape(by)  # "github:octocat": no mention
    return (
        f"#{deploy.id} `{escape(deploy.version)}` → {deploy.environment}: *{state}*{override} "
        f"· {who} · {when} UTC"
    )


def _status(command: SlashCommand, deps: Deps) -> Reply:
    config: ShipbotConfig = ports_of(deps).config
    words = command.words[1:]
    services = [words[0]] if words else sorted(config.services)
    lines = []
    with deps.database.read_session() as session:
        for service in services:
            if service not in config.services:
                resolve_target(config=config, service=service, environment="")  # raises
            for environment in config.environments_for(service):
                current = queries.current_release(
                    session=session, service=service, environment=environment
                )
                running = queries.in_flight(
                    session=session, service=service, environment=environment
                )
                locks = queries.locks_for(session=session, service=service, environment=environment)
                parts = [f"*{service}* in *{environment}*: "]
                parts.append(f"`{escape(current.version)}`" if current else "nothing deployed")
                if running:
                    parts.append(f" · in flight: {_line(running)}")
                if locks:
                    parts.append(
                        f" · :lock: locked by <@{locks[0].locked_by}>: {escape(locks[0].reason)}"
                    )
                lines.append("".join(parts))
    text = "\n".join(lines) or "No services configured."
    return Reply(text=text, blocks=[section(text[:2900])])


def _history(command: SlashCommand, deps: Deps) -> Reply:
    words = command.words[1:]
    if not words:
        raise UserError("History of which service?", hint="`/deploy history <service> [env]`")
    config = ports_of(deps).config
    environment = words[1] if len(words) > 1 else None
    first_env = config.ordered_environments()[0] if config.environments else ""
    resolve_target(config=config, service=words[0], environment=environment or first_env)
    with deps.database.read_session() as session:
        rows = queries.history(session=session, service=words[0], environment=environment)
        text = "\n".join(_line(d) for d in rows) or f"No deploys of {words[0]} yet."
    return Reply(text=text, blocks=[section(text[:2900])])


def _rollback(command: SlashCommand, deps: Deps) -> Reply:
    words = command.words[1:]
    usage = "`/deploy rollback <service> <environment> [to <version>]`"
    version = None
    if len(words) == 4 and words[2].lower() == "to":
        version = check_version(words[3])
    elif len(words) != 2:
        raise UserError("Roll back what?", hint=f"Usage: {usage}")
    with refusals_explained(), rollback_hint(), deps.database.transaction() as session:
        deploy = rollback(
            session=session,
            ports=ports_of(deps),
            service=words[0],
            environment=words[1],
            version=version,
            user=command.user_id,
            channel=command.channel_id,
            delivery_key=command.delivery_key,
        )
        answer = accepted(deploy)
    deps.wake_worker()
    return answer


@contextmanager
def rollback_hint() -> Iterator[None]:
    try:
        yield
    except NothingEarlier as error:
        error.hint = (
            f"Name one: `/deploy rollback {error.service} {error.environment} to <version>`."
        )
        raise


def deploy_id_of(text: str) -> int:
    cleaned = text.lstrip("#")
    if not cleaned.isdigit():
        raise UserError(
            f"`{quote_input(text)}` is not a deploy id.", hint="e.g. `/deploy cancel 12`"
        )
    return int(cleaned)


def _cancel(command: SlashCommand, deps: Deps) -> Reply:
    words = command.words[1:]
    if len(words) != 1:
        raise UserError("Cancel which deploy?", hint="Usage: `/deploy cancel <id>`")
    with deps.database.transaction() as session:
        deploy = cancel(
            session=session,
            ports=ports_of(deps),
            deploy_id=deploy_id_of(words[0]),
            user=command.user_id,
            delivery_key=command.delivery_key,
        )
        state = "cancelling" if deploy.state == "running" else deploy.state
    deps.wake_worker()
    return Reply(text=f"Deploy #{deploy.id}: {state}.")


def _lock(command: SlashCommand, deps: Deps) -> Reply:
    words = command.words[1:]
    ports = ports_of(deps)
    service = words[1] if len(words) > 1 and words[1] in ports.config.services else None
    reason = " ".join(words[2:] if service else words[1:])
    if not words or not reason.strip():
        raise UserError("Lock needs a reason.", hint=f"Usage: `{LOCK_USAGE}`")
    with _lock_answers(deps, ports, command), deps.database.transaction() as session:
        lock(
            session=session,
            ports=ports,
            environment=words[0],
            service=service,
            reason=reason,
            user=command.user_id,
            delivery_key=command.delivery_key,
        )
    scope = f"{service} in {words[0]}" if service else words[0]
    text = f":lock: {scope} is locked by {mention(command.user_id)}: {escape(reason)}"
    return Reply(text=text, response_type="in_channel")


def _unlock(command: SlashCommand, deps: Deps) -> Reply:
    words = command.words[1:]
    if not words:
        raise UserError("Unlock what?", hint=f"Usage: `{UNLOCK_USAGE}`")
    ports = ports_of(deps)
    service = words[1] if len(words) > 1 and words[1] in ports.config.services else None
    reason = " ".join(words[2:] if service else words[1:])
    with _lock_answers(deps, ports, command), deps.database.transaction() as session:
        lifted = unlock(
            session=session,
            ports=ports,
            environment=words[0],
            service=service,
            user=command.user_id,
            reason=reason,
            delivery_key=command.delivery_key,
        )
    scope = f"{service} in {words[0]}" if service else words[0]
    text = (
        f":unlock: {scope} is unlocked by {mention(command.user_id)}; "
        f"{mention(lifted.locked_by)} had locked it: {escape(lifted.reason)}"
    )
    if reason.strip():
        text += f"\nWhy: {escape(reason.strip())}"
    return Reply(text=text, response_type="in_channel")


@contextmanager
def _lock_answers(deps: Deps, ports: Ports, command: SlashCommand) -> Iterator[None]:
    """A refused lock or unlock, audited and worded with who may; a clash with whose lock."""
    channel = command.channel_id
    with audited_refusals(deps, ports.config, delivery_key=command.delivery_key, channel=channel):
        try:
            yield
        except AlreadyLocked as clash:
            by = f" by {mention(clash.locked_by)}: {escape(clash.reason)}"
            raise Conflict(clash.message.rstrip(".") + by) from clash


SPEC = CommandSpec(
    name="/deploy",
    purpose="Deploy a service from Slack, with approvals, locks and freeze windows "
    "from the config.",
    usages=(
        Usage(
            REQUEST_USAGE, "ask for a deploy (add `--break-glass <reason>` to override a freeze)"
        ),
        Usage("/deploy", "open a form to ask for a deploy"),
        Usage("/deploy status [service]", "what runs where, what is in flight, locks"),
        Usage("/deploy history <service> [env]", "the last ten deploys"),
        Usage(
            "/deploy rollback <service> <env> [to <version>]", "deploy the previous good version"
        ),
        Usage("/deploy cancel <id>", "cancel a deploy that waits or runs"),
        Usage(LOCK_USAGE, "stop deploys there"),
        Usage(UNLOCK_USAGE, "allow deploys again"),
        Usage(
            "/deploy explain <service> <env> [version]",
            "every rule: why you can or cannot deploy there now",
        ),
        Usage("/deploy help", "this help"),
    ),
    handlers={
        "status": _status,
        "history": _history,
        "rollback": _rollback,
        "cancel": _cancel,
        "lock": _lock,
        "unlock": _unlock,
        "explain": _explain,
    },
)


def handle(command: SlashCommand, deps: Deps) -> Reply:
    """`/deploy ...`: a sub-command, help, a bare form, or a deploy request."""
    words = command.words
    if not words:
        return Reply(
            text="Opening the deploy form…",
            modal=deploy_modals.request_modal(ports_of(deps).config),
        )
    sub = words[0].lower()
    if sub in HELP_WORDS:
        return render_help(SPEC)
    handler = SPEC.handlers.get(sub)
    if handler is not None:
        return handler(command, deps)
    return _request(command, deps)
