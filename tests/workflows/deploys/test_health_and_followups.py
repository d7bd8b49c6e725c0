"""After a rollout: the health check, the automatic rollback when it fails, reminders
and expiry as jobs, and rollbacks people ask for."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select, update

from tests.workflows.deploys.conftest import ask, config_from, example_data
from tests.workflows.deploys.test_runner import _context, _run_until_finished
from workflows.backends.base import BackendPorts
from workflows.backends.command import CommandDeployBackend
from workflows.clock import FakeClock
from workflows.deploys import followups
from workflows.deploys.decisions import decide
from workflows.deploys.directory import NoDirectory
from workflows.deploys.models import ApprovalDecision, Deploy
from workflows.deploys.requests import REMIND_JOB, Ports
from workflows.deploys.runner import DeployRunner, RunnerPorts
from workflows.errors import NotFound
from workflows.jobs import RetryLater
from workflows.store.db import Database
from workflows.store.models import Job, SlackMessage

ROOT = Path(__file__).resolve().parents[3]


class Health:
    """A loopback service whose /healthz answers ``status``, counting the checks."""

    def __init__(self) -> None:
        self.status = 200
        self.checks = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.checks += 1
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/healthz"


@pytest.fixture
def health() -> Iterator[Health]:
    service = Health()
    yield service
    service.server.shutdown()


@pytest.fixture(autouse=True)
def fast_rollout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPBOT_ROLLOUT_SECONDS", "0")
    monkeypatch.chdir(ROOT)


def _ports_with_health(clock: FakeClock, url: str) -> Ports:
    data = example_data()
    data["services"]["web"]["health_check"] = {
        "url": url,
        "retries": 2,
        "interval": "1s",
        "deadline": "1m",
    }
    return Ports(clock=clock, config=config_from(data), directory=NoDirectory())


def _runner(database: Database, ports: Ports, state_dir: Path) -> DeployRunner:
    backend = CommandDeployBackend(
        ports.config.services["web"].deploy,  # type: ignore[arg-type]
        ports=BackendPorts(state_dir=state_dir),
    )
    return DeployRunner(
        database=database,
        runner=RunnerPorts(ports=ports, backend_for=lambda _: backend, http=httpx.Client),
    )


def test_a_failed_health_check_fails_the_deploy_and_rolls_back_automatically(
    database: Database, clock: FakeClock, health: Health, tmp_path: Path
) -> None:
    ports = _ports_with_health(clock, health.url)
    runner = _runner(database, ports, tmp_path)
    good = ask(database, ports, "web 1.0.0 staging")
    assert (
        _run_until_finished(runner, _context(database, ports, good.id or 0), good.id or 0).health
        == "passed"
    )

    health.status = 503
    bad = ask(database, ports, "web 2.0.0 staging")
    failed = _run_until_finished(runner, _context(database, ports, bad.id or 0), bad.id or 0)
    assert (failed.state, failed.health) == ("failed", "failed")
    assert "health check failed (HTTP 503" in (failed.error or "")
    assert health.checks == 1 + 3  # the good deploy's, then the first try and 2 retries

    with database.read_session() as session:
        rollback = session.exec(select(Deploy).where(col(Deploy.kind) == "auto_rollback")).one()
    assert (rollback.version, rollback.rollback_of, rollback.state) == ("1.0.0", bad.id, "approved")
    health.status = 200
    done = _run_until_finished(
        runner, _context(database, ports, rollback.id or 0), rollback.id or 0
    )
    assert done.state == "succeeded"


def test_rollback_picks_the_previous_good_version_and_needs_the_usual_approvals(
    database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    ports = Ports(clock=clock, config=config_from(example_data()), directory=NoDirectory())
    runner = _runner(database, ports, tmp_path)

    def deploy_and_finish(version: str) -> None:
        deploy = ask(database, ports, f"web {version} production")
        for approver in ("U0BOB", "U0CAROL"):
            with database.transaction() as session:
                decide(
                    session=session,
                    ports=ports,
                    deploy_id=deploy.id or 0,
                    user=approver,
                    decision=ApprovalDecision.approve,
                )
        _run_until_finished(runner, _context(database, ports, deploy.id or 0), deploy.id or 0)

    deploy_and_finish("1.0.0")
    with database.transaction() as session, pytest.raises(NotFound, match="nothing earlier"):
        followups.rollback(
            session=session, ports=ports, service="web", environment="production", user="U0ALICE"
        )
    deploy_and_finish("1.1.0")
    deploy_and_finish("1.2.0")
    with database.transaction() as session:
        rollback = followups.rollback(
            session=session, ports=ports, service="web", environment="production", user="U0ALICE"
        )
        assert (rollback.version, rollback.kind, rollback.state) == (
            "1.1.0",
            "rollback",
            "awaiting_approval",
        )
        session.expunge(rollback)
    for approver in ("U0BOB", "U0CAROL"):
        with database.transaction() as session:
            decide(
                session=session,
                ports=ports,
                deploy_id=rollback.id or 0,
                user=approver,
                decision=ApprovalDecision.approve,
            )
    _run_until_finished(runner, _context(database, ports, rollback.id or 0), rollback.id or 0)
    with database.read_session() as session:
        states = {
            d.version: d.state
            for d in session.exec(select(Deploy).where(col(Deploy.kind) == "deploy"))
        }
    assert states == {"1.0.0": "succeeded", "1.1.0": "succeeded", "1.2.0": "rolled_back"}


def test_reminders_wait_for_the_request_message_then_repeat_and_expiry_waits_for_ttl(
    database: Database, clock: FakeClock
) -> None:
    ports = Ports(clock=clock, config=config_from(example_data()), directory=NoDirectory())
    deploy = ask(database, ports, "web 1.2.3 production")
    context = _context(database, ports, deploy.id or 0)
    with pytest.raises(RetryLater):  # the approval request has not been posted yet
        followups.handle_remind(context, ports=ports)
    with database.transaction() as session:
        session.exec(  # type: ignore[call-overload]
            update(SlackMessage)
            .where(col(SlackMessage.view_key) == f"approval:{deploy.id}")
            .values(ts="1700000000.000100")
        )
    followups.handle_remind(context, ports=ports)
    with database.read_session() as session:
        reminder = session.exec(
            select(SlackMessage).where(
                col(SlackMessage.view_key) == f"deploy-reminder:{deploy.id}:1"
            )
        ).one()
        assert (reminder.channel, reminder.thread_ts) == ("C0APPROVE", "1700000000.000100")
        keys = [
            j.idempotency_key for j in session.exec(select(Job).where(col(Job.kind) == REMIND_JOB))
        ]
    assert f"deploy:{deploy.id}:remind:2" in keys

    with pytest.raises(RetryLater):  # four hours have not passed
        followups.handle_expire(context, ports=ports)
    clock.advance(hours=4, seconds=1)
    followups.handle_expire(context, ports=ports)
    followups.handle_remind(context, ports=ports)  # expired: no more nudges
    with database.read_session() as session:
        assert session.get(Deploy, deploy.id).state == "expired"  # type: ignore[union-attr]
        assert (
            session.exec(
                select(SlackMessage).where(
                    col(SlackMessage.view_key) == f"deploy-reminder:{deploy.id}:2"
                )
            ).first()
            is None
        )
