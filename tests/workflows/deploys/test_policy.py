"""Policy checks, each against a real database on both engines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.workflows.deploys.conftest import StaticDirectory, ask, config_from, example_data
from workflows.clock import FakeClock
from workflows.deploys.policy import (
    Freeze,
    IncidentBlock,
    InFlight,
    Permission,
    Promotion,
    evaluate,
)
from workflows.deploys.requests import DeployRefused, Ports
from workflows.errors import Conflict, NotFound, UserError
from workflows.incidents.models import Incident
from workflows.store.db import Database


def _verdict(database: Database, ports: Ports, user: str, service: str, env: str, **kw: object):  # type: ignore[no-untyped-def]
    with database.read_session() as session:
        return evaluate(
            session=session,
            clock=ports.clock,
            config=ports.config,
            directory=ports.directory,
            user=user,
            service=service,
            environment=env,
            **kw,  # type: ignore[arg-type]
        )


def test_unknown_service_suggests_close_matches_and_unknown_env_lists_them(
    database: Database, ports: Ports
) -> None:
    with pytest.raises(NotFound) as service_error:
        _verdict(database, ports, "U0ALICE", "wbe", "staging")
    assert "`web`" in (service_error.value.hint or "")
    with pytest.raises(NotFound) as env_error:
        _verdict(database, ports, "U0ALICE", "web", "prod")
    assert "`staging`, `production`" in (env_error.value.hint or "")


def test_deployers_may_come_from_a_slack_user_group(database: Database, clock: FakeClock) -> None:
    data = example_data()
    data["groups"]["releasers"] = {"usergroups": ["S0RELEASE"]}
    data["environments"]["production"]["deployers"] = ["releasers"]
    directory = StaticDirectory({"S0RELEASE": {"U0DAVE"}})
    ports = Ports(clock=clock, config=config_from(data), directory=directory)
    assert _verdict(database, ports, "U0DAVE", "web", "production").allowed
    denied = _verdict(database, ports, "U0ALICE", "web", "production")
    assert denied.blockers == [Permission(ok=False, deployers=("releasers",))]
    with pytest.raises(DeployRefused) as refused:
        ask(database, ports, "web 1.0.0 production")
    assert refused.value.verdict.blockers == denied.blockers


def test_freeze_window_blocks_but_break_glass_with_a_reason_goes_through_flagged(
    database: Database, clock: FakeClock
) -> None:
    data = example_data()
    data["environments"]["production"]["freeze_windows"] = [
        {
            "cron": "0 18 * * FRI",
            "duration": "62h",
            "timezone": "Europe/Berlin",
            "reason": "weekend",
        }
    ]
    ports = Ports(clock=clock, config=config_from(data), directory=StaticDirectory({}))
    clock.set(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))  # a Saturday: inside the window
    verdict = _verdict(database, ports, "U0ALICE", "web", "production")
    (freeze,) = verdict.blockers
    assert isinstance(freeze, Freeze) and freeze.reason == "weekend"
    assert (freeze.since, freeze.until) == (
        datetime(2026, 11, 20, 17, 0, tzinfo=UTC),  # Friday 18:00 Berlin
        datetime(2026, 11, 23, 7, 0, tzinfo=UTC),  # 62 hours later
    )
    assert freeze.lifted_by_break_glass and not verdict.user_may_lift(freeze)
    with pytest.raises(DeployRefused):
        ask(database, ports, "web 1.0.0 production")
    # alice is not in the break-glass group (sre); bob is.
    with pytest.raises(Conflict):
        ask(database, ports, "web 1.0.0 production hotfix", break_glass=True)
    with pytest.raises(UserError, match="needs a reason"):
        ask(database, ports, "web 1.0.0 production", user="U0BOB", break_glass=True)
    deploy = ask(
        database, ports, "web 1.0.0 production checkout down", user="U0BOB", break_glass=True
    )
    assert deploy.override and deploy.override_reason == "checkout down"
    clock.set(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))  # Monday 09:00 Berlin: window closed
    assert _verdict(database, ports, "U0ALICE", "web", "staging").allowed


def test_promotion_order_needs_success_in_the_earlier_environment(
    database: Database, clock: FakeClock
) -> None:
    data = example_data()
    data["environments"]["production"]["requires_success_in"] = "staging"
    ports = Ports(clock=clock, config=config_from(data), directory=StaticDirectory({}))
    verdict = _verdict(database, ports, "U0ALICE", "web", "production", version="2.0.0")
    assert verdict.blockers == [Promotion(ok=False, version="2.0.0", required_in="staging")]
    assert not verdict.blockers[0].lifted_by_break_glass
    explained = _verdict(database, ports, "U0ALICE", "web", "production")
    assert Promotion(ok=True, version="", required_in="staging") in explained.checks


def test_one_deploy_in_flight_per_service_and_environment(database: Database, ports: Ports) -> None:
    first = ask(database, ports, "web 1.0.0 production")
    with pytest.raises(DeployRefused) as refused:
        ask(database, ports, "web 1.0.1 production", user="U0DAVE")
    assert refused.value.verdict.blockers == [
        InFlight(
            ok=False,
            deploy_id=first.id,
            version="1.0.0",
            requested_by="U0ALICE",
            state="awaiting_approval",
        )
    ]
    ask(database, ports, "web 1.0.1 staging", user="U0DAVE")  # another environment is free


def test_a_blocking_incident_names_itself_and_only_its_commander_may_override(
    database: Database, ports: Ports, clock: FakeClock
) -> None:
    with database.transaction() as session:
        session.add(
            Incident(
                title="Checkout errors",
                severity="SEV2",
                service="web",
                declared_by="U0ALICE",
                commander="U0DAVE",
                declared_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    verdict = _verdict(database, ports, "U0ALICE", "web", "production")
    (blocker,) = verdict.blockers
    assert isinstance(blocker, IncidentBlock)
    assert (blocker.title, blocker.severity, blocker.commander) == (
        "Checkout errors",
        "SEV2",
        "U0DAVE",
    )
    assert _verdict(database, ports, "U0ALICE", "web", "staging").allowed  # not production
    with pytest.raises(DeployRefused):
        ask(database, ports, "web 2.0.0 production")
    assert _verdict(database, ports, "U0DAVE", "web", "production").allowed_with_break_glass
    deploy = ask(
        database, ports, "web 2.0.0 production IC says go", user="U0DAVE", break_glass=True
    )
    assert deploy.override
