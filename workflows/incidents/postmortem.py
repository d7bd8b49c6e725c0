"""The postmortem draft: a Markdown document built from the stored incident on resolve.

Alerts are the incident's timeline events of kind ``"alert"`` (the alerts flow adds them
with ``queries.add_timeline_event``); deploys come from the ``deploys`` table, those the
incident's channel followed (``watch``) with its locks and break-glass in a section of
their own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from workflows.config.models import ShipbotConfig
from workflows.deploys.models import DeployState
from workflows.incidents.cited import is_permalink
from workflows.incidents.models import Incident, IncidentEvent
from workflows.incidents.queries import (
    DEPLOY_LOOKBACK,
    deploys_before,
    require_incident,
    timeline,
)
from workflows.incidents.watch import NOTE_KINDS, state_words, watched_deploys

# Timeline kinds that are bookkeeping, not part of the story.
QUIET_KINDS = frozenset({"reminder", "snooze"})


def format_duration(delta: timedelta) -> str:
    """``1d 2h``, ``1h 5m``, ``4m 10s``, ``12s``: the two largest units."""
    seconds = max(int(delta.total_seconds()), 0)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts[:2])


def time_to_acknowledge(incident: Incident) -> timedelta | None:
    return incident.acknowledged_at - incident.declared_at if incident.acknowledged_at else None


def time_to_resolve(incident: Incident) -> timedelta | None:
    return incident.resolved_at - incident.declared_at if incident.resolved_at else None


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at else "—"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _who(config: ShipbotConfig, user: str | None) -> str:
    return config.user_name(user) if user else "—"


def _event_line(config: ShipbotConfig, event: IncidentEvent) -> str:
    text = " ".join(event.text.split())
    if event.kind == "assign":
        text = f"{event.data.get('role')}: {_who(config, event.data.get('user'))}"
    elif event.kind == "message":  # cited with the shortcut: quote it and link to it
        author = _who(config, str(event.data.get("author") or "")) if event.data else "—"
        link = str(event.data.get("permalink") or "")
        cited = f"[message]({link})" if is_permalink(link) else "message (link pending)"
        text = f"{author} said: “{text}” ({cited})"
    return f"- {event.at:%Y-%m-%d %H:%M:%S} — {_who(config, event.actor)} — {event.kind}: {text}"


def postmortem_filename(incident: Incident) -> str:
    return f"postmortem-incident-{incident.id}.md"


def postmortem_markdown(*, session: Session, config: ShipbotConfig, incident_id: int) -> str:
    """The draft for ``incident_id``: facts, summary, timeline, deploys, alerts, and the
    headings a team fills in."""
    incident = require_incident(session=session, incident_id=incident_id)
    events = timeline(session=session, incident_id=incident_id)
    ack = time_to_acknowledge(incident)
    resolved = time_to_resolve(incident)
    channel = f"#{incident.channel_name}" if incident.channel_name else "—"
    lines = [
        f"# Postmortem draft: {incident.title} (incident #{incident.id})",
        "",
        "_Drafted by shipbot from the incident record when it was resolved. Edit freely._",
        "",
        "| | |",
        "| --- | --- |",
        f"| Severity | {incident.severity} |",
        f"| Service | {incident.service or '—'} |",
        f"| Declared | {_when(incident.declared_at)} by {_who(config, incident.declared_by)} |",
        f"| Commander | {_who(config, incident.commander)} |",
        f"| Comms | {_who(config, incident.comms)} |",
        f"| Scribe | {_who(config, incident.scribe)} |",
        f"| Acknowledged | {_when(incident.acknowledged_at)} |",
        f"| Resolved | {_when(incident.resolved_at)} |",
        f"| Time to acknowledge | {format_duration(ack) if ack is not None else '—'} |",
        f"| Time to resolve | {format_duration(resolved) if resolved is not None else '—'} |",
        f"| Channel | {channel} |",
        "",
        "## Summary",
        "",
        incident.summary or "_Not given._",
        "",
        "## Timeline (UTC)",
        "",
        *[_event_line(config, e) for e in events if e.kind not in QUIET_KINDS],
        "",
    ]
    lines += _deploys_section(session, config, incident)
    lines += _while_open_section(session, config, incident, events)
    lines += _alerts_section(config, [e for e in events if e.kind == "alert"])
    for heading in ("Impact", "Root cause", "What went well", "What went wrong"):
        lines += [f"## {heading}", "", "_To fill in._", ""]
    lines += ["## Action items", "", "- [ ] ", ""]
    return "\n".join(lines)


def _deploys_section(session: Session, config: ShipbotConfig, incident: Incident) -> list[str]:
    hours = int(DEPLOY_LOOKBACK.total_seconds() // 3600)
    target = incident.service or "the affected service"
    lines = [f"## Deploys to {target} in the {hours} hours before the declaration", ""]
    deploys = deploys_before(session=session, incident=incident, limit=50)
    if not deploys:
        return [*lines, "None recorded.", ""]
    lines += [
        "| Requested (UTC) | Environment | Version | State | By | Logs |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for deploy in deploys:
        logs = f"[logs]({deploy.logs_url})" if deploy.logs_url else "—"
        lines.append(
            f"| {deploy.requested_at:%Y-%m-%d %H:%M} | {_cell(deploy.environment)} | "
            f"{_cell(deploy.version)} | {DeployState(deploy.state).label} | "
            f"{_who(config, deploy.requested_by)} | "
            f"{logs} |"
        )
    return [*lines, ""]


def _while_open_section(
    session: Session, config: ShipbotConfig, incident: Incident, events: list[IncidentEvent]
) -> list[str]:
    """What the incident channel heard about its service: each deploy in the state it
    ended in, then every lock, unlock and break-glass."""
    assert incident.id is not None
    lines = ["## Deploys, locks and break-glass while it was open", ""]
    deploys = watched_deploys(session=session, incident_id=incident.id)
    notes = [e for e in events if e.kind in NOTE_KINDS]
    if not deploys and not notes:
        return [*lines, "None recorded.", ""]
    for deploy in deploys:
        lines.append(
            f"- Deploy #{deploy.id}: {deploy.service} {_cell(deploy.version)} to "
            f"{_cell(deploy.environment)} by {_who(config, deploy.requested_by)} — "
            f"{state_words(deploy.state)}"
        )
    return [*lines, *[_event_line(config, e) for e in notes], ""]


def _alerts_section(config: ShipbotConfig, alerts: list[IncidentEvent]) -> list[str]:
    lines = ["## Alerts", ""]
    if not alerts:
        return [*lines, "No alerts were attached to this incident.", ""]
    return [*lines, *[_event_line(config, event) for event in alerts], ""]
