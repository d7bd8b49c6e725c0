"""An alert storm: 10,000 alerts in 100 requests of 100, from several threads (in a process
of their own, so the senders do not share the server's GIL), through
authenticated HTTP into the running app (Runtime + uvicorn + the loopback Slack fake),
on SQLite and, when SHIPBOT_TEST_POSTGRES_URL is set, on PostgreSQL.

Half the requests are Alertmanager webhooks (bearer token), half generic webhooks signed
with HMAC-SHA256. The alerts fall into 20 groups (10 alert names x 2 services), routed
to two channels. Prints, per database: seconds to accept every request, alerts/s, the
rows and counts stored, Slack calls, the most messages one channel got in any second,
and how long until Slack showed the final counts.

    .venv/bin/python bench/alert_storm.py [--requests 100] [--per-request 100] [--threads 8]
        [--layout inline|split|both]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import text

from bot.runtime import Runtime
from bot.sandbox.seed import seed_workspace
from bot.sandbox.slack.api import FakeSlackApi
from bot.server_thread import ServerThread
from bot.settings import Settings
from workflows.config import ShipbotConfig, parse_config
from workflows.jobs import counts_by_state
from workflows.store.db import Database
from workflows.store.scratch import scratch_postgres

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-" + "t" * 16
SECRET = "bench-" + "s" * 16
NAMES = 10
SERVICES = ("web", "api")  # web -> #alerts (route), api -> #incidents (default)


def bench_config() -> ShipbotConfig:
    data = yaml.safe_load((ROOT / "examples" / "shipbot.yaml").read_text(encoding="utf-8"))
    data["alerts"]["sources"] = {
        "alertmanager": {"auth": "bearer", "token": TOKEN},
        "generic": {"auth": "hmac", "secret": SECRET},
    }
    return parse_config(yaml.safe_dump(data), environ={})


def request_for(number: int, per_request: int, mixed: bool) -> tuple[str, bytes, dict[str, str]]:
    service = SERVICES[number % len(SERVICES)]

    def name(n: int) -> str:
        return f"Storm{n % NAMES}" if mixed else f"Storm{(number // len(SERVICES)) % NAMES}"

    if number % 4 < 2:
        alerts = [
            {
                "status": "firing",
                "labels": {"alertname": name(n), "service": service, "n": str(n)},
                "annotations": {"summary": "storm"},
                "startsAt": "2026-01-05T09:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{number:04d}{n:04d}",
            }
            for n in range(per_request)
        ]
        body = json.dumps({"version": "4", "status": "firing", "alerts": alerts}).encode()
        return "alertmanager", body, {"Authorization": f"Bearer {TOKEN}"}
    items = [
        {"id": f"{number}-{n}", "status": "firing", "summary": "storm",
         "labels": {"alertname": name(n), "service": service}}
        for n in range(per_request)
    ]  # fmt: skip
    body = json.dumps(items).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return "generic", body, {"X-Shipbot-Signature": f"sha256={signature}"}


Request = tuple[str, bytes, dict[str, str]]


def send_all(url: str, bodies: list[Request], threads: int) -> tuple[int, float]:
    """POST every body from ``threads`` threads; the alerts accepted and the seconds taken
    from the first request to the last answer."""

    def send(item: Request) -> int:
        source, body, headers = item
        with httpx.Client(base_url=url, timeout=60) as client:
            response = client.post(f"/hooks/{source}", content=body, headers=headers)
            response.raise_for_status()
            return int(response.json()["new"])

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        accepted = sum(pool.map(send, bodies))
    return accepted, time.perf_counter() - began


@contextmanager
def database_of(kind: str) -> Iterator[Database]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as scratch:
            database = Database(f"sqlite:///{Path(scratch) / 'storm.db'}")
            database.upgrade()
            yield database
            database.dispose()
        return
    with scratch_postgres(os.environ["SHIPBOT_TEST_POSTGRES_URL"], prefix="storm") as database:
        yield database


def max_per_second(times: list[float]) -> int:
    """The most calls inside any one-second window."""
    ordered, best, start = sorted(times), 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def bench_settings(database_url: str, slack_url: str) -> Settings:
    return Settings(
        SLACK_BOT_TOKEN="xoxb-bench",
        SLACK_SIGNING_SECRET="bench-signing-secret",
        SLACK_API_URL=slack_url,
        SHIPBOT_DATABASE_URL=database_url,
        SHIPBOT_WORKER_THREADS=4,
    )


def run_worker(database_url: str, slack_url: str, stop: EventType) -> None:
    """The split layout's second process (``shipbot serve --no-scheduler`` beside an HTTP
    server started with ``--no-worker``): the job worker, which renders the messages."""
    database = Database(database_url)
    settings = bench_settings(database_url, slack_url)
    runtime = Runtime(settings, config=bench_config(), database=database, upgrade_sqlite=False)
    runtime.start_background(worker=True, scheduler=False)
    stop.wait()
    runtime.stop()
    database.dispose()


@contextmanager
def worker_process(split: bool, database_url: str, slack_url: str) -> Iterator[None]:
    if not split:
        yield
        return
    context = get_context("spawn")
    stop = context.Event()
    child = context.Process(target=run_worker, args=(database_url, slack_url, stop))
    child.start()
    try:
        yield
    finally:
        stop.set()
        child.join(timeout=30)


def run(
    kind: str, *, requests: int, per_request: int, threads: int, mixed: bool, split: bool = False
) -> dict[str, Any]:
    config = bench_config()
    with FakeSlackApi() as slack, database_of(kind) as database:
        seed_workspace(slack, config)
        settings = bench_settings(database.url, slack.url)
        runtime = Runtime(settings, config=config, database=database, upgrade_sqlite=False)
        runtime.start_background(worker=not split, scheduler=False)
        bodies = [request_for(n, per_request, mixed) for n in range(requests)]
        with (
            worker_process(split, database.url, slack.url),
            ServerThread(runtime.http) as server,
        ):
            # The senders run in a process of their own, as real ones would: in this one
            # their HTTP client code would take the server's GIL.
            with get_context("spawn").Pool(1) as senders:
                accepted, accept_seconds = senders.apply(send_all, (server.url, bodies, threads))
                began = time.perf_counter() - accept_seconds  # the first request, give or take

            total = requests * per_request
            groups = len(SERVICES) * NAMES
            expected = per_request * requests // groups

            def settled() -> bool:
                shown = [
                    m
                    for channel in ("C0ALERTS", "C0INCIDNT")
                    for m in slack.messages(channel)
                    if f"({expected} firing" in m["text"]
                ]
                return len(shown) == groups

            deadline = time.monotonic() + 300
            while not settled() and time.monotonic() < deadline:
                time.sleep(0.05)
            settle_seconds = time.perf_counter() - began
            while time.monotonic() < deadline:
                with database.read_session() as session:
                    counts = counts_by_state(session=session)
                if counts["pending"] == 0 and counts["running"] == 0:
                    break
                time.sleep(0.05)
        with database.engine.connect() as connection:
            rows = connection.execute(text("SELECT COUNT(*) FROM alerts")).scalar_one()
            counted = connection.execute(text("SELECT SUM(firing) FROM alert_groups")).scalar_one()
        per_channel: dict[str, list[float]] = defaultdict(list)
        for call in slack.calls:
            if call.method in ("chat.postMessage", "chat.update"):
                per_channel[str(call.body.get("channel"))].append(call.at)
        runtime.stop()
        return {
            "database": kind,
            "layout": "split" if split else "inline",
            "shape": "mixed" if mixed else "grouped",
            "alerts": total,
            "accepted": accepted,
            "accept_s": accept_seconds,
            "alerts_per_s": total / accept_seconds,
            "rows": rows,
            "counted": counted,
            "posts": len(slack.calls_to("chat.postMessage")),
            "updates": len(slack.calls_to("chat.update")),
            "max_msgs_per_channel_s": max(max_per_second(t) for t in per_channel.values()),
            "settled": settled(),
            "settle_s": settle_seconds,
        }


def report(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"{result['database']:>8} {result['layout']:>6} {result['shape']:>7}: "
        f"{result['alerts']} alerts in "
        f"{args.requests} requests "
        f"({args.threads} threads) accepted in {result['accept_s']:.2f} s "
        f"= {result['alerts_per_s']:.0f} alerts/s; rows {result['rows']}, counted "
        f"{result['counted']} (accepted {result['accepted']}); Slack: "
        f"{result['posts']} chat.postMessage, {result['updates']} chat.update, max "
        f"{result['max_msgs_per_channel_s']} messages/channel/s; final counts shown: "
        f"{result['settled']} after {result['settle_s']:.1f} s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--per-request", type=int, default=100)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--layout",
        choices=("inline", "split", "both"),
        default="both",
        help="inline: one process serves and runs the job worker; split: the worker in a "
        "second process (the layout docs/performance.md recommends on PostgreSQL)",
    )
    args = parser.parse_args()
    groups = len(SERVICES) * NAMES
    if args.requests % groups or args.per_request % NAMES:
        # Every group must get the same share, or "final counts shown" can never hold.
        parser.error(
            f"--requests must be a multiple of {groups} (alert groups) and --per-request "
            f"of {NAMES} (alert names)"
        )
    kinds = ["sqlite"] + (["postgres"] if os.environ.get("SHIPBOT_TEST_POSTGRES_URL") else [])
    layouts = [False, True] if args.layout == "both" else [args.layout == "split"]
    for kind in kinds:
        for split in layouts:
            for mixed in (False, True):
                result = run(
                    kind,
                    requests=args.requests,
                    per_request=args.per_request,
                    threads=args.threads,
                    mixed=mixed,
                    split=split,
                )
                report(result, args)
    if not os.environ.get("SHIPBOT_TEST_POSTGRES_URL"):
        print("postgres: skipped (set SHIPBOT_TEST_POSTGRES_URL to run it)")


if __name__ == "__main__":
    main()
