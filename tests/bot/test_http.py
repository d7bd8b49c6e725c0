"""/readyz tells an orchestrator the truth: not ready while the schema is behind or the
database is down, and why."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import httpx
from slack_bolt import App
from sqlalchemy import text

from bot.http import InFlight, build_http_app
from bot.metrics import Metrics
from bot.server_thread import ServerThread
from workflows.store.db import Database


def _readyz(database: Database) -> httpx.Response:
    bolt = App(signing_secret="s", token="xoxb-unused", token_verification_enabled=False)
    with ServerThread(
        build_http_app(bolt_app=bolt, signing_secret="s", database=database, metrics=Metrics())
    ) as server:
        return httpx.get(f"{server.url}/readyz")


def test_not_ready_until_migrations_are_applied(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'behind.db'}")
    response = _readyz(database)
    assert response.status_code == 503
    assert "run `shipbot db upgrade`" in response.json()["migrations"]
    database.upgrade()
    assert _readyz(database).status_code == 200


def test_not_ready_when_the_database_is_unreachable() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    database = Database(f"postgresql://nobody@127.0.0.1:{port}/none?connect_timeout=1")
    response = _readyz(database)
    assert response.status_code == 503
    assert response.json()["database"].startswith("unreachable")


def test_ready_on_a_newer_releases_schema_but_not_an_older_one(database: Database) -> None:
    # During a rolling upgrade the new release's Job migrates first; the replicas still on
    # this release must stay ready (expand/contract keeps them working), while a schema
    # this release knows to be behind it is not ready.
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'a-newer-release'"))
    answer = _readyz(database)
    assert answer.status_code == 200
    assert answer.json()["migrations"] == "a-newer-release"
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert _readyz(database).status_code == 503


def test_a_failing_readiness_check_makes_it_unready_with_its_reason(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'checks.db'}")
    database.upgrade()
    checks: list = []  # type: ignore[type-arg]
    bolt = App(signing_secret="s", token="xoxb-unused", token_verification_enabled=False)
    app = build_http_app(
        bolt_app=bolt,
        signing_secret="s",
        database=database,
        metrics=Metrics(),
        readiness_checks=checks,
    )
    with ServerThread(app) as server:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        checks.append(lambda: (False, {"socket_mode": "disconnected for 61.0 s"}))
        answer = httpx.get(f"{server.url}/readyz")
    assert answer.status_code == 503
    assert answer.json()["socket_mode"] == "disconnected for 61.0 s"


def test_in_flight_wakes_a_waiting_worker_when_the_last_request_is_answered() -> None:
    acks = InFlight(quiet=0)
    assert acks.wait_until_quiet(0) is True  # none in flight: no wait at all
    woke: list[bool] = []
    with acks:
        with acks:
            waiter = threading.Thread(target=lambda: woke.append(acks.wait_until_quiet(30)))
            waiter.start()
        assert acks.wait_until_quiet(0.01) is False  # one is still being answered
        assert woke == []
    waiter.join(10)
    assert woke == [True] and acks.count == 0


def test_after_a_burst_in_flight_is_quiet_only_once_none_came_for_a_while() -> None:
    """A client's gap between two requests of a burst is not the end of the burst; a
    request that came alone holds nothing back once it is answered."""
    acks = InFlight(quiet=30)
    assert acks.wait_until_quiet(0) is True  # nothing was ever in flight
    with acks:
        pass
    assert acks.wait_until_quiet(0) is True  # one at a time: no burst to wait out
    with acks, acks:  # two at once: a burst
        pass
    assert acks.count == 0
    assert acks.wait_until_quiet(0.05) is False  # the burst ended just now
    brief = InFlight(quiet=0.05)
    with brief, brief:
        pass
    assert brief.wait_until_quiet(30) is True
