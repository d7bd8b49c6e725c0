"""SLOW (about two minutes): two real `shipbot serve` replicas on one PostgreSQL database
post each fire time of an every-minute report exactly once.

Each replica runs its own in-memory APScheduler; only the database claim decides who
posts. The test waits until two minute boundaries have passed after both replicas are up,
then counts ``chat.postMessage`` calls to the report channel per fire time.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from bot.sandbox.seed import seed_workspace
from bot.sandbox.slack.api import FakeSlackApi
from tests.conftest import POSTGRES_SKIP_REASON, postgres_url
from tests.e2e.conftest import EXAMPLE_CONFIG
from tests.e2e.test_processes import SHIPBOT, free_port, stop, wait_until_up
from workflows.config import load_config
from workflows.reports.models import ReportRun
from workflows.store.db import Database
from workflows.store.models import Job
from workflows.store.scratch import scratch_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(300)]
CHANNEL = "C0DEPLOYS"


@pytest.fixture
def shared_postgres() -> Iterator[Database]:
    """One migrated schema that both replicas (and this test) use."""
    base = postgres_url()
    if base is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    with scratch_postgres(base) as database:
        yield database


def minutely_config(tmp_path: Path) -> Path:
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw["reports"] = [
        {"name": "minutely", "kind": "deploy_digest", "cron": "* * * * *", "channel": "deploys"}
    ]
    path = tmp_path / "shipbot.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def start_replica(
    name: str, tmp_path: Path, database: Database, slack: FakeSlackApi, config: Path
) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-replica",
        "SLACK_SIGNING_SECRET": "replica-signing-secret",
        "SLACK_API_URL": slack.url,
        "SHIPBOT_DATABASE_URL": database.url,
        "SHIPBOT_CONFIG": str(config),
        "SHIPBOT_PORT": str(port),
        "SHIPBOT_HOST": "127.0.0.1",
        "SHIPBOT_STATE_DIR": str(tmp_path / name),
    }
    process = subprocess.Popen(
        [SHIPBOT, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return process, f"http://127.0.0.1:{port}"


def runs_by_fire_time(database: Database) -> dict[datetime, list[int]]:
    with database.read_session() as session:
        rows = session.execute(select(ReportRun.id, ReportRun.fire_time)).all()
    found: dict[datetime, list[int]] = {}
    for run_id, fire_time in rows:
        found.setdefault(fire_time, []).append(run_id)
    return found


def jobs_settled(database: Database) -> bool:
    with database.read_session() as session:
        states = session.execute(select(Job.state)).scalars().all()
    return bool(states) and all(state == "succeeded" for state in states)


def test_slow_two_replicas_post_each_fire_time_once(
    tmp_path: Path, shared_postgres: Database, slack: FakeSlackApi
) -> None:
    config = minutely_config(tmp_path)
    seed_workspace(slack, load_config(config))
    replicas = [
        start_replica(name, tmp_path, shared_postgres, slack, config) for name in ("a", "b")
    ]
    try:
        for process, url in replicas:
            wait_until_up(url, process)
        up = datetime.now(UTC)
        first = up.replace(second=0, microsecond=0) + timedelta(minutes=1)
        boundaries = [first, first + timedelta(minutes=1)]
        # Both boundaries posted (or the time for them long gone), and every job done.
        deadline = time.monotonic() + (boundaries[-1] - up).total_seconds() + 45
        while time.monotonic() < deadline:
            posted = runs_by_fire_time(shared_postgres)
            if all(b in posted for b in boundaries) and jobs_settled(shared_postgres):
                break
            time.sleep(0.5)
        time.sleep(2)  # room for a duplicate post, were there one
    finally:
        codes = [stop(process) for process, _url in replicas]
    assert codes == [0, 0]

    runs = runs_by_fire_time(shared_postgres)
    assert all(b in runs for b in boundaries), f"fire times claimed: {sorted(runs)}"
    assert all(len(ids) == 1 for ids in runs.values()), runs  # one claim per fire time
    posts = Counter(
        call.body["metadata"]["event_payload"]["view_key"]
        for call in slack.calls_to("chat.postMessage")
        if call.body.get("channel") == CHANNEL
    )
    for boundary in boundaries:
        (run_id,) = runs[boundary]
        assert posts[f"report:{run_id}"] == 1, (boundary, posts)
    assert all(count == 1 for count in posts.values()), posts
    assert len(slack.messages(CHANNEL)) == len(runs)
    with shared_postgres.read_session() as session:
        claimers = set(session.execute(select(ReportRun.claimed_by)).scalars())
    assert claimers  # which replica won each fire time is up to the race
