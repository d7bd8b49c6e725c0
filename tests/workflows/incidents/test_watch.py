"""Which open incidents hear about a deploy, a lock or a break-glass (issue 16, item 1),
on both databases; the end-to-end path is tests/e2e/test_incident_channel_notifications.py."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import col, select, update

from tests.workflows.deploys.conftest import ask, config_from, example_data
from tests.workflows.incidents.conftest import declare_one
from tests.workflows.incidents.helpers import events, give_channel
from workflows.clock import FakeClock
from workflows.config.loader import ConfigValidationError
from workflows.deploys import locks
from workflows.deploys import views as deploy_views
from workflows.deploys.directory import NoDirectory
from workflows.deploys.models import Deploy, DeployState
from workflows.deploys.requests import Ports
from workflows.incidents import watch
from workflows.incidents.models import Incident, IncidentDeployWatch, IncidentStatus
from workflows.store.db import Database
from workflows.store.models import SlackMessage


def _ports(clock: FakeClock, **notify: Any) -> Ports:
    data = example_data()
    if notify:
        data["incidents"]["notify_deploys"] = notify
    return Ports(clock=clock, config=config_from(data), directory=NoDirectory())


def _incident(database: Database, clock: FakeClock, ports: Ports, **kwargs: Any) -> Incident:
    incident = declare_one(database, clock, ports.config, **kwargs)
    assert incident.id is not None
    give_channel(database, clock, ports.config, incident.id, f"C0INC{incident.id}")
    return incident


def _messages(database: Database, prefix: str) -> list[SlackMessage]:
    with database.read_session() as session:
        query = select(SlackMessage).where(col(SlackMessage.view_key).startswith(prefix))
        return list(session.exec(query.order_by(col(SlackMessage.id))))


def _kinds(database: Database, incident_id: int) -> list[str]:
    return [e.kind for e in events(database, incident_id) if e.kind != "declared"]


def test_environments_and_severities_choose_who_hears(database: Database, clock: FakeClock) -> None:
    ports = _ports(clock, environments=["production"], severities=["SEV1", "SEV2"])
    sev2 = _incident(database, clock, ports)
    sev3 = _incident(database, clock, ports, severity="SEV3")
    ask(database, ports, "web 1.0.0 staging")  # staging: not listed
    assert _messages(database, watch.DEPLOY_PREFIX) == []
    production = ask(
        database, ports, "web 1.0.1 production checkout down", user="U0BOB", break_glass=True
    )
    assert [m.view_key for m in _messages(database, watch.DEPLOY_PREFIX)] == [
        watch.deploy_view_key(sev2.id or 0, production.id or 0)
    ]
    assert _kinds(database, sev2.id or 0) == ["break_glass", "deploy"]
    assert _kinds(database, sev3.id or 0) == []
    (note,) = _messages(database, watch.NOTE_PREFIX)
    assert note.channel == f"C0INC{sev2.id}"


def test_an_empty_environment_list_turns_it_off(database: Database, clock: FakeClock) -> None:
    ports = _ports(clock, environments=[])
    incident = _incident(database, clock, ports)
    ask(database, ports, "web 1.0.0 staging")
    with database.transaction() as session:
        locks.lock(
            session=session,
            ports=ports,
            environment="staging",
            service="web",
            reason="x",
            user="U0BOB",
        )
    assert _kinds(database, incident.id or 0) == []
    assert _messages(database, watch.DEPLOY_PREFIX) == []
    assert _messages(database, watch.NOTE_PREFIX) == []


def test_a_whole_environment_lock_reaches_every_open_incident_with_a_service(
    database: Database, clock: FakeClock
) -> None:
    ports = _ports(clock)
    web = _incident(database, clock, ports)
    nameless = _incident(database, clock, ports, service=None, title="Something")
    resolved = _incident(database, clock, ports, title="Old")
    with database.transaction() as session:
        session.exec(
            update(Incident).where(col(Incident.id) == resolved.id).values(status="resolved")
        )
    with database.transaction() as session:
        locks.lock(
            session=session,
            ports=ports,
            environment="staging",
            service=None,
            reason="cache <!channel>",
            user="U0BOB",
        )
    (line,) = [e for e in events(database, web.id or 0) if e.kind == "lock"]
    assert line.text == "staging locked: cache <!channel>"  # stored as typed; escaped on render
    assert _kinds(database, nameless.id or 0) == []
    assert _kinds(database, resolved.id or 0) == []
    assert len(_messages(database, watch.NOTE_PREFIX)) == 1


def test_a_state_is_recorded_once_and_not_after_the_incident_is_resolved(
    database: Database, clock: FakeClock
) -> None:
    ports = _ports(clock)
    incident = _incident(database, clock, ports)
    deploy = ask(database, ports, "web 1.0.0 staging")
    for _ in range(3):  # re-renders in the same state (progress, a retried job)
        with database.transaction() as session:
            row = session.get(Deploy, deploy.id)
            assert row is not None
            deploy_views.show_all(session=session, clock=clock, deploy=row)
    assert _kinds(database, incident.id or 0) == ["deploy"]
    with database.transaction() as session:
        session.exec(
            update(Incident)
            .where(col(Incident.id) == incident.id)
            .values(status=IncidentStatus.resolved)
        )
        row = session.get(Deploy, deploy.id)
        assert row is not None
        row.state = DeployState.failed
        session.add(row)
        deploy_views.show_all(session=session, clock=clock, deploy=row)
    assert _kinds(database, incident.id or 0) == ["deploy"]
    (message,) = _messages(database, watch.DEPLOY_PREFIX)
    assert message.desired_version == 5  # still kept current: the channel shows "failed"
    with database.read_session() as session:
        (followed,) = session.exec(select(IncidentDeployWatch)).all()
    assert followed.last_state == DeployState.failed


def test_following_twice_changes_nothing(database: Database, clock: FakeClock) -> None:
    ports = _ports(clock)
    deploy = ask(database, ports, "web 1.0.0 staging")
    incident = _incident(database, clock, ports)  # declared while it is in flight
    with database.transaction() as session:
        row = session.get(Incident, incident.id)
        assert row is not None
        watch.incident_declared(session=session, clock=clock, config=ports.config, incident=row)
    assert _kinds(database, incident.id or 0) == ["deploy"]
    assert [m.view_key for m in _messages(database, watch.DEPLOY_PREFIX)] == [
        watch.deploy_view_key(incident.id or 0, deploy.id or 0)
    ]


def test_an_unknown_environment_is_named_with_its_path() -> None:
    data = example_data()
    data["incidents"]["notify_deploys"] = {"environments": ["stagin"]}
    with pytest.raises(ConfigValidationError) as raised:
        config_from(data)
    assert raised.value.problems == [
        (
            "incidents.notify_deploys.environments.0",
            "unknown environment 'stagin' (did you mean 'staging'?)",
        )
    ]
