"""Shortcuts: "Add to incident timeline" on a message, and "Declare incident" anywhere.

On a message in an incident's channel the message goes straight into that incident's
timeline; anywhere else a modal asks which open incident (``TIMELINE_MODAL``), carrying
the message in its ``private_metadata``. The permalink follows as a job
(``incident.permalink``): Slack's own link, cited by the card and the postmortem.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

from commands.common.reply import Reply, Submission, context, escape, section
from commands.common.seams import Deps
from commands.common.surfaces import Shortcut
from commands.incidents.flow import change, config_of
from commands.incidents.views import declare_modal, name
from workflows.errors import UserError
from workflows.home.data import open_incidents_for
from workflows.incidents.cited import PERMALINK_JOB, CitedMessage, cite_message, store_permalink
from workflows.incidents.models import Incident, IncidentEvent
from workflows.incidents.queries import get_event, incident_for_channel
from workflows.incidents.visibility import Viewer, can_see
from workflows.jobs import JobContext, JobHandler, PermanentJobError

ADD_TO_TIMELINE = "add_to_timeline"
DECLARE_SHORTCUT = "declare_incident"
TIMELINE_MODAL = "incident.add_to_timeline"
MAX_METADATA = 2900  # Slack keeps at most 3000 characters of private_metadata


def _cited(shortcut: Shortcut) -> CitedMessage:
    return CitedMessage(
        channel=shortcut.channel_id,
        ts=shortcut.message_ts,
        author=shortcut.message_user,
        text=shortcut.message_text,
    )


def _cite(deps: Deps, *, actor: str, incident_id: int, message: CitedMessage, key: str) -> str:
    event: IncidentEvent = change(
        deps,
        cite_message,
        incident_id=incident_id,
        actor=actor,
        message=message,
        delivery_key=key,
        channel=message.channel or None,
    )
    return f"Added the message to incident #{event.incident_id}'s timeline."


def _viewer(shortcut: Shortcut | Submission, deps: Deps) -> Viewer:
    return Viewer(user_id=shortcut.user_id, config=config_of(deps), directory=deps.directory)


def _visible(submission: Submission, deps: Deps, incident_id: int) -> bool:
    """Whether the person submitting may see the incident: a form can be forged, so a
    private incident's number is checked again here, not only left out of the choices."""
    with deps.database.read_session() as session:
        incident = session.get(Incident, incident_id)
        viewer = _viewer(submission, deps)
        return incident is not None and can_see(session=session, viewer=viewer, incident=incident)


def add_to_timeline(shortcut: Shortcut, deps: Deps) -> Reply | None:
    if not shortcut.on_message:
        raise UserError("Use this shortcut on a message.")
    with deps.database.read_session() as session:
        here = incident_for_channel(session=session, channel_id=shortcut.channel_id)
        here_id = here.id if here is not None else None
        choices = (
            []
            if here is not None
            else open_incidents_for(session=session, viewer=_viewer(shortcut, deps))
        )
        options = [(str(c.incident.id), f"{name(c.incident)}: {c.incident.title}") for c in choices]
    if here_id is not None:
        text = _cite(
            deps,
            actor=shortcut.user_id,
            incident_id=here_id,
            message=_cited(shortcut),
            key=shortcut.delivery_key,
        )
        return Reply(text=text)
    if not options:
        raise UserError("There is no open incident to add this message to.")
    return Reply(text="Pick the incident.", modal=timeline_modal(_cited(shortcut), options))


def _metadata(message: CitedMessage) -> str:
    text = message.text
    while True:
        meta = json.dumps(
            {"channel": message.channel, "ts": message.ts, "author": message.author, "text": text},
            ensure_ascii=False,
        )
        if len(meta) <= MAX_METADATA:
            return meta
        text = text[: len(text) * 3 // 4]


def timeline_modal(message: CitedMessage, options: list[tuple[str, str]]) -> dict[str, Any]:
    built = [
        {"text": {"type": "plain_text", "text": label[:75]}, "value": value}
        for value, label in options[:100]
    ]
    quoted = escape(" ".join(message.text.split()))[:500] or "_(no text)_"
    return {
        "type": "modal",
        "callback_id": TIMELINE_MODAL,
        "title": {"type": "plain_text", "text": "Add to timeline"},
        "submit": {"type": "plain_text", "text": "Add"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": _metadata(message),
        "blocks": [
            section(f"> {quoted}"),
            context("The timeline and the postmortem will link to this message."),
            {
                "type": "input",
                "block_id": "incident",
                "label": {"type": "plain_text", "text": "Incident"},
                "element": {"type": "static_select", "action_id": "incident", "options": built},
            },
        ],
    }


def _message_of(metadata: str) -> CitedMessage:
    try:
        fields = json.loads(metadata)
    except ValueError:
        fields = None
    if not isinstance(fields, dict) or not all(
        isinstance(fields.get(k), str) for k in ("channel", "ts", "author", "text")
    ):
        raise UserError("That form is not one shipbot made.")
    return CitedMessage(
        channel=fields["channel"], ts=fields["ts"], author=fields["author"], text=fields["text"]
    )


def timeline_submitted(submission: Submission, deps: Deps) -> dict[str, str] | None:
    chosen = submission.values.get("incident", "")
    if not chosen.isdigit():
        return {"incident": "Pick an incident."}
    if not _visible(submission, deps, int(chosen)):
        return {"incident": f"There is no incident #{int(chosen)}."}
    try:
        _cite(
            deps,
            actor=submission.user_id,
            incident_id=int(chosen),
            message=_message_of(submission.private_metadata),
            key=submission.delivery_key,
        )
    except UserError as error:
        return {"incident": error.message}
    return None


def declare(shortcut: Shortcut, deps: Deps) -> Reply:
    """The global shortcut: the same form as ``/incident declare``."""
    modal = declare_modal(config_of(deps), channel=shortcut.channel_id)
    return Reply(text="Opening the declare form.", modal=modal)


def permalink_job(client_factory: Callable[[], WebClient]) -> JobHandler:
    """The handler of ``incident.permalink``: ask Slack for the cited message's link."""

    def handle(context: JobContext) -> None:
        event_id = context.job.payload.get("event_id")
        if not isinstance(event_id, int):
            raise PermanentJobError(f"{PERMALINK_JOB} job {context.job.id} has no event_id")
        with context.database.read_session() as session:
            event = get_event(session=session, event_id=event_id)
            where = (str(event.data.get("channel")), str(event.data.get("ts"))) if event else None
        if where is None:
            return
        answer = client_factory().chat_getPermalink(channel=where[0], message_ts=where[1])
        with context.database.transaction() as session:
            try:
                store_permalink(
                    session=session,
                    clock=context.clock,
                    event_id=event_id,
                    permalink=str(answer.get("permalink") or ""),
                )
            except ValueError as error:
                raise PermanentJobError(str(error)) from error

    return handle
