"""Small readers for the incident workflow tests."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from workflows import audit
from workflows.clock import FakeClock
from workflows.config.models import ShipbotConfig
from workflows.deploys.directory import NoDirectory
from workflows.incidents import changes
from workflows.incidents.declare import channel_ready
from workflows.incidents.models import Incident, IncidentEvent
from workflows.jobs import JobContext, list_jobs
from workflows.store.db import Database
from workflows.store.models import Job


def jobs(database: Database, kind: str) -> list[Job]:
    with database.read_session() as session:
        return sorted(list_jobs(session=session, kind=kind, limit=500), key=lambda j: j.id or 0)


def job_keys(database: Database, kind: str) -> list[str]:
    return [job.idempotency_key for job in jobs(database, kind)]


def events(database: Database, incident_id: int) -> list[IncidentEvent]:
    with database.read_session() as session:
        query = select(IncidentEvent).where(col(IncidentEvent.incident_id) == incident_id)
        return list(session.exec(query.order_by(col(IncidentEvent.id))))


def incident(database: Database, incident_id: int) -> Incident:
    with database.read_session() as session:
        found = session.get(Incident, incident_id)
        assert found is not None
        return found


def audit_actions(database: Database, target: str) -> list[str]:
    with database.read_session() as session:
        return [e.action for e in reversed(audit.entries(session=session, target=target))]


def give_channel(
    database: Database, clock: FakeClock, config: ShipbotConfig, incident_id: int, channel: str
) -> None:
    with database.transaction() as session:
        assert channel_ready(
            session=session,
            clock=clock,
            config=config,
            incident_id=incident_id,
            channel_id=channel,
            channel_name=f"inc-{incident_id}",
        )


def context_for(database: Database, clock: FakeClock, job: Job) -> JobContext:
    return JobContext(job=job, database=database, clock=clock)


def run_jobs(database: Database, clock: FakeClock, kind: str, handler: Any) -> int:
    """Run every due pending job of ``kind`` through ``handler`` (no worker, no lease)."""
    ran = 0
    for job in jobs(database, kind):
        if job.state == "pending" and job.run_after <= clock.now():
            handler(context_for(database, clock, job))
            with database.transaction() as session:
                stored = session.get(Job, job.id)
                assert stored is not None
                stored.state = "succeeded"
            ran += 1
    return ran


def post_status(
    database: Database,
    clock: FakeClock,
    config: ShipbotConfig,
    incident_id: int,
    status: str,
    message: str,
    *,
    actor: str = "U0BOB",
    delivery_key: str = "",
) -> Incident:
    """``/incident status <status> <message>`` as ``actor``, in a transaction of its own."""
    with database.transaction() as session:
        return changes.update_status(
            directory=NoDirectory(),
            session=session,
            clock=clock,
            config=config,
            actor=actor,
            incident_id=incident_id,
            status=status,
            message=message,
            delivery_key=delivery_key,
        )
