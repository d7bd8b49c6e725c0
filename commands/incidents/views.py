"""Block Kit of the incident flow, built by pure functions from stored objects.

The card, announcements and reminders are views (rule 3): ``bot/incident_wiring.py`` loads
the stored objects and hands them here. Everything a person typed is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from commands.common.reply import context, escape, header, section
from workflows.config.models import SEVERITIES, ShipbotConfig
from workflows.config.types import is_user_id
from workflows.deploys.models import Deploy, DeployState
from workflows.incidents.cited import is_permalink
from workflows.incidents.models import Incident, IncidentEvent, IncidentStatus
from workflows.incidents.postmortem import QUIET_KINDS, format_duration, time_to_resolve
from workflows.incidents.queries import DEPLOY_LOOKBACK
from workflows.incidents.reminders import SNOOZE
from workflows.incidents.watch import OWN_MESSAGE_KINDS

Blocks = list[dict[str, Any]]
# Action ids of the card and reminder buttons, and the callback ids of the modals.
OPEN_STATUS = "incident.open_status"
OPEN_ASSIGN = "incident.open_assign"
OPEN_RESOLVE = "incident.open_resolve"
SNOOZE_ACTION = "incident.snooze"
DECLARE_MODAL = "incident.declare"
STATUS_MODAL = "incident.status"
ASSIGN_MODAL = "incident.assign"
RESOLVE_MODAL = "incident.resolve"
OPEN_FOLLOW_UP = "incident.open_follow_up"
FOLLOW_UP_MODAL = "incident.follow_up"
CARD_TIMELINE = 5
_EMOJI = {
    "SEV1": ":red_circle:",
    "SEV2": ":large_orange_circle:",
    "SEV3": ":large_yellow_circle:",
    "SEV4": ":white_circle:",
}
_UPDATE_STATUSES = ("investigating", "identified", "monitoring")


def when(at: datetime) -> str:
    """A time each reader sees in their own zone (UTC as the fallback)."""
    fallback = f"{at:%Y-%m-%d %H:%M} UTC"
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def who(user: str | None) -> str:
    if not user:
        return "_nobody yet_"
    return f"<@{user}>" if is_user_id(user) else escape(user)


def channel_link(incident: Incident) -> str:
    return f"<#{incident.channel_id}>" if incident.channel_id else "_channel being set up_"


def emoji(incident: Incident) -> str:
    if incident.status == IncidentStatus.resolved:
        return ":white_check_mark:"
    return _EMOJI.get(incident.severity, ":rotating_light:")


def name(incident: Incident) -> str:
    return f"{incident.severity} incident #{incident.id}"


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text[:2000]}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:75] or " ", "emoji": True}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button = {"type": "button", "text": _plain(text), "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


def event_line(event: IncidentEvent) -> str:
    """One timeline line in mrkdwn."""
    data = event.data
    if event.kind == "assign":
        what = f"made {who(data.get('user'))} {escape(str(data.get('role')))}"
    elif event.kind == "status":
        what = f"*{escape(str(data.get('to')))}*: {escape(event.text)}"
    elif event.kind == "severity":
        what = f"severity {escape(event.text)}"
    elif event.kind == "follow_up_filed":
        link = f"<{escape(str(data.get('url')))}|{escape(str(data.get('key')))}>"
        what = f"follow-up filed as {link}: {escape(event.text)}"
    elif event.kind == "message":
        link = str(data.get("permalink") or "")
        cited = f"<{link}|a message>" if is_permalink(link) else "a message"
        what = f"added {cited} from {who(str(data.get('author') or ''))}: {escape(event.text)}"
    else:
        what = f"{escape(event.kind)}: {escape(event.text)}"
    return f"{when(event.at)} {who(event.actor)} {what}"


def card(
    incident: Incident,
    events: list[IncidentEvent],
    deploys: list[Deploy],
    *,
    follow_ups: bool = False,
) -> tuple[str, Blocks]:
    """The pinned incident card: facts, latest update, recent timeline, recent deploys,
    and buttons while it is open (once resolved, "Add follow-ups" if a tracker is
    configured: ``follow_ups``)."""
    resolved = incident.status == IncidentStatus.resolved
    text = f"{name(incident)}: {escape(incident.title)} ({incident.status})"
    fields = [
        _mrkdwn(f"*Status*\n{escape(incident.status)}"),
        _mrkdwn(f"*Severity*\n{escape(incident.severity)}"),
        _mrkdwn(f"*Commander*\n{who(incident.commander)}"),
        _mrkdwn(f"*Service*\n{escape(incident.service or '—')}"),
        _mrkdwn(f"*Started*\n{when(incident.declared_at)}"),
        _mrkdwn(f"*Last update*\n{when(incident.last_update_at or incident.declared_at)}"),
    ]
    if incident.comms:
        fields.append(_mrkdwn(f"*Comms*\n{who(incident.comms)}"))
    if incident.scribe:
        fields.append(_mrkdwn(f"*Scribe*\n{who(incident.scribe)}"))
    blocks: Blocks = [
        header(f"{emoji(incident)} {incident.severity} · {incident.title}"),
        {"type": "section", "fields": fields},
    ]
    if resolved and incident.resolved_at is not None:
        took = time_to_resolve(incident)
        blocks.append(
            section(
                f":white_check_mark: *Resolved* {when(incident.resolved_at)} after "
                f"{format_duration(took) if took else '0s'}: {escape(incident.summary or '')}"
            )
        )
    updates = [e for e in events if e.kind == "status"]
    if updates and not resolved:
        latest = updates[-1]
        blocks.append(section(f"*Latest update* {event_line(latest)}"))
    story = [e for e in events if e.kind not in QUIET_KINDS | OWN_MESSAGE_KINDS][-CARD_TIMELINE:]
    if story:
        blocks.append(context("\n".join(event_line(e) for e in story)))
    blocks.append(section(_deploy_lines(incident, deploys)))
    links = [f"Channel {channel_link(incident)}", f"Incident #{incident.id}"]
    if incident.postmortem_file_id:
        links.append("postmortem draft uploaded below")
    blocks.append(context(" · ".join(links)))
    buttons = _buttons(incident, follow_ups=follow_ups)
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return text, blocks


def _buttons(incident: Incident, *, follow_ups: bool) -> list[dict[str, Any]]:
    value = str(incident.id)
    if incident.status != IncidentStatus.resolved:
        return [
            _button("Update status", OPEN_STATUS, value, "primary"),
            _button("Assign commander", OPEN_ASSIGN, value),
            _button("Resolve", OPEN_RESOLVE, value, "danger"),
        ]
    return [_button("Add follow-ups", OPEN_FOLLOW_UP, value)] if follow_ups else []


def _deploy_lines(incident: Incident, deploys: list[Deploy]) -> str:
    hours = int(DEPLOY_LOOKBACK.total_seconds() // 3600)
    title = f"*Deploys in the {hours} h before it started*"
    if incident.service is None:
        return f"{title}\n_No service named, so no deploys to show._"
    if not deploys:
        return f"{title}\n_None to {escape(incident.service)}._"
    lines = []
    for deploy in deploys:
        version = f"`{escape(deploy.version)}`"
        if deploy.logs_url:
            version = f"<{deploy.logs_url}|{escape(deploy.version)}>"
        lines.append(
            f"• {version} to {escape(deploy.environment)} by {who(deploy.requested_by)} "
            f"{when(deploy.requested_at)} ({DeployState(deploy.state).label})"
        )
    return f"{title}\n" + "\n".join(lines)


def announcement(incident: Incident, event: IncidentEvent) -> tuple[str, Blocks]:
    """A line in the incidents channel about one event of the incident."""
    title = f"*{escape(incident.title)}*"
    where = channel_link(incident)
    if event.kind == "declared":
        service = f" ({escape(incident.service)})" if incident.service else ""
        line = (
            f":rotating_light: *{name(incident)} declared* by {who(event.actor)}: "
            f"{title}{service}. Join {where}."
        )
    elif event.kind == "severity":
        line = f":warning: {name(incident)} {title} changed severity {escape(event.text)}. {where}"
    elif event.kind == "resolved":
        took = time_to_resolve(incident)
        line = (
            f":white_check_mark: Incident #{incident.id} {title} is *resolved*"
            f"{f' after {format_duration(took)}' if took else ''}: {escape(event.text)}"
        )
    else:
        status = escape(str(event.data.get("to", event.kind)))
        line = f":information_source: Incident #{incident.id} {title} is now *{status}*: "
        line += f"{escape(event.text)} {where}"
    return line, [section(line)]


def reminder(
    incident: Incident, event: IncidentEvent, snooze: IncidentEvent | None, *, every: str
) -> tuple[str, Blocks]:
    """The nudge to the commander, with a Snooze button until someone snoozes it."""
    target = who(incident.commander) if incident.commander else "No commander yet —"
    text = (
        f"{target} {name(incident)} has had no status update since "
        f"{when(incident.last_update_at or incident.declared_at)}; {incident.severity} wants "
        f"one every {every}. Post one with `/incident status <status> <message>`."
    )
    if incident.commander is None:
        text += " Take command with `/incident assign commander @you`."
    blocks: Blocks = [section(f":alarm_clock: {text}")]
    if incident.status == IncidentStatus.resolved:
        blocks.append(context("The incident is resolved."))
    elif snooze is not None:
        until = snooze.data.get("until")
        later = when(datetime.fromisoformat(until)) if isinstance(until, str) else "later"
        blocks.append(context(f"Snoozed by {who(snooze.actor)} until {later}."))
    else:
        minutes = int(SNOOZE.total_seconds() // 60)
        blocks.append(
            {
                "type": "actions",
                "elements": [_button(f"Snooze {minutes}m", SNOOZE_ACTION, str(event.id))],
            }
        )
    return f"Reminder: {name(incident)} needs a status update", blocks


def topic(incident: Incident) -> str:
    """The channel topic (Slack allows 250 characters)."""
    state = "RESOLVED" if incident.status == IncidentStatus.resolved else incident.severity
    commander = f"<@{incident.commander}>" if incident.commander else "no commander yet"
    head = f"{state} | IC {commander} | "
    return head + escape(incident.title)[: 250 - len(head)]


def private_count(hidden: int) -> str:
    """How a viewer who may not see them learns private incidents exist."""
    return f"{hidden} private incident{'' if hidden == 1 else 's'}"


def incident_list(incidents: list[Incident], *, hidden_private: int = 0) -> tuple[str, Blocks]:
    """The open incidents a viewer may see, and a count of the private ones they may not."""
    more = f" (and {private_count(hidden_private)})" if hidden_private else ""
    if not incidents:
        if not hidden_private:
            return "No open incidents.", [section(":sunny: No open incidents.")]
        text = f"No open incidents you can see, and {private_count(hidden_private)}."
        return text, [section(f":lock: {text}")]
    lines = [
        f"{emoji(i)} *#{i.id}* {escape(i.severity)} {escape(i.title)} — {escape(i.status)}, "
        f"IC {who(i.commander)}, {channel_link(i)}"
        for i in incidents
    ]
    if hidden_private:
        lines.append(f":lock: and {private_count(hidden_private)}")
    text = f"{len(incidents)} open incident(s){more}"
    return text, [header("Open incidents"), section("\n".join(lines))]


def timeline_reply(incident: Incident, events: list[IncidentEvent]) -> tuple[str, Blocks]:
    lines = [event_line(e) for e in events]
    body = "\n".join(lines) or "_Nothing yet._"
    blocks: Blocks = [header(f"Timeline of incident #{incident.id}")]
    # A section holds 3000 characters; a long timeline takes several.
    chunk: list[str] = []
    for line in lines or [body]:
        if sum(len(x) + 1 for x in chunk) + len(line) > 2900:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    blocks.append(section("\n".join(chunk)))
    return f"Timeline of incident #{incident.id}", blocks[:50]


# --- modals -----------------------------------------------------------------------------


def _input(block_id: str, label: str, element: dict[str, Any], optional: bool = False) -> Any:
    return {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": {**element, "action_id": block_id},
        "optional": optional,
    }


def _text_input(*, multiline: bool = False, max_length: int = 3000) -> dict[str, Any]:
    return {"type": "plain_text_input", "multiline": multiline, "max_length": max_length}


def _select(options: Sequence[tuple[str, str]], initial: str | None = None) -> dict[str, Any]:
    built = [{"text": _plain(label), "value": value} for value, label in options]
    element: dict[str, Any] = {"type": "static_select", "options": built}
    chosen = next((o for o in built if o["value"] == initial), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return element


def _modal(
    callback_id: str, title: str, blocks: Blocks, *, submit: str, meta: str = ""
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title[:24]),
        "submit": _plain(submit),
        "close": _plain("Cancel"),
        "private_metadata": meta,
        "blocks": blocks,
    }


def declare_modal(
    config: ShipbotConfig, *, channel: str = "", private: bool = False
) -> dict[str, Any]:
    severities = [(s, s) for s in SEVERITIES]
    blocks: Blocks = [
        _input("title", "What is wrong?", _text_input(max_length=150)),
        _input("severity", "Severity", _select(severities, "SEV3")),
    ]
    if config.services:
        services = [(s, s) for s in sorted(config.services)][:100]
        blocks.append(_input("service", "Affected service", _select(services), optional=True))
    label = _plain("Private: only people invited (and incident managers) see it")
    choice = {"text": label, "value": "private"}
    checkbox: dict[str, Any] = {"type": "checkboxes", "options": [choice]}
    if private:
        checkbox["initial_options"] = [choice]
    blocks.append(_input("private", "Visibility", checkbox, optional=True))
    meta = json.dumps({"channel": channel})
    return _modal(DECLARE_MODAL, "Declare an incident", blocks, submit="Declare", meta=meta)


def status_modal(incident: Incident) -> dict[str, Any]:
    statuses = [(s, s) for s in (*_UPDATE_STATUSES, "resolved")]
    blocks = [
        section(f"{emoji(incident)} *{escape(incident.title)}* ({name(incident)})"),
        _input("status", "Status", _select(statuses, incident.status)),
        _input("message", "What is the latest?", _text_input(multiline=True)),
    ]
    return _modal(STATUS_MODAL, "Status update", blocks, submit="Post", meta=str(incident.id))


def assign_modal(incident: Incident) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "users_select"}
    if incident.commander and is_user_id(incident.commander):
        element["initial_user"] = incident.commander
    blocks = [
        section(f"Who commands {name(incident)} *{escape(incident.title)}*?"),
        _input("commander", "Commander", element),
    ]
    return _modal(ASSIGN_MODAL, "Assign commander", blocks, submit="Assign", meta=str(incident.id))


def resolve_modal(incident: Incident) -> dict[str, Any]:
    blocks = [
        section(f"Resolve {name(incident)} *{escape(incident.title)}*."),
        _input("summary", "Summary (what happened, what fixed it)", _text_input(multiline=True)),
    ]
    return _modal(
        RESOLVE_MODAL, "Resolve incident", blocks, submit="Resolve", meta=str(incident.id)
    )


def declared_reply_text(incident: Incident) -> str:
    return (
        f"{emoji(incident)} Declared {name(incident)}: *{escape(incident.title)}*. "
        "I'm setting up its channel now and will invite you and the responders; the card "
        "will be pinned there."
    )


def changed_reply_text(incident: Incident, what: str) -> str:
    return f"{emoji(incident)} {name(incident)}: {what}. The card is being updated."
