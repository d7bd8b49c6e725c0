"""Incident channels hear about their service (issue 16): deploys, locks, break-glass.

While an incident is open on a service, each deploy of that service gets one message in
the incident's channel, a view of the deploy kept current (``DEPLOY_PREFIX``), and each
of its states a timeline line; each lock, unlock and break-glass is a timeline line with
a message of its own (``NOTE_PREFIX``, a view of that line). Which incidents hear about
what is ``incidents.notify_deploys`` in the config.

Every function here runs in the caller's transaction, next to the change it reports, so
the change and its messages commit together (rule 1). Nothing here builds Slack text:
``commands/incidents/deploy_notes.py`` renders the messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from workflows.clock import Clock
from workflows.config.models import ShipbotConfig
from workflows.deploys.models import ALL_SERVICES, Deploy, DeployLock, DeployState
from workflows.incidents import effects
from workflows.incidents.models import (
    Incident,
    IncidentDeployWatch,
    IncidentEvent,
    IncidentStatus,
)
from workflows.incidents.queries import append_event, get_event, timeline
from workflows.views import request_render

_OPEN = col(Incident.status) != IncidentStatus.resolved
DEPLOY_PREFIX = "incident-deploy:"
NOTE_PREFIX = "incident-note:"
# Timeline kinds this module writes; the postmortem lists them under their own heading.
DEPLOY_KIND = "deploy"
NOTE_KINDS = frozenset({"lock", "unlock", "break_glass"})
# Lines that have a message of their own in the channel: the pinned card leaves them out
# (it would only repeat them), so they need no card render, which keeps a busy service's
# deploys from doubling the renders of every incident open on it.
OWN_MESSAGE_KINDS = NOTE_KINDS | {DEPLOY_KIND}
# How each deploy state reads on the timeline ("started" is when the backend got it).
STATE_WORDS: dict[str, str] = {
    DeployState.requested: "requested",
    DeployState.awaiting_approval: "requested, awaiting approval",
    DeployState.approved: "approved",
    DeployState.running: "started",
    DeployState.succeeded: "succeeded",
    DeployState.failed: "failed",
    DeployState.cancelled: "cancelled",
    DeployState.rejected: "rejected",
    DeployState.expired: "expired",
    DeployState.rolled_back: "rolled back",
}


def deploy_view_key(incident_id: int, deploy_id: int) -> str:
    return f"{DEPLOY_PREFIX}{incident_id}:{deploy_id}"


def note_view_key(event_id: int) -> str:
    return f"{NOTE_PREFIX}{event_id}"


def state_words(state: str) -> str:
    return STATE_WORDS.get(state, state)


@dataclass(frozen=True)
class WatchedDeploy:
    """What an incident-channel deploy message shows: the incident and the deploy."""

    incident: Incident
    deploy: Deploy


def open_incidents_for_service(*, session: Session, service: str) -> list[Incident]:
    """Unresolved incidents whose affected service is ``service``, oldest first."""
    query = select(Incident).where(_OPEN, col(Incident.service) == service)
    return list(session.exec(query.order_by(col(Incident.declared_at), col(Incident.id))))


def watching_incidents(
    *, session: Session, config: ShipbotConfig, service: str, environment: str
) -> list[Incident]:
    """The open incidents of ``service`` that hear about changes in ``environment``."""
    wanted = config.incidents.notify_deploys
    return [
        incident
        for incident in open_incidents_for_service(session=session, service=service)
        if wanted.wants(severity=incident.severity, environment=environment)
    ]


def watch_deploy(*, session: Session, clock: Clock, config: ShipbotConfig, deploy: Deploy) -> None:
    """A deploy was asked for (or recorded): every open incident of its service that
    hears about its environment gets its message and a timeline line."""
    for incident in watching_incidents(
        session=session, config=config, service=deploy.service, environment=deploy.environment
    ):
        _start_watching(session=session, clock=clock, incident=incident, deploy=deploy)


def incident_declared(
    *, session: Session, clock: Clock, config: ShipbotConfig, incident: Incident
) -> None:
    """A new incident follows the deploys of its service that are under way."""
    if incident.service is None:
        return
    wanted = config.incidents.notify_deploys
    query = select(Deploy).where(
        col(Deploy.service) == incident.service, col(Deploy.in_flight_key).is_not(None)
    )
    for deploy in session.exec(query.order_by(col(Deploy.id))).all():
        if wanted.wants(severity=incident.severity, environment=deploy.environment):
            _start_watching(session=session, clock=clock, incident=incident, deploy=deploy)


def _start_watching(*, session: Session, clock: Clock, incident: Incident, deploy: Deploy) -> None:
    assert incident.id is not None and deploy.id is not None
    watch = IncidentDeployWatch(
        incident_id=incident.id,
        deploy_id=deploy.id,
        last_state=deploy.state,
        created_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(watch)
            session.flush()
    except IntegrityError:
        return  # followed already (a second call for the same pair changes nothing)
    if deploy.override:
        _note(
            session=session,
            clock=clock,
            incident=incident,
            actor=deploy.requested_by,
            kind="break_glass",
            text=f"{_what(deploy)} through break-glass: {deploy.override_reason or ''}".strip(),
            data={"deploy_id": deploy.id, "environment": deploy.environment},
        )
    _record_state(session=session, clock=clock, incident=incident, deploy=deploy)
    _render_deploy(session=session, clock=clock, incident=incident, deploy_id=deploy.id)


def deploy_changed(*, session: Session, clock: Clock, deploy: Deploy) -> None:
    """The deploy changed (called wherever its own messages re-render): its incident
    messages re-render too, and a new state becomes a timeline line of each incident
    still open. A re-render in the same state adds nothing."""
    assert deploy.id is not None
    query = select(IncidentDeployWatch).where(col(IncidentDeployWatch.deploy_id) == deploy.id)
    for watch in session.exec(query.order_by(col(IncidentDeployWatch.id))).all():
        incident = session.get(Incident, watch.incident_id)
        if incident is None:
            continue
        if watch.last_state != deploy.state:
            watch.last_state = deploy.state
            session.add(watch)
            if incident.status != IncidentStatus.resolved:
                _record_state(session=session, clock=clock, incident=incident, deploy=deploy)
        _render_deploy(session=session, clock=clock, incident=incident, deploy_id=deploy.id)


def lock_changed(
    *,
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    lock: DeployLock,
    locked: bool,
    actor: str,
) -> None:
    """A lock was placed (``locked``) or lifted: a line and a message in every open
    incident of the locked service (every service, for a lock of a whole environment)."""
    query = select(Incident).where(_OPEN, col(Incident.service).is_not(None))
    if lock.service != ALL_SERVICES:
        query = query.where(col(Incident.service) == lock.service)
    wanted = config.incidents.notify_deploys
    scope = lock.environment
    if lock.service != ALL_SERVICES:
        scope = f"{lock.service} in {lock.environment}"
    for incident in session.exec(query.order_by(col(Incident.id))).all():
        if not wanted.wants(severity=incident.severity, environment=lock.environment):
            continue
        _note(
            session=session,
            clock=clock,
            incident=incident,
            actor=actor,
            kind="lock" if locked else "unlock",
            text=f"{scope} {'locked' if locked else 'unlocked'}: {lock.reason}",
            data={"environment": lock.environment, "service": lock.service},
        )


def channel_ready(*, session: Session, clock: Clock, incident: Incident) -> None:
    """The channel now exists: post every message it should already have."""
    assert incident.id is not None
    query = select(IncidentDeployWatch.deploy_id).where(
        col(IncidentDeployWatch.incident_id) == incident.id
    )
    for deploy_id in session.exec(query.order_by(col(IncidentDeployWatch.id))).all():
        _render_deploy(session=session, clock=clock, incident=incident, deploy_id=deploy_id)
    for event in timeline(session=session, incident_id=incident.id, kinds=set(NOTE_KINDS)):
        _render_note(session=session, clock=clock, incident=incident, event=event)


def watched_deploys(*, session: Session, incident_id: int) -> list[Deploy]:
    """The deploys the incident's channel followed, in the order it started to."""
    query = (
        select(Deploy)
        .join(IncidentDeployWatch, col(IncidentDeployWatch.deploy_id) == col(Deploy.id))
        .where(col(IncidentDeployWatch.incident_id) == incident_id)
        .order_by(col(IncidentDeployWatch.id))
    )
    return list(session.exec(query).all())


def load_watched(*, session: Session, view_key: str) -> WatchedDeploy | None:
    """The incident and deploy an ``incident-deploy:`` message shows, if both exist."""
    incident_id, _, deploy_id = view_key.removeprefix(DEPLOY_PREFIX).partition(":")
    if not (incident_id.isdigit() and deploy_id.isdigit()):
        return None
    incident = session.get(Incident, int(incident_id))
    deploy = session.get(Deploy, int(deploy_id))
    return WatchedDeploy(incident, deploy) if incident and deploy else None


def load_note(*, session: Session, view_key: str) -> tuple[Incident, IncidentEvent] | None:
    """The incident and timeline line an ``incident-note:`` message shows."""
    event_id = effects.view_id(view_key, NOTE_PREFIX)
    event = get_event(session=session, event_id=event_id) if event_id else None
    incident = session.get(Incident, event.incident_id) if event else None
    return (incident, event) if incident and event else None


# -- writes -------------------------------------------------------------------------------


def _what(deploy: Deploy) -> str:
    return f"deploy #{deploy.id} of {deploy.service} {deploy.version} to {deploy.environment}"


def _record_state(*, session: Session, clock: Clock, incident: Incident, deploy: Deploy) -> None:
    requested = deploy.state in (DeployState.requested, DeployState.awaiting_approval)
    append_event(
        session=session,
        incident=incident,
        at=clock.now(),
        actor=deploy.requested_by if requested else "shipbot",
        kind=DEPLOY_KIND,
        text=f"{_what(deploy)} {state_words(deploy.state)}",
        data={
            "deploy_id": deploy.id,
            "service": deploy.service,
            "environment": deploy.environment,
            "version": deploy.version,
            "state": deploy.state,
        },
    )


def _note(
    *,
    session: Session,
    clock: Clock,
    incident: Incident,
    actor: str,
    kind: str,
    text: str,
    data: dict[str, object],
) -> None:
    event = append_event(
        session=session,
        incident=incident,
        at=clock.now(),
        actor=actor,
        kind=kind,
        text=text[:500],
        data=dict(data),
    )
    _render_note(session=session, clock=clock, incident=incident, event=event)


def _render_deploy(*, session: Session, clock: Clock, incident: Incident, deploy_id: int) -> None:
    """Before the channel exists there is nowhere to post; ``channel_ready`` posts then."""
    if incident.channel_id is not None and incident.id is not None:
        key = deploy_view_key(incident.id, deploy_id)
        request_render(session=session, clock=clock, view_key=key, channel=incident.channel_id)


def _render_note(
    *, session: Session, clock: Clock, incident: Incident, event: IncidentEvent
) -> None:
    if incident.channel_id is not None and event.id is not None:
        key = note_view_key(event.id)
        request_render(session=session, clock=clock, view_key=key, channel=incident.channel_id)
