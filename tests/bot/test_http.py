"""/readyz tells an orchestrator the truth: not ready while the schema is behind or the
database is down, and why."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
from slack_bolt import App

from bot.http import build_http_app
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
