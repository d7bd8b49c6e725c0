"""`/incident`: declare and run incidents, plus the card's buttons and modals.

Parsing and replies live here; the changes are ``workflows.incidents`` functions, each in
one transaction with its delivery claim, timeline event, audit entry and jobs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from commands.common.dispatch import CommandSpec, Usage
from commands.common.reply import Action, Reply, SlashCommand, Submission, quote_input
from commands.common.seams import Deps
from commands.incidents import views
from workflows.config.models import ShipbotConfig
from workflows.config.types import is_user_id
from workflows.errors import NotFound, UserError
from workflows.incidents import changes, declare, queries, reminders
from workflows.incidents.models import Incident, IncidentStatus
from workflows.incidents.naming import parse_severity

_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
_INCIDENT_ID = re.compile(r"^#(\d+)$")
_WHERE_HINT = (
    "Run it in the incident's channel, or name the incident first, e.g. "
    "`/incident status #12 identified bad cache config`. `/incident list` shows them."
)


def _config(deps: Deps) -> ShipbotConfig:
    # Incidents work on the defaults (SEV1-SEV4, anyone may declare) without a config.
    return deps.config if deps.config is not None else ShipbotConfig()


def _split(text: str, count: int) -> list[str]:
    """The first ``count`` words and then the rest of ``text`` as typed (if any)."""
    return text.split(maxsplit=count)


def parse_user(word: str, config: ShipbotConfig) -> str:
    """A Slack user id from ``<@U0BOB|bob>``, ``<@U0BOB>``, ``U0BOB`` or a configured
    name (``@bob``, when Slack sends mentions unescaped)."""
    match = _MENTION.match(word)
    if match:
        return match.group(1)
    if is_user_id(word):
        return word
    wanted = word.removeprefix("@").lower()
    for user_id, user in config.users.items():
        if wanted in (user.name.lower(), (user.display_name or "").lower()):
            return user_id
    raise UserError(
        f"I can't tell who {quote_input(word)} is.",
        hint="Mention them: `/incident assign commander @bob`.",
    )


def _change(deps: Deps, change: Callable[..., Any], **arguments: Any) -> Any:
    """Run one workflow change in its own transaction, then wake the worker for its jobs."""
    with deps.database.transaction() as session:
        result = change(session=session, clock=deps.clock, **arguments)
    deps.wake_worker()
    return result


def _by(command: SlashCommand) -> dict[str, Any]:
    """Who asked, where, and the delivery to claim (the same for every change)."""
    return {
        "actor": command.user_id,
        "delivery_key": command.delivery_key,
        "channel": command.channel_id,
    }


def _target(command: SlashCommand, deps: Deps, rest: str) -> tuple[Incident, str]:
    """The incident a command is about, and the rest of its text: a leading ``#12`` or
    ``<#C...>`` names it, else it is the incident of the channel the command came from."""
    words = _split(rest, 1)
    first = words[0] if words else ""
    with deps.database.read_session() as session:
        if match := _INCIDENT_ID.match(first):
            incident = queries.require_incident(session=session, incident_id=int(match[1]))
            return incident, words[1] if len(words) > 1 else ""
        if match := _CHANNEL.match(first):
            found = queries.incident_for_channel(session=session, channel_id=match[1])
            if found is None:
                raise NotFound(f"{first} is not an incident channel", hint=_WHERE_HINT)
            return found, words[1] if len(words) > 1 else ""
        found = queries.incident_for_channel(session=session, channel_id=command.channel_id)
    if found is None:
        raise UserError("This channel is not an incident channel.", hint=_WHERE_HINT)
    return found, rest


def _args(command: SlashCommand) -> str:
    words = _split(command.text, 1)
    return words[1] if len(words) > 1 else ""


def _id(incident: Incident) -> int:
    assert incident.id is not None
    return incident.id


# --- slash sub-commands ---------------------------------------------------------------


def _declare(command: SlashCommand, deps: Deps) -> Reply:
    config = _config(deps)
    rest = _args(command)
    if not rest:
        modal = views.declare_modal(config, channel=command.channel_id)
        return Reply(text="Opening the declare form.", modal=modal)
    severity_word, *more = _split(rest, 1)
    severity = parse_severity(severity_word)
    remainder = more[0] if more else ""
    service: str | None = None
    words = _split(remainder, 1)
    if words and words[0] in config.services:
        service, remainder = words[0], (words[1] if len(words) > 1 else "")
    incident = _change(
        deps,
        declare.declare,
        config=config,
        severity=severity,
        title=remainder,
        service=service,
        **_by(command),
    )
    return Reply(text=views.declared_reply_text(incident))


def _status(command: SlashCommand, deps: Deps) -> Reply:
    incident, rest = _target(command, deps, _args(command))
    words = _split(rest, 1)
    if not words:
        raise UserError(
            "Which status, and what is the latest?",
            hint="`/incident status <investigating|identified|monitoring|resolved> <message>`",
        )
    status, message = words[0], (words[1] if len(words) > 1 else "")
    updated = _change(
        deps,
        changes.update_status,
        config=_config(deps),
        incident_id=_id(incident),
        status=status,
        message=message,
        **_by(command),
    )
    return Reply(text=views.changed_reply_text(updated, f"status is *{updated.status}*"))


def _severity(command: SlashCommand, deps: Deps) -> Reply:
    incident, rest = _target(command, deps, _args(command))
    if not rest.strip():
        raise UserError("Which severity?", hint="`/incident sev <1-4|SEV1..SEV4>`")
    updated = _change(
        deps,
        changes.change_severity,
        config=_config(deps),
        incident_id=_id(incident),
        severity=rest.split()[0],
        **_by(command),
    )
    return Reply(text=views.changed_reply_text(updated, f"severity is *{updated.severity}*"))


def _assign(command: SlashCommand, deps: Deps) -> Reply:
    incident, rest = _target(command, deps, _args(command))
    words = rest.split()
    if len(words) != 2:
        raise UserError(
            "Give a role and a person.", hint="`/incident assign <commander|comms|scribe> @user`"
        )
    role, user = words[0].lower(), parse_user(words[1], _config(deps))
    updated = _change(
        deps, changes.assign_role, incident_id=_id(incident), role=role, user=user, **_by(command)
    )
    return Reply(text=views.changed_reply_text(updated, f"<@{user}> is the {role}"))


def _note(command: SlashCommand, deps: Deps) -> Reply:
    incident, rest = _target(command, deps, _args(command))
    _change(deps, changes.add_note, incident_id=_id(incident), text=rest, **_by(command))
    return Reply(text=views.changed_reply_text(incident, "note added to the timeline"))


def _resolve(command: SlashCommand, deps: Deps) -> Reply:
    incident, rest = _target(command, deps, _args(command))
    if incident.status == IncidentStatus.resolved:
        raise UserError(f"incident #{incident.id} is resolved already")
    if not rest.strip():
        return Reply(text="Opening the resolve form.", modal=views.resolve_modal(incident))
    resolved = _change(
        deps,
        changes.resolve,
        config=_config(deps),
        incident_id=_id(incident),
        summary=rest,
        **_by(command),
    )
    return Reply(
        text=views.changed_reply_text(resolved, "resolved; a postmortem draft is on its way")
    )


def _timeline(command: SlashCommand, deps: Deps) -> Reply:
    incident, _rest = _target(command, deps, _args(command))
    with deps.database.read_session() as session:
        events = queries.timeline(session=session, incident_id=_id(incident))
    text, blocks = views.timeline_reply(incident, events)
    return Reply(text=text, blocks=blocks)


def _list(command: SlashCommand, deps: Deps) -> Reply:
    with deps.database.read_session() as session:
        incidents = queries.open_incidents(session=session)
    text, blocks = views.incident_list(incidents)
    return Reply(text=text, blocks=blocks)


SPEC = CommandSpec(
    name="/incident",
    purpose=(
        "Declare and run incidents: a channel, a pinned card, roles, a timeline, update "
        "reminders and a postmortem draft. Run the commands that change an incident in its "
        "channel, or name it first (`/incident status #12 ...`)."
    ),
    usages=(
        Usage("/incident declare <SEV1..SEV4> [service] <title>", "declare an incident"),
        Usage("/incident declare", "declare with a form"),
        Usage(
            "/incident status <investigating|identified|monitoring|resolved> <message>",
            "post a status update",
        ),
        Usage("/incident sev <1-4|SEV1..SEV4>", "change the severity"),
        Usage("/incident assign <commander|comms|scribe> <@user>", "give someone a role"),
        Usage("/incident note <text>", "add a line to the timeline"),
        Usage("/incident timeline", "show the timeline (only to you)"),
        Usage("/incident resolve <summary>", "resolve it; a postmortem draft is uploaded"),
        Usage("/incident list", "the open incidents (from any channel)"),
        Usage("/incident help", "this help"),
    ),
    handlers={
        "declare": _declare,
        "status": _status,
        "sev": _severity,
        "severity": _severity,
        "assign": _assign,
        "note": _note,
        "timeline": _timeline,
        "resolve": _resolve,
        "list": _list,
    },
)


# --- buttons and modals (registered by bot/incident_wiring.py) -------------------------


def _clicked(action: Action, deps: Deps) -> Incident | Reply:
    try:
        incident_id = int(action.value)
    except ValueError:
        return Reply(text="That button is broken; use `/incident help` instead.")
    with deps.database.read_session() as session:
        incident = queries.require_incident(session=session, incident_id=incident_id)
    if incident.status == IncidentStatus.resolved:
        return Reply(text=f"Incident #{incident.id} is resolved already.")
    return incident


def _opener(build: Callable[[Incident], dict[str, Any]]) -> Callable[[Action, Any], Reply]:
    """A card button that opens a modal about the clicked incident."""

    def open_modal(action: Action, deps: Deps) -> Reply:
        found = _clicked(action, deps)
        return found if isinstance(found, Reply) else Reply(text="", modal=build(found))

    return open_modal


open_status = _opener(views.status_modal)
open_assign = _opener(views.assign_modal)
open_resolve = _opener(views.resolve_modal)


def snooze(action: Action, deps: Deps) -> Reply | None:
    """The reminder's Snooze button; the reminder message itself shows the snooze."""
    _change(
        deps,
        reminders.snooze,
        actor=action.user_id,
        reminder_event_id=int(action.value),
        delivery_key=action.delivery_key,
        channel=action.channel_id or None,
    )
    return None


def _field_errors(
    submission: Submission, deps: Deps, block_id: str, change: Callable[..., Any], **arguments: Any
) -> dict[str, str] | None:
    """Run a modal's change; a ``UserError`` is shown on the form's ``block_id`` field."""
    try:
        _change(
            deps,
            change,
            actor=submission.user_id,
            delivery_key=submission.delivery_key,
            **arguments,
        )
    except UserError as error:
        return {block_id: error.message + (f" {error.hint}" if error.hint else "")}
    return None


def submit_declare(submission: Submission, deps: Deps) -> dict[str, str] | None:
    values = submission.values
    try:
        channel = str(json.loads(submission.private_metadata or "{}").get("channel") or "")
    except (ValueError, AttributeError):
        channel = ""
    return _field_errors(
        submission,
        deps,
        "title",
        declare.declare,
        config=_config(deps),
        severity=values.get("severity") or "",
        title=values.get("title") or "",
        service=values.get("service") or None,
        channel=channel or None,
    )


def _incident_id(submission: Submission) -> int:
    try:
        return int(submission.private_metadata)
    except ValueError:
        raise UserError("This form lost track of its incident; open it again.") from None


def submit_status(submission: Submission, deps: Deps) -> dict[str, str] | None:
    return _field_errors(
        submission,
        deps,
        "message",
        changes.update_status,
        config=_config(deps),
        incident_id=_incident_id(submission),
        status=submission.values.get("status") or "",
        message=submission.values.get("message") or "",
    )


def submit_assign(submission: Submission, deps: Deps) -> dict[str, str] | None:
    return _field_errors(
        submission,
        deps,
        "commander",
        changes.assign_role,
        incident_id=_incident_id(submission),
        role="commander",
        user=submission.values.get("commander") or "",
    )


def submit_resolve(submission: Submission, deps: Deps) -> dict[str, str] | None:
    return _field_errors(
        submission,
        deps,
        "summary",
        changes.resolve,
        config=_config(deps),
        incident_id=_incident_id(submission),
        summary=submission.values.get("summary") or "",
    )
