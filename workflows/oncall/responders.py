"""The on-call people of a severity (``incidents.severities.SEVn.oncall``), invited into
an incident's channel once it exists.

``invite_oncall`` (called where the channel becomes ready) only enqueues: providers are
asked in the job ``oncall.responders``, never before Slack's ack. The job stores what it
learnt as one ``oncall`` timeline event per schedule (who, or why nobody), then enqueues
the Slack invitation (``oncall.invite``, in ``commands/oncall``) and the channel message
showing the answer. A provider in trouble gives an event with its reason: the incident
goes on, and the message says to page by hand.
"""

from __future__ import annotations

from sqlmodel import Session

from workflows.clock import Clock
from workflows.config.models import SEVERITIES, ShipbotConfig
from workflows.incidents.models import Incident
from workflows.incidents.queries import append_event, require_incident, timeline
from workflows.incidents.reminders import SYSTEM_ACTOR
from workflows.jobs import JobContext, PermanentJobError, enqueue
from workflows.oncall.lookup import Providers, ScheduleAnswer, ask_many
from workflows.views import request_render

LOOK_UP = "oncall.responders"
INVITE = "oncall.invite"
RESPONDERS_PREFIX = "oncall-responders:"
EVENT = "oncall"


def responders_view_key(incident_id: int) -> str:
    return f"{RESPONDERS_PREFIX}{incident_id}"


def schedules_of(config: ShipbotConfig, severity: str) -> list[str]:
    return list(config.incidents.severity(severity).oncall) if severity in SEVERITIES else []


def invite_oncall(
    *, session: Session, clock: Clock, config: ShipbotConfig, incident: Incident
) -> None:
    """Enqueue the on-call lookup for an incident whose channel now exists (no I/O)."""
    if incident.id is not None and schedules_of(config, incident.severity):
        enqueue(
            session=session,
            clock=clock,
            kind=LOOK_UP,
            payload={"incident_id": incident.id},
            idempotency_key=f"oncall:responders:{incident.id}",
        )


def _event_data(answer: ScheduleAnswer) -> dict[str, object]:
    shifts = answer.oncall.now if answer.oncall else ()
    return {
        "schedule": answer.schedule,
        "provider": answer.provider,
        "users": answer.slack_users(),
        "unmapped": sorted({s.person.name for s in shifts if not s.person.slack_user}),
        "error": answer.error,
    }


def _event_text(answer: ScheduleAnswer) -> str:
    if answer.error is not None:
        return f"on call for {answer.schedule}: unknown ({answer.error})"
    shifts = answer.oncall.now if answer.oncall else ()
    names = ", ".join(sorted({s.person.name for s in shifts})) or "nobody"
    return f"on call for {answer.schedule}: {names}"


def look_up_responders(context: JobContext, *, providers: Providers) -> None:
    """Handler of ``oncall.responders``: ask, store, then enqueue the invitation."""
    try:
        incident_id = int(context.job.payload["incident_id"])
    except (KeyError, TypeError, ValueError) as error:
        raise PermanentJobError(f"job {context.job.id} has no incident_id") from error
    config = providers.config
    with context.database.read_session() as session:
        incident = require_incident(session=session, incident_id=incident_id)
        asked = timeline(session=session, incident_id=incident_id, kinds={EVENT})
    answers = []
    if not asked:  # a retry after the answers were stored asks nobody again
        schedules = schedules_of(config, incident.severity)
        answers = ask_many(providers=providers, schedules=schedules, at=context.clock.now())
    with context.database.transaction() as session:
        incident = require_incident(session=session, incident_id=incident_id)
        if not timeline(session=session, incident_id=incident_id, kinds={EVENT}):
            for answer in answers:
                append_event(
                    session=session,
                    incident=incident,
                    at=context.clock.now(),
                    actor=SYSTEM_ACTOR,
                    kind=EVENT,
                    text=_event_text(answer),
                    data=_event_data(answer),
                )
        enqueue(
            session=session,
            clock=context.clock,
            kind=INVITE,
            payload={"incident_id": incident_id},
            idempotency_key=f"oncall:invite:{incident_id}",
        )
        if incident.channel_id is not None:
            request_render(
                session=session,
                clock=context.clock,
                view_key=responders_view_key(incident_id),
                channel=incident.channel_id,
            )


def stored_responders(*, session: Session, incident_id: int) -> list[dict[str, object]]:
    """What the lookup stored: one dict per schedule (see ``_event_data``)."""
    return [dict(e.data) for e in timeline(session=session, incident_id=incident_id, kinds={EVENT})]


def users_to_invite(*, session: Session, incident_id: int) -> list[str]:
    found: set[str] = set()
    for data in stored_responders(session=session, incident_id=incident_id):
        users = data.get("users")
        if isinstance(users, list):
            found.update(str(user) for user in users)
    return sorted(found)
