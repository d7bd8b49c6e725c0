"""What a Home shows and whose Home a change refreshes, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from tests.workflows.deploys.conftest import ask, config_from, example_data
from workflows.clock import FakeClock
from workflows.config import ShipbotConfig
from workflows.deploys.decisions import decide
from workflows.deploys.directory import NoDirectory
from workflows.deploys.models import ApprovalDecision
from workflows.deploys.requests import Ports
from workflows.home.data import freezes_ahead, home_for, open_incidents_for
from workflows.home.fanout import HomePorts, refresh_homes
from workflows.home.refresh import FANOUT_JOB, PUBLISH_JOB, home_opened, homes_changed
from workflows.incidents.declare import declare
from workflows.incidents.visibility import Viewer
from workflows.store.db import Database
from workflows.store.models import Job


@pytest.fixture
def ports(clock: FakeClock) -> Ports:
    return Ports(clock=clock, config=config_from(example_data()), directory=NoDirectory())


def _jobs(database: Database, kind: str) -> list[Job]:
    with database.read_session() as session:
        return list(session.exec(select(Job).where(col(Job.kind) == kind).order_by(col(Job.id))))


def _home(database: Database, ports: Ports, user: str) -> object:
    with database.read_session() as session:
        return home_for(
            session=session,
            config=ports.config,
            directory=NoDirectory(),
            user_id=user,
            now=ports.clock.now(),
        )


def test_pending_approvals_follow_the_approval_rules(database: Database, ports: Ports) -> None:
    deploy = ask(database, ports, "web 1.2.3 production")
    # alice asked (no self-approval), dave is not in sre: neither is offered buttons.
    for user, waiting in (("U0ALICE", 0), ("U0DAVE", 0), ("U0BOB", 1), ("U0CAROL", 1)):
        home = _home(database, ports, user)
        assert len(home.pending) == waiting, user  # type: ignore[attr-defined]
    assert deploy.id is not None
    with database.transaction() as session:
        decide(
            session=session,
            ports=ports,
            deploy_id=deploy.id,
            user="U0BOB",
            decision=ApprovalDecision.approve,
            version="1.2.3",
        )
    assert _home(database, ports, "U0BOB").pending == []  # type: ignore[attr-defined]
    carol = _home(database, ports, "U0CAROL")
    assert [(p.approved, p.required) for p in carol.pending] == [(1, 2)]  # type: ignore[attr-defined]
    assert [d.id for d in _home(database, ports, "U0ALICE").recent] == [deploy.id]  # type: ignore[attr-defined]


def test_a_change_enqueues_a_fanout_only_once_someone_has_a_home(
    database: Database, ports: Ports, clock: FakeClock
) -> None:
    production = ask(database, ports, "web 1.2.3 production")
    assert _jobs(database, FANOUT_JOB) == []  # nobody has opened a Home yet
    with database.transaction() as session:
        home_opened(session=session, clock=clock, user_id="U0BOB", delivery_key="slack:event:E1")
        home_opened(session=session, clock=clock, user_id="U0DAVE")
    assert [j.payload["view_key"] for j in _jobs(database, PUBLISH_JOB)] == [
        "home:U0BOB",
        "home:U0DAVE",
    ]
    deploy = ask(database, ports, "web 1.2.4 staging", user="U0ERIN")
    fanouts = _jobs(database, FANOUT_JOB)
    assert fanouts and {j.payload["scope"] for j in fanouts} == {f"deploy:{deploy.id}"}
    # A staging deploy needs no approval: only its requester's Home shows it, and erin has
    # no Home open; a production one goes to the approvers who have one (bob, not dave).
    home_ports = HomePorts(config=ports.config, directory=NoDirectory())
    with database.transaction() as session:
        assert (
            refresh_homes(
                session=session, clock=clock, ports=home_ports, scope=f"deploy:{deploy.id}"
            )
            == []
        )
        assert refresh_homes(
            session=session, clock=clock, ports=home_ports, scope=f"deploy:{production.id}"
        ) == ["U0BOB"]
        assert refresh_homes(session=session, clock=clock, ports=home_ports, scope="all") == [
            "U0BOB",
            "U0DAVE",
        ]
        homes_changed(session=session, clock=clock)


def test_incidents_show_theirs_first(database: Database, clock: FakeClock) -> None:
    config = config_from(example_data())
    with database.transaction() as session:
        for actor, severity in (("U0ALICE", "SEV1"), ("U0DAVE", "SEV3")):
            declare(
                session=session,
                clock=clock,
                config=config,
                directory=NoDirectory(),
                actor=actor,
                severity=severity,
                title=f"{actor} trouble",
            )
    with database.read_session() as session:
        dave = open_incidents_for(session=session, viewer=_viewer(config, "U0DAVE"))
        bob = open_incidents_for(session=session, viewer=_viewer(config, "U0BOB"))
    assert [(i.incident.declared_by, i.theirs) for i in dave] == [
        ("U0DAVE", True),
        ("U0ALICE", False),
    ]
    assert [i.incident.severity for i in bob] == ["SEV1", "SEV3"]  # most severe first


def _viewer(config: ShipbotConfig, user: str) -> Viewer:
    return Viewer(user_id=user, config=config, directory=NoDirectory())


def test_a_private_incident_is_on_its_members_and_managers_homes_only(
    database: Database, clock: FakeClock
) -> None:
    config = config_from(example_data())
    with database.transaction() as session:
        for actor, private in (("U0ALICE", True), ("U0DAVE", False)):
            declare(
                session=session,
                clock=clock,
                config=config,
                directory=NoDirectory(),
                actor=actor,
                severity="SEV2",
                title=f"{actor} trouble",
                private=private,
            )
    seen: dict[str, list[str]] = {}
    with database.read_session() as session:
        for user in ("U0ALICE", "U0BOB", "U0ERIN"):  # declarer, non-member, incident manager
            home = home_for(
                session=session,
                config=config,
                directory=NoDirectory(),
                user_id=user,
                now=clock.now(),
            )
            seen[user] = sorted(i.incident.declared_by for i in home.incidents)
    assert seen == {
        "U0ALICE": ["U0ALICE", "U0DAVE"],
        "U0BOB": ["U0DAVE"],
        "U0ERIN": ["U0ALICE", "U0DAVE"],
    }


def test_freezes_ahead_show_the_open_one_or_the_next() -> None:
    data = example_data()
    data["environments"]["production"]["freeze_windows"] = [
        {"cron": "0 18 * * 5", "duration": "62h", "timezone": "UTC", "reason": "weekend"}
    ]
    config = config_from(data)
    thursday = datetime(2026, 12, 3, 12, 0, tzinfo=FakeClock().now().tzinfo)
    (upcoming,) = freezes_ahead(config=config, now=thursday)
    assert (upcoming.environment, upcoming.open, upcoming.reason) == (
        "production",
        False,
        "weekend",
    )
    assert upcoming.starts == datetime(2026, 12, 4, 18, 0, tzinfo=upcoming.starts.tzinfo)
    (now_open,) = freezes_ahead(config=config, now=upcoming.starts + timedelta(hours=1))
    assert now_open.open and now_open.ends == upcoming.ends
