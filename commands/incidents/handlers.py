"""`/incident`: declare and run incidents (the card's buttons and forms are in ``actions``).

Parsing and replies live here; the changes are ``workflows.incidents`` functions, each in
one transaction with its delivery claim, permission check, timeline event, audit entry
and jobs (``flow.change``).
"""

from __future__ import annotations

import re

from commands.common.dispatch import CommandSpec, Usage
from commands.common.permissions import mention
from commands.common.reply import Reply, SlashCommand, quote_input
from commands.common.seams import Deps
from commands.incidents import views
from commands.incidents.flow import LIST_HINT, by, change, checked, config_of
from commands.oncall import handlers as oncall_handlers
from workflows.config.models import ShipbotConfig
from workflows.config.types import is_user_id
from workflows.errors import NotFound, UserError
from workflows.incidents import aftercare, changes, declare, followups, queries, visibility
from workflows.incidents.members import invite_people
from workflows.incidents.models import Incident, IncidentStatus
from workflows.incidents.naming import parse_severity

_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
_INCIDENT_ID = re.compile(r"^#(\d+)$")
_PRIVATE = re.compile(r"(?:^|\s)--private(?=\s|$)")
_WHERE_HINT = (
    "Run it in the incident's channel, or name the incident first, e.g. "
    "`/incident status #12 identified bad cache config`. `/incident list` shows them."
)


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


def _viewer(command: SlashCommand, deps: Deps) -> visibility.Viewer:
    return visibility.Viewer(
        user_id=command.user_id, config=config_of(deps), directory=deps.directory
    )


def _target(command: SlashCommand, deps: Deps, rest: str) -> tuple[Incident, str]:
    """The incident a command is about, and the rest of its text (see ``_find``). A
    private incident the user may not see is not there for them (not even its number)."""
    incident, rest = _find(command, deps, rest)
    with deps.database.read_session() as session:
        seen = visibility.can_see(session=session, viewer=_viewer(command, deps), incident=incident)
    if not seen:
        raise NotFound(f"there is no incident #{incident.id}", hint=LIST_HINT)
    return incident, rest


def _find(command: SlashCommand, deps: Deps, rest: str) -> tuple[Incident, str]:
    """A leading ``#12`` or ``<#C...>`` names the incident, else it is the incident of the
    channel the command came from."""
    words = _split(rest, 1)
    first = words[0] if words else ""
    with deps.database.read_session() as session:
        if match := _INCIDENT_ID.match(first):
            incident = queries.get_incident(session=session, incident_id=int(match[1]))
            if incident is None:
                raise NotFound(f"there is no incident {first}", hint=LIST_HINT)
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
    config = config_of(deps)
    rest = _args(command)
    private = _PRIVATE.search(rest) is not None
    rest = _PRIVATE.sub(" ", rest).strip()
    if not rest:
        modal = views.declare_modal(config, channel=command.channel_id, private=private)
        return Reply(text="Opening the declare form.", modal=modal)
    severity_word, *more = _split(rest, 1)
    severity = parse_severity(severity_word)
    remainder = more[0] if more else ""
    service: str | None = None
    words = _split(remainder, 1)
    if words and words[0] in config.services:
        service, remainder = words[0], (words[1] if len(words) > 1 else "")
    incident = change(
        deps,
        declare.declare,
        **checked(deps),
        severity=severity,
        title=remainder,
        service=service,
        private=private,
        **by(command),
    )
    return Reply(text=views.declared_reply_text(incident))


def deferrable(command: SlashCommand, deps: Deps) -> bool:
    """`/incident declare <severity> ...` may run after the ack (``SHIPBOT_ACK_MODE=
    deferred``); its severity is checked first, so a typo is still refused in the ack.
    The bare form opens a modal and the other sub-commands answer inline."""
    words = command.words
    if not words or words[0].lower() != "declare":
        return False
    rest = _PRIVATE.sub(" ", _args(command)).strip()
    if not rest:
        return False
    parse_severity(_split(rest, 1)[0])
    return True


def _status(command: SlashCommand, deps: Deps) -> Reply:
    incident, rest = _target(command, deps, _args(command))
    words = _split(rest, 1)
    if not words:
        raise UserError(
            "Which status, and what is the latest?",
            hint="`/incident status <investigating|identified|monitoring|resolved> <message>`",
        )
    status, message = words[0], (words[1] if len(words) > 1 else "")
    updated = change(
        deps,
        changes.update_status,
        **checked(deps),
        incident_id=_id(incident),
        status=status,
        message=message,
        **by(command),
    )
    return Reply(text=views.changed_reply_text(updated, f"status is *{updated.status}*"))


def _severity(command: SlashCommand, deps: Deps) -> Reply:
    incident, rest = _target(command, deps, _args(command))
    if not rest.strip():
        raise UserError("Which severity?", hint="`/incident sev <1-4|SEV1..SEV4>`")
    updated = change(
        deps,
        changes.change_severity,
        **checked(deps),
        incident_id=_id(incident),
        severity=rest.split()[0],
        **by(command),
    )
    return Reply(text=views.changed_reply_text(updated, f"severity is *{updated.severity}*"))


def _assign(command: SlashCommand, deps: Deps) -> Reply:
    incident, rest = _target(command, deps, _args(command))
    words = rest.split()
    if len(words) != 2:
        raise UserError(
            "Give a role and a person.", hint="`/incident assign <commander|comms|scribe> @user`"
        )
    role, user = words[0].lower(), parse_user(words[1], config_of(deps))
    updated = change(
        deps,
        changes.assign_role,
        **checked(deps),
        incident_id=_id(incident),
        role=role,
        user=user,
        **by(command),
    )
    return Reply(text=views.changed_reply_text(updated, f"{mention(user)} is the {role}"))


def _note(command: SlashCommand, deps: Deps) -> Reply:
    incident, rest = _target(command, deps, _args(command))
    change(deps, changes.add_note, incident_id=_id(incident), text=rest, **by(command))
    return Reply(text=views.changed_reply_text(incident, "note added to the timeline"))


def _resolve(command: SlashCommand, deps: Deps) -> Reply:
    incident, rest = _target(command, deps, _args(command))
    if incident.status == IncidentStatus.resolved:
        raise UserError(f"incident #{incident.id} is resolved already")
    if not rest.strip():
        return Reply(text="Opening the resolve form.", modal=views.resolve_modal(incident))
    resolved = change(
        deps,
        changes.resolve,
        **checked(deps),
        incident_id=_id(incident),
        summary=rest,
        **by(command),
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


def _oncall(command: SlashCommand, deps: Deps) -> Reply:
    return oncall_handlers.oncall(command, deps, _args(command))


def _page(command: SlashCommand, deps: Deps) -> Reply:
    incident, rest = _target(command, deps, _args(command))
    return oncall_handlers.page(command, deps, _id(incident), rest)


def _list(command: SlashCommand, deps: Deps) -> Reply:
    with deps.database.read_session() as session:
        seen = visibility.visible_incidents(
            session=session,
            viewer=_viewer(command, deps),
            incidents=queries.open_incidents(session=session),
        )
    text, blocks = views.incident_list(seen.incidents, hidden_private=seen.hidden_private)
    return Reply(text=text, blocks=blocks)


def _reopen(command: SlashCommand, deps: Deps) -> Reply:
    incident, rest = _target(command, deps, _args(command))
    reopened = change(
        deps,
        aftercare.reopen,
        **checked(deps),
        incident_id=_id(incident),
        reason=rest,
        **by(command),
    )
    return Reply(text=views.changed_reply_text(reopened, "reopened; its archive is called off"))


def _follow_up(command: SlashCommand, deps: Deps) -> Reply:
    incident, rest = _target(command, deps, _args(command))
    added = change(
        deps,
        followups.add_follow_ups,
        config=config_of(deps),
        incident_id=_id(incident),
        text=rest,
        **by(command),
    )
    what = f"{len(added)} follow-up(s) on their way to the tracker" if added else "nothing new"
    return Reply(text=views.changed_reply_text(incident, what))


def _invite(command: SlashCommand, deps: Deps) -> Reply:
    incident, rest = _target(command, deps, _args(command))
    users = [parse_user(word, config_of(deps)) for word in rest.split()]
    if not users:
        raise UserError("Whom?", hint="`/incident invite @dave @erin`")
    change(deps, invite_people, incident_id=_id(incident), users=users, **by(command))
    names = " ".join(mention(user) for user in users)
    return Reply(text=views.changed_reply_text(incident, f"inviting {names}"))


SPEC = CommandSpec(
    name="/incident",
    purpose=(
        "Declare and run incidents: a channel, a pinned card, roles, a timeline, update "
        "reminders and a postmortem draft. Run the commands that change an incident in its "
        "channel, or name it first (`/incident status #12 ...`)."
    ),
    usages=(
        Usage("/incident declare <SEV1..SEV4> [service] <title>", "declare an incident"),
        Usage(
            "/incident declare --private <SEV1..SEV4> [service] <title>",
            "declare one only its members and the managers see, in a private channel",
        ),
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
        Usage("/incident invite <@user> [...]", "invite people (they may see a private one)"),
        Usage("/incident reopen <reason>", "reopen a resolved incident; its archive is off"),
        Usage("/incident followup <item or - [ ] list>", "file follow-ups in the tracker"),
        Usage("/incident list", "the open incidents (from any channel)"),
        Usage("/incident oncall [service|schedule]", "who is on call now and next"),
        Usage(
            "/incident page <service|schedule> <message>",
            "page through PagerDuty, once per incident and schedule",
        ),
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
        "oncall": _oncall,
        "page": _page,
        "reopen": _reopen,
        "followup": _follow_up,
        "invite": _invite,
    },
)
