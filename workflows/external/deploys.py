"""Deploys made outside shipbot (GitHub deployments, Argo CD syncs), recorded as
``Deploy`` rows with ``source`` and ``external_id`` set.

They are history, not work: never in flight (``in_flight_key`` stays NULL, so they hold
no lock on the environment), never given a run job, so the runner, recovery and cancel
never touch them. A second report of the same external id updates the row, forward
only: a finished deploy stays finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from workflows import audit
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.deploys.models import SHIPBOT_SOURCE, TERMINAL_STATES, Deploy, DeployState
from workflows.external.common import service_channel, show_in_channels
from workflows.external.views import external_deploy_view
from workflows.store.upsert import insert_or_ignore


@dataclass(frozen=True)
class ExternalDeploy:
    """One deploy as an outside system reports it."""

    source: str  # "github" | "argocd"
    external_id: str
    service: str
    environment: str
    version: str
    state: DeployState  # running | succeeded | failed
    actor: str
    at: datetime  # when it was created (started)
    finished_at: datetime | None = None
    url: str | None = None
    commit_at: datetime | None = None


_EXTERNAL_KEY = ("source", "external_id")  # unique: one row per deploy outside shipbot


@dataclass(frozen=True)
class Recorded:
    deploy_id: int
    created: bool
    changed: bool


def find_external(
    *, session: Session, source: str, external_id: str, lock: bool = False
) -> Deploy | None:
    """The deploy recorded under ``external_id``; ``lock``: FOR UPDATE (PostgreSQL)."""
    statement = (
        select(Deploy)
        .where(col(Deploy.source) == source)
        .where(col(Deploy.external_id) == external_id)
    )
    return session.exec(statement.with_for_update() if lock else statement).first()


def started_by_shipbot(
    *, session: Session, service: str, environment: str, version: str, at: datetime
) -> bool:
    """Whether shipbot itself runs (or ran, within an hour of ``at``) this version there:
    the outside system is then reporting shipbot's own deploy."""
    found = session.exec(
        select(Deploy.id)
        .where(col(Deploy.source) == SHIPBOT_SOURCE)
        .where(col(Deploy.service) == service)
        .where(col(Deploy.environment) == environment)
        .where(col(Deploy.version) == version)
        .where(col(Deploy.requested_at) >= at - timedelta(hours=1))
        .where(col(Deploy.requested_at) <= at + timedelta(hours=1))
        .limit(1)
    ).first()
    return found is not None


def _values(event: ExternalDeploy, config: ShipbotConfig, now: datetime) -> dict[str, object]:
    finished = event.finished_at or (now if event.state in TERMINAL_STATES else None)
    return {
        "service": event.service,
        "environment": event.environment,
        "version": event.version[:200],
        "reason": "",
        "kind": "deploy",
        "state": event.state,
        # Prefixed, so an outside login never reads as a Slack user id (no mention).
        "requested_by": f"{event.source}:{event.actor[:200]}",
        "requested_at": event.at,
        "started_at": event.at,
        "finished_at": finished,
        "updated_at": now,
        "channel": service_channel(config, event.service) or "",
        "approvals_channel": "",
        "backend": event.source,
        "backend_state": {},
        "logs_url": event.url,
        "commit_at": event.commit_at,
        "source": event.source,
        "external_id": event.external_id,
    }


def store_external(
    *, session: Session, clock: Clock, config: ShipbotConfig, event: ExternalDeploy
) -> Recorded:
    """Insert the deploy, or move a running one on to ``event.state``. Exactly once per
    ``(source, external_id)`` by the unique constraint, across replicas. No messages."""
    now = clock.now()
    statement = (
        insert_or_ignore(session, Deploy, key=_EXTERNAL_KEY)
        .values(**_values(event, config, now))
        .returning(col(Deploy.id))
    )
    inserted = session.execute(statement).first()
    if inserted is not None:
        return Recorded(deploy_id=int(inserted[0]), created=True, changed=True)
    row = find_external(
        session=session, source=event.source, external_id=event.external_id, lock=True
    )
    assert row is not None and row.id is not None
    if row.state in TERMINAL_STATES or row.state == event.state:
        return Recorded(deploy_id=row.id, created=False, changed=False)
    row.state = event.state
    row.finished_at = event.finished_at or (now if event.state in TERMINAL_STATES else None)
    row.logs_url = event.url or row.logs_url
    row.updated_at = now
    session.add(row)
    return Recorded(deploy_id=row.id, created=False, changed=True)


def insert_new(
    *, session: Session, clock: Clock, config: ShipbotConfig, events: list[ExternalDeploy]
) -> int:
    """Insert the deploys not recorded yet, in one statement (an import's page); returns
    how many were new. Rows already there are left as they are."""
    if not events:
        return 0
    now = clock.now()
    statement = (
        insert_or_ignore(session, Deploy, key=_EXTERNAL_KEY)
        .values([_values(event, config, now) for event in events])
        .returning(col(Deploy.id))
    )
    return len(session.execute(statement).all())


def known_ids(
    *, session: Session, source: str, external_ids: list[str], finished: bool = False
) -> set[str]:
    """Which of ``external_ids`` are recorded already (``finished``: and finished)."""
    if not external_ids:
        return set()
    statement = (
        select(Deploy.external_id)
        .where(col(Deploy.source) == source)
        .where(col(Deploy.external_id).in_(external_ids))
    )
    if finished:
        statement = statement.where(col(Deploy.state).in_(list(TERMINAL_STATES)))
    rows = session.exec(statement)
    return {row for row in rows if row is not None}


def record_external(
    *, session: Session, clock: Clock, config: ShipbotConfig, event: ExternalDeploy
) -> Recorded:
    """``store_external``, then (when something changed) its audit entry and its message
    in the service's channel and in each open incident's channel on the service."""
    recorded = store_external(session=session, clock=clock, config=config, event=event)
    if not recorded.changed:
        return recorded
    audit.record(
        session=session,
        clock=clock,
        actor=f"hook:{event.source}",
        action="deploy.external_recorded" if recorded.created else "deploy.external_updated",
        target=f"deploy:{recorded.deploy_id}",
        params={
            "service": event.service,
            "environment": event.environment,
            "version": event.version,
            "state": event.state,
            "external_id": event.external_id,
        },
    )
    deploy_id = recorded.deploy_id
    show_in_channels(
        session=session,
        clock=clock,
        service=event.service,
        channel=service_channel(config, event.service),
        view_key=lambda incident_id: external_deploy_view(deploy_id, incident_id),
    )
    return recorded
