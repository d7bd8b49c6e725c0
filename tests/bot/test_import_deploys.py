"""`shipbot import deploys --from github` against a loopback fake of GitHub's Deployments
API (Link-header pagination, rate-limit 403s), both databases: 5,000 deployments import
as 5,000 deploys; a second run imports 0; a run killed halfway (a real process SIGKILLed,
and a fake that fails mid-way) goes on from its checkpoint and ends with 5,000 and no
duplicate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from bot.cli import main
from tests.fakes.github_api import FakeGithub
from workflows.config import load_config
from workflows.deploys.models import Deploy
from workflows.external.importer import get_checkpoint
from workflows.reports import deploy_digest as digest
from workflows.reports import dora
from workflows.reports.periods import Window
from workflows.store.db import Database

SHIPBOT = str(Path(sys.executable).with_name("shipbot"))
COUNT = 5000
# Each test reads 5,000 deployments (one status request each) once or twice over loopback
# HTTP on a shared, loaded machine: more than the suite's default 120 s.
pytestmark = pytest.mark.timeout(900)
ARGS = ["import", "deploys", "--from", "github", "--service", "web", "--since", "2026-01-01"]


def _config(github_url: str) -> str:
    return f"""
channels: {{deploys: C0DEPLOYS}}
environments:
  staging: {{order: 1}}
  production: {{order: 2}}
services:
  web:
    repository: acme/web
    deploy: {{backend: command, argv: ["true"]}}
hooks:
  github:
    secret: import-test-secret
    api_url: {github_url}
"""


@pytest.fixture
def github() -> Iterator[FakeGithub]:
    fake = FakeGithub(repo="acme/web").start()
    fake.seed_deployments(COUNT)
    yield fake
    fake.stop()


@pytest.fixture
def env(
    database: Database, github: FakeGithub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    config = tmp_path / "shipbot.yaml"
    config.write_text(_config(github.url))
    values = {"SHIPBOT_DATABASE_URL": database.url, "SHIPBOT_CONFIG": str(config)}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, **values}


def _github_deploys(database: Database) -> tuple[int, int]:
    """(rows with source github, distinct external ids among them)."""
    with database.read_session() as session:
        rows, distinct = session.exec(
            select(func.count(), func.count(func.distinct(col(Deploy.external_id)))).where(
                col(Deploy.source) == "github"
            )
        ).one()
    return int(rows), int(distinct)


def test_imports_every_deployment_once_and_a_second_run_nothing(
    database: Database, github: FakeGithub, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    github.rate_limit_next = 1  # the first call is refused: the import waits and retries
    assert main(ARGS) == 0
    assert _github_deploys(database) == (COUNT, COUNT)
    first = capsys.readouterr().out.strip().splitlines()[-1]
    assert first.startswith(f"imported {COUNT} deploys of web from github")
    assert len(github.server.calls("GET", "/repos/acme/web/deployments")) == 51  # 1 refused

    assert main(ARGS) == 0
    assert _github_deploys(database) == (COUNT, COUNT)
    again = capsys.readouterr().out.strip().splitlines()[-1]
    assert again.startswith("imported 0 deploys of web from github (5000 already recorded")
    with database.read_session() as session:
        deploy = session.exec(select(Deploy).where(col(Deploy.external_id) == "1")).one()
    assert (deploy.service, deploy.environment, deploy.version) == ("web", "production", "v1.0")
    # The digest and DORA cover the imported history (2026-01-01 to 01-04, production).
    window = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 8, tzinfo=UTC), "UTC")
    with database.read_session() as session:
        assert digest.compute(session=session, window=window)["totals"]["succeeded"] == COUNT
        figures = dora.compute(
            session=session, config=load_config(env["SHIPBOT_CONFIG"]), window=window
        )
    assert figures["deploys"]["current"] == COUNT
    assert (deploy.state, deploy.in_flight_key, deploy.requested_by) == (
        "succeeded",
        None,
        "github:octocat",
    )


def test_dry_run_counts_and_writes_nothing(
    database: Database, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*ARGS, "--dry-run"]) == 0
    assert capsys.readouterr().out.strip().startswith(f"would import {COUNT} deploys")
    assert _github_deploys(database) == (0, 0)


def test_a_run_that_fails_mid_way_resumes_from_its_checkpoint(
    database: Database, github: FakeGithub, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # GitHub fails once 20 lists were served: page 20's status reads fail with it, so the
    # run dies with 19 pages (1,900 deploys) committed, each with its checkpoint.
    github.fail_after_pages = 20
    assert main(ARGS) == 1
    assert "HTTP 500" in capsys.readouterr().err
    partial = _github_deploys(database)
    assert partial == (1900, 1900)
    with database.read_session() as session:
        checkpoint = get_checkpoint(session=session, source="github", service="web")
        assert checkpoint is not None and checkpoint.cursor.endswith("page=20")
    github.fail_after_pages = None
    lists_before = len(github.server.calls("GET", "/repos/acme/web/deployments"))

    assert main(ARGS) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert out.startswith("imported 3100 deploys") and "resumed from its checkpoint" in out
    assert _github_deploys(database) == (COUNT, COUNT)
    # It went on at page 20: 31 more pages, not 50.
    assert len(github.server.calls("GET", "/repos/acme/web/deployments")) - lists_before == 31


def test_a_killed_process_resumes_and_ends_with_no_duplicate(
    database: Database, env: dict[str, str]
) -> None:
    process = subprocess.Popen(
        [SHIPBOT, *ARGS], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        polls = 0
        while _github_deploys(database)[0] < 1000:
            assert process.poll() is None, process.communicate()
            polls += 1
            assert polls < 6000, "the import made no progress"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    killed_at = _github_deploys(database)[0]
    assert 1000 <= killed_at < COUNT

    finished = subprocess.run(
        [SHIPBOT, *ARGS], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert finished.returncode == 0, finished.stderr
    assert "resumed from its checkpoint" in finished.stdout
    assert _github_deploys(database) == (COUNT, COUNT)
