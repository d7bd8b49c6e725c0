"""What keeping App Homes current costs: one change with N people's Homes open.

For each database (a SQLite file, and PostgreSQL when SHIPBOT_TEST_POSTGRES_URL is set)
it opens the Home of N people (default 200), then makes one change every Home shows (a
lock placed) and prints:

- the time ``homes_changed`` adds to the change's transaction (one look for any Home,
  one job row), against the same transaction without it;
- how long the fan-out job takes to ask for N Homes;
- how long the worker (4 threads, the loopback Slack emulator) takes to publish them,
  and how many ``views.publish`` calls it made (one per person: nothing is lost or
  doubled).

    .venv/bin/python bench/home_fanout.py [--homes 200] [--postgres-only]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from slack_sdk import WebClient

from bot.sandbox.slack.api import FakeSlackApi
from bot.slack_errors import slack_errors_as_job_outcomes
from bot.worker import Worker
from commands.home.publish import Publisher
from workflows.clock import SystemClock
from workflows.config.loader import load_config
from workflows.deploys.directory import NoDirectory
from workflows.home.fanout import HomePorts, handle_fanout
from workflows.home.refresh import FANOUT_JOB, PUBLISH_JOB, home_opened, homes_changed
from workflows.jobs import counts_by_state, enqueue
from workflows.store.db import Database
from workflows.store.scratch import scratch_postgres

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shipbot.yaml"


@contextmanager
def databases() -> Iterator[tuple[str, Database]]:
    with tempfile.TemporaryDirectory() as scratch:
        database = Database(f"sqlite:///{Path(scratch) / 'bench.db'}")
        database.upgrade()
        yield "sqlite", database
        database.dispose()


def _drain(worker: Worker, database: Database) -> None:
    while True:
        worker.run_pending(max_jobs=1000)
        with database.read_session() as session:
            counts = counts_by_state(session=session)
        if not counts.get("pending") and not counts.get("running"):
            return
        time.sleep(0.05)


def _change_ms(database: Database, clock: SystemClock, *, with_homes: bool) -> float:
    times = []
    for n in range(20):
        started = time.perf_counter()
        with database.transaction() as session:
            # A change writes something anyway: here, one job row of its own.
            enqueue(
                session=session,
                clock=clock,
                kind="bench.noop",
                payload={},
                idempotency_key=f"bench:{with_homes}:{n}:{time.perf_counter_ns()}",
            )
            if with_homes:
                homes_changed(session=session, clock=clock)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(name: str, database: Database, homes: int) -> None:
    clock = SystemClock()
    config = load_config(EXAMPLE)
    ports = HomePorts(config=config, directory=NoDirectory())
    with FakeSlackApi() as slack:
        users = [f"U{n:08d}" for n in range(homes)]
        for user in users:
            slack.add_user(user, name=user.lower())
        publisher = Publisher(
            client_factory=lambda: WebClient(token="xoxb-bench", base_url=slack.url), ports=ports
        )
        handlers = {
            PUBLISH_JOB: slack_errors_as_job_outcomes(publisher.handle),
            FANOUT_JOB: lambda context: handle_fanout(context, ports=ports),
            "bench.noop": lambda context: None,
        }
        worker = Worker(database, clock=clock, handlers=handlers, threads=4)
        with database.transaction() as session:
            for user in users:
                home_opened(session=session, clock=clock, user_id=user)
        _drain(worker, database)
        first = len(slack.calls_to("views.publish"))
        bare = _change_ms(database, clock, with_homes=False)
        added = _change_ms(database, clock, with_homes=True)
        # Those 20 changes coalesce with the next: publish what they asked for first.
        _drain(worker, database)
        before = len(slack.calls_to("views.publish"))
        with database.transaction() as session:
            homes_changed(session=session, clock=clock)
        started = time.perf_counter()
        _drain(worker, database)
        took = time.perf_counter() - started
        published = len(slack.calls_to("views.publish")) - before
        print(
            f"{name:8} homes={homes} first publish={first}  change txn: {bare:.2f} ms bare, "
            f"{added:.2f} ms with homes_changed  one change -> {published} publishes "
            f"(fan-out + publish) in {took:.2f} s"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=int, default=200)
    parser.add_argument("--postgres-only", action="store_true")
    args = parser.parse_args()
    if not args.postgres_only:
        with databases() as (name, database):
            run(name, database, args.homes)
    url = os.environ.get("SHIPBOT_TEST_POSTGRES_URL")
    if url:
        with scratch_postgres(url) as database:
            run("postgres", database, args.homes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
