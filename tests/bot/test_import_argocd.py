"""`shipbot import deploys --from argocd` against a loopback fake of the Argo CD API, both
databases: every history entry since --since of each mapped application becomes one
deploy; a second run imports nothing; the webhook's report of an imported sync adds
nothing (the same id)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.cli import main
from bot.cli.imports import ProgressBar
from tests.workflows.backends.http_fake import FakeHttpServer, Recorded, Reply
from workflows.clock import FakeClock
from workflows.config import load_config
from workflows.deploys.models import Deploy
from workflows.external.argocd import receive_argocd
from workflows.store.db import Database

TOKEN = "argo-api-token-0123456789"
HOOK_TOKEN = "argo-hook-token-0123456789"
ARGS = ["import", "deploys", "--from", "argocd", "--service", "web", "--since", "2026-01-01"]


def _history(count: int, first_day: int) -> list[dict[str, Any]]:
    return [
        {
            "id": number,
            "revision": f"{number:040x}",
            "deployStartedAt": f"2026-01-{first_day + number:02d}T09:00:00Z",
            "deployedAt": f"2026-01-{first_day + number:02d}T09:02:00Z",
            "initiatedBy": {"username": "admin"} if number % 2 else {"automated": True},
        }
        for number in range(count)
    ]


@pytest.fixture
def argo() -> Iterator[FakeHttpServer]:
    server = FakeHttpServer()
    apps = {
        # One entry before --since: not imported.
        "web-staging": [
            {**_history(1, 1)[0], "deployStartedAt": "2025-12-31T09:00:00Z"},
            *_history(4, 2),
        ],
        "web-production": _history(3, 10),
    }

    def application(request: Recorded, match: re.Match[str]) -> Reply:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return Reply(401, {"error": "no session information"})
        name = match["name"]
        if name not in apps:
            return Reply(404, {"error": f"application {name} not found"})
        return Reply(200, {"metadata": {"name": name}, "status": {"history": apps[name]}})

    server.add("GET", r"/api/v1/applications/(?P<name>[^/]+)", application)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def config_path(
    database: Database, argo: FakeHttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    path = tmp_path / "shipbot.yaml"
    path.write_text(
        f"""
channels: {{deploys: C0DEPLOYS}}
environments: {{staging: {{order: 1}}, production: {{order: 2}}}}
services:
  web:
    argocd_applications: {{web-staging: staging, web-production: production}}
    deploy: {{backend: command, argv: ["true"]}}
hooks:
  argocd: {{secret: {HOOK_TOKEN}, api_url: "{argo.url}", token: {TOKEN}}}
"""
    )
    monkeypatch.setenv("SHIPBOT_DATABASE_URL", database.url)
    monkeypatch.setenv("SHIPBOT_CONFIG", str(path))
    return path


def _argocd_deploys(database: Database) -> list[Deploy]:
    with database.read_session() as session:
        return list(
            session.exec(
                select(Deploy).where(col(Deploy.source) == "argocd").order_by(col(Deploy.id))
            )
        )


def test_imports_argocd_history_once(
    database: Database, config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(ARGS) == 0
    assert capsys.readouterr().out.strip().startswith("imported 7 deploys of web from argocd")
    deploys = _argocd_deploys(database)
    assert sorted((d.environment, d.state) for d in deploys).count(("staging", "succeeded")) == 4
    assert {d.requested_by for d in deploys} == {"argocd:admin", "argocd:argocd"}
    assert main(ARGS) == 0
    assert capsys.readouterr().out.strip().startswith("imported 0 deploys")
    assert len(_argocd_deploys(database)) == 7

    # The hook reporting a sync the import already has: the same id, nothing new.
    body = (
        b'{"app": "web-staging", "revision": "x", "phase": "Succeeded", "health": "Healthy",'
        b' "started_at": "2026-01-02T09:00:00Z"}'
    )
    outcome = receive_argocd(
        database=database,
        clock=FakeClock(),
        config=load_config(config_path),
        body=body,
        headers={"authorization": f"Bearer {HOOK_TOKEN}"},
    )
    assert outcome.result == "unchanged"
    assert len(_argocd_deploys(database)) == 7


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_draws_on_a_terminal_only() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = ProgressBar(stream)
        bar(1, 4, 100)
        bar(4, 4, 400)
        bar(5, None, 450)
        bar.close()
    assert terminal.getvalue() == (
        "\r[#######.......................] page 1/4 · 100 imported"
        "\r[##############################] page 4/4 · 400 imported"
        "\rpage 5 · 450 imported\n"
    )
    assert pipe.getvalue() == ""
