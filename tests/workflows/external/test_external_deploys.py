"""External deploys are history, not work (both databases): recorded once per outside id,
moved forward only, never shown as a shipbot card, never reported back to GitHub, and
never cancellable."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import col, select

from workflows.changes.github_deployments import enqueue_status
from workflows.clock import FakeClock
from workflows.config import parse_config
from workflows.deploys import views as deploy_views
from workflows.deploys.decisions import cancel
from workflows.deploys.directory import NoDirectory
from workflows.deploys.models import Deploy, DeployState
from workflows.deploys.requests import Ports
from workflows.errors import Conflict
from workflows.external.deploys import ExternalDeploy, record_external
from workflows.store.db import Database
from workflows.store.models import Job, SlackMessage

CONFIG = parse_config(
    """
channels: {deploys: C0DEPLOYS}
environments: {staging: {order: 1}}
services:
  web:
    source: {github: acme/web, deployments: true}
    deploy: {backend: command, argv: ["true"]}
"""
)


def _event(state: DeployState) -> ExternalDeploy:
    return ExternalDeploy(
        source="github",
        external_id="9",
        service="web",
        environment="staging",
        version="v1",
        state=state,
        actor="octocat",
        at=datetime(2026, 1, 5, 8, tzinfo=UTC),
    )


def test_recorded_once_forward_only_and_never_run(database: Database) -> None:
    clock = FakeClock()
    with database.transaction() as session:
        first = record_external(
            session=session, clock=clock, config=CONFIG, event=_event(DeployState.running)
        )
        done = record_external(
            session=session, clock=clock, config=CONFIG, event=_event(DeployState.succeeded)
        )
        late = record_external(
            session=session, clock=clock, config=CONFIG, event=_event(DeployState.running)
        )
    assert (first.created, done.created, done.changed, late.changed) == (True, False, True, False)
    assert first.deploy_id == done.deploy_id == late.deploy_id

    with database.transaction() as session:
        deploy = session.get(Deploy, first.deploy_id)
        assert deploy is not None and deploy.state == DeployState.succeeded
        assert deploy.in_flight_key is None and deploy.source == "github"
        deploy_views.show_all(session=session, clock=clock, deploy=deploy)
        enqueue_status(session=session, clock=clock, config=CONFIG, deploy=deploy)
        messages = session.exec(select(SlackMessage)).all()
        kinds = [job.kind for job in session.exec(select(Job).order_by(col(Job.id)))]
    # One message, the external card: created (1), changed (2), shown again (3), with one
    # render job pending for all three; no shipbot card and no commit status to GitHub.
    assert [(m.view_key, m.desired_version) for m in messages] == [
        (f"deploy-ext:{first.deploy_id}", 3)
    ]
    assert kinds == ["render"]

    ports = Ports(clock=clock, config=CONFIG, directory=NoDirectory())
    with pytest.raises(Conflict, match="made by github"), database.transaction() as session:
        cancel(session=session, ports=ports, deploy_id=first.deploy_id, user="U0ALICE")
