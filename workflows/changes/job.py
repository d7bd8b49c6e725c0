"""The ``deploy.changes`` job: compute what a deploy ships and store it on the deploy.

Enqueued in the request's transaction with the version running at that moment; the
work (git, or GitHub over HTTP with a 5 s timeout per call) happens here, off the ack
path. The answer, or why there is none, is stored on the deploy and its messages are
re-rendered; the oldest commit's time becomes ``commit_at``, DORA's lead-time start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlmodel import Session

from workflows.changes.git_local import git_changes
from workflows.changes.github import github_changes
from workflows.changes.model import ChangeSet, unavailable
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.config.sources import GithubSource
from workflows.deploys import queries
from workflows.deploys import views as deploy_views
from workflows.deploys.models import Deploy
from workflows.deploys.transitions import locked_deploy
from workflows.jobs import JobContext, enqueue

CHANGES_JOB = "deploy.changes"


@dataclass
class ChangesPorts:
    config: ShipbotConfig
    http: Callable[[], httpx.Client] = lambda: httpx.Client(timeout=5.0)


def enqueue_changes(
    *, session: Session, clock: Clock, config: ShipbotConfig, deploy: Deploy
) -> None:
    """Queue the job if the service has a ``source`` (call in the request's transaction)."""
    if config.services[deploy.service].source is None:
        return
    running = queries.current_release(
        session=session, service=deploy.service, environment=deploy.environment
    )
    enqueue(
        session=session,
        clock=clock,
        kind=CHANGES_JOB,
        payload={"deploy_id": deploy.id, "base_version": running.version if running else None},
        idempotency_key=f"deploy:{deploy.id}:changes",
    )


def compute(
    ports: ChangesPorts, *, service: str, environment: str, base: str | None, version: str
) -> ChangeSet:
    source = ports.config.services[service].source
    if source is None:
        return unavailable(base, version, "no source configured")
    if base is None:
        return unavailable(base, version, f"nothing deployed to {environment} yet")
    if base == version:
        return ChangeSet(base_version=base, version=version)
    if isinstance(source, GithubSource):
        return github_changes(source, base=base, version=version, http=ports.http)
    return git_changes(source, base=base, version=version)


def handle_changes(context: JobContext, *, ports: ChangesPorts) -> None:
    deploy_id = int(context.job.payload["deploy_id"])
    base = context.job.payload.get("base_version")
    with context.database.read_session() as session:
        deploy = queries.get_deploy(session=session, deploy_id=deploy_id)
        if deploy is None or deploy.changes is not None:
            return  # gone, or already computed by an earlier run of this job
        service, environment, version = deploy.service, deploy.environment, deploy.version
    changes = compute(ports, service=service, environment=environment, base=base, version=version)
    with context.database.transaction() as session:
        row = locked_deploy(session=session, deploy_id=deploy_id)
        row.changes = changes.to_json()
        if row.commit_at is None and changes.first_commit_at is not None:
            row.commit_at = changes.first_commit_at
        row.updated_at = context.clock.now()
        session.add(row)
        deploy_views.show_all(session=session, clock=context.clock, deploy=row)
