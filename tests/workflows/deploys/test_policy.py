"""Policy checks, each against a real database on both engines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.workflows.deploys.conftest import StaticDirectory, ask, config_from, example_data
from workflows.clock import FakeClock
from workflows.deploys.policy import evaluate
from workflows.deploys.requests import Ports
from workflows.errors import Conflict, NotFound, PermissionDenied, UserError
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
    assert [c.name for c in denied.blockers] == ["permission"]
    with pytest.raises(PermissionDenied, match="only releasers may deploy to production"):
        ask(database, ports, "web 1.0.0 production")


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
    assert [c.name for c in verdict.blockers] == ["freeze"]
    assert "weekend" in verdict.blockers[0].detail
    with pytest.raises(Conflict, match="freeze window"):
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
    assert [c.name for c in verdict.blockers] == ["promotion"]
    assert "2.0.0 has not succeeded in staging" in verdict.blockers[0].detail


def test_one_deploy_in_flight_per_service_and_environment(database: Database, ports: Ports) -> None:
    first = ask(database, ports, "web 1.0.0 production")
    with pytest.raises(Conflict) as refused:
        ask(database, ports, "web 1.0.1 production", user="U0DAVE")
    assert f"deploy #{first.id} (1.0.0, <@U0ALICE>) is awaiting approval" in refused.value.message
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
    assert blocker.name == "incident" and "Checkout errors" in blocker.detail
    assert _verdict(database, ports, "U0ALICE", "web", "staging").allowed  # not production
    with pytest.raises(Conflict, match="Checkout errors"):
        ask(database, ports, "web 2.0.0 production")
    assert _verdict(database, ports, "U0DAVE", "web", "production").allowed_with_break_glass
    deploy = ask(
        database, ports, "web 2.0.0 production IC says go", user="U0DAVE", break_glass=True
    )
    assert deploy.override
