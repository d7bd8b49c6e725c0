"""Block Kit of what happens after an incident: the archive warning and the follow-ups
form (pure functions of stored objects; everything a person typed is escaped)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from commands.common.reply import escape, section
from commands.incidents.views import (
    FOLLOW_UP_MODAL,
    Blocks,
    _input,
    _modal,
    _text_input,
    name,
    when,
)
from workflows.incidents.models import Incident, IncidentEvent, IncidentStatus


def archive_warning(incident: Incident, event: IncidentEvent) -> tuple[str, Blocks]:
    """The warning posted in the channel before it is archived."""
    due_text = event.data.get("due")
    due = when(datetime.fromisoformat(due_text)) if isinstance(due_text, str) else "soon"
    if incident.status != IncidentStatus.resolved or incident.archive_due_at is None:
        line = f":file_cabinet: {name(incident)} was reopened; this channel stays."
    else:
        line = (
            f":file_cabinet: {name(incident)} is resolved; this channel will be archived "
            f"{due}. Reopen it with `/incident reopen <reason>` to keep it open."
        )
    return f"This channel will be archived {due}", [section(line)]


def follow_up_modal(incident: Incident) -> dict[str, Any]:
    blocks: Blocks = [
        section(
            f"Follow-ups of {name(incident)} *{escape(incident.title)}*: paste the "
            "postmortem's action items (`- [ ] ...`) or write one per line. Each becomes "
            "an issue in the tracker, once."
        ),
        _input("items", "Action items", _text_input(multiline=True)),
    ]
    return _modal(FOLLOW_UP_MODAL, "Add follow-ups", blocks, submit="File", meta=str(incident.id))
