"""Chaos, on loopback only: duplicated deliveries, SIGKILL mid-deploy, three replicas on
one PostgreSQL, Slack fault bursts and the fuzz corpus. One line of figures per scenario;
every scenario is bounded in time and says so when it ran out.

    .venv/bin/python bench/chaos.py [--postgres URL] [--scale 1.0]

SQLite by default; ``--postgres`` (or SHIPBOT_TEST_POSTGRES_URL) adds the replicas
scenario and runs the others on a scratch PostgreSQL schema too.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.sandbox.slack_api import FakeSlackApi  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from bot.hooks import AlertMetrics, build_hook_routes  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.sandbox.seed import seed_workspace  # noqa: E402
from bot.sandbox.signing import SlackRequestSigner, slash_command_body  # noqa: E402
from tests.e2e.conftest import SIGNING_SECRET, settings_for  # noqa: E402
from tests.fuzz.hook_bodies import hook_bodies  # noqa: E402
from tests.fuzz.strategies import slash_commands  # noqa: E402
from tests.workflows.alerts import samples  # noqa: E402
from workflows.incidents.models import Incident  # noqa: E402
from workflows.store.db import Database  # noqa: E402
from workflows.store.scratch import scratch_postgres  # noqa: E402

FORM = "application/x-www-form-urlencoded"
ERROR_ID = re.compile(r"error id", re.IGNORECASE)
BROADCAST = re.compile(r"<!(?:channel|here|everyone|subteam\^)")
BOUND_SECONDS = 120.0


@contextmanager
def databases(kind: str, url: str | None) -> Iterator[Database]:
    if kind == "postgres":
        assert url is not None
        with scratch_postgres(url, prefix="chaos") as database:
            yield database
        return
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(f"sqlite:///{tmp}/chaos.db")
        database.upgrade()
        yield database
        database.dispose()


@contextmanager
def runtime(database: Database, slack: FakeSlackApi, state: Path) -> Iterator[Runtime]:
    config = samples.all_sources_config()
    seed_workspace(slack, config)
    rt = Runtime(
        settings_for(database, slack.url, state), config=config, database=database,
        upgrade_sqlite=False,
    )  # fmt: skip
    try:
        yield rt
    finally:
        rt.stop()


def _incidents(database: Database) -> int:
    with database.read_session() as session:
        return len(session.exec(select(Incident)).all())


def _post(client: TestClient, body: bytes, retry: int = 0) -> Any:
    body, headers = SlackRequestSigner(SIGNING_SECRET).signed(body, FORM)
    if retry:
        headers["X-Slack-Retry-Num"] = str(retry)
    return client.post("/slack/events", content=body, headers=headers)


def duplicates(database: Database, slack: FakeSlackApi, state: Path, scale: float) -> str:
    distinct, copies = max(5, int(60 * scale)), 5
    with runtime(database, slack, state) as rt, TestClient(rt.http) as client:
        started = time.perf_counter()
        for n in range(distinct):
            body = slash_command_body(
                command="/incident", text=f"declare SEV4 web chaos {n}", user_id="U0ALICE",
                channel_id="C0DEPLOYS", trigger_id=f"chaos.{n}.trigger",
            )  # fmt: skip
            for retry in range(copies):
                _post(client, body, retry)
        seconds = time.perf_counter() - started
        stored = _incidents(database)
    return (
        f"duplicates: {distinct * copies} deliveries of {distinct} requests, "
        f"{stored} incidents declared, {stored - distinct} double effects, {seconds:.1f} s"
    )


def sigkill(database: Database, slack: FakeSlackApi, state: Path, scale: float) -> str:
    from tests.workflows.deploys.conftest import ask, config_from, example_data
    from tests.workflows.deploys.test_runner import _context, _run_until_finished, _runner
    from workflows.clock import SystemClock
    from workflows.deploys.directory import NoDirectory
    from workflows.deploys.requests import Ports

    os.environ["SHIPBOT_ROLLOUT_SECONDS"] = "0.05"
    ports = Ports(clock=SystemClock(), config=config_from(example_data()), directory=NoDirectory())
    runs, succeeded, twice, deadline = max(2, int(10 * scale)), 0, 0, time.monotonic()
    for run in range(runs):
        if time.monotonic() - deadline > BOUND_SECONDS:
            return f"sigkill: stopped after {run} of {runs} runs ({BOUND_SECONDS:.0f} s bound)"
        deploy = ask(database, ports, f"web 2.0.{run} staging")
        subprocess.run(
            [sys.executable, "-m", "tests.workflows.deploys.crash_child", database.url,
             str(state / "runs"), str(deploy.id)],
            cwd=ROOT, capture_output=True, timeout=60,
        )  # fmt: skip
        runner, backend = _runner(database, ports, state / "runs", finds_runs=True)
        finished = _run_until_finished(
            runner, _context(database, ports, deploy.id or 0), deploy.id or 0
        )
        output = (state / "runs" / str(deploy.id) / "output.log").read_text()
        succeeded += finished.state == "succeeded"
        twice += output.count("rolling out") > 1 or backend.starts > 0
    return (
        f"sigkill: {runs} deploys killed right after start, {succeeded} succeeded, "
        f"{twice} started twice"
    )


def replicas(database: Database, slack: FakeSlackApi, state: Path, scale: float) -> str:
    from concurrent.futures import ThreadPoolExecutor

    distinct = max(5, int(30 * scale))
    with runtime(database, slack, state / "a") as a, runtime(database, slack, state / "b") as b, \
            runtime(database, slack, state / "c") as c:  # fmt: skip
        clients = [TestClient(rt.http) for rt in (a, b, c)]
        started = time.perf_counter()

        def deliver(n: int) -> None:
            body = slash_command_body(
                command="/incident", text=f"declare SEV4 web replica {n}", user_id="U0ALICE",
                channel_id="C0DEPLOYS", trigger_id=f"replica.{n}.trigger",
            )  # fmt: skip
            for retry, client in enumerate(clients):
                _post(client, body, retry)

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(deliver, range(distinct)))
        seconds = time.perf_counter() - started
        for client in clients:
            client.close()
        stored = _incidents(database)
    return (
        f"replicas: 3 replicas got each of {distinct} requests, {stored} incidents declared, "
        f"{stored - distinct} double effects, {seconds:.1f} s"
    )


def slack_faults(database: Database, slack: FakeSlackApi, state: Path, scale: float) -> str:
    groups = max(3, int(10 * scale))
    slack.fail_next("chat.postMessage", status=429, retry_after=1, count=3)
    slack.fail_next("chat.postMessage", status=500, count=3)
    with runtime(database, slack, state) as rt:
        hooks = TestClient(Starlette(routes=build_hook_routes(
            rt.deps, cert_fetcher=samples.sns_cert_fetcher(),
            metrics=AlertMetrics(CollectorRegistry()),
        )))  # fmt: skip
        rt.start_background(worker=True, scheduler=False)
        started = time.perf_counter()
        for n in range(groups):
            alert = samples.am_alert(fingerprint=f"chaos{n}", alertname=f"Chaos{n}")
            body = samples.dumps(samples.alertmanager_payload(alert))
            bearer = {"Authorization": f"Bearer {samples.DEV_TOKEN}"}
            hooks.post("/hooks/alertmanager", content=body, headers=bearer)
        posted = 0
        while time.perf_counter() - started < BOUND_SECONDS:
            posted = len(slack.messages("C0ALERTS"))
            if posted >= groups:
                break
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        hooks.close()
    failures = sum(1 for call in slack.calls if call.method == "chat.postMessage") - posted
    return (
        f"slack faults: 3x429 + 3x500 bursts, {posted} of {groups} alert groups posted, "
        f"{groups - posted} lost, {failures} refused calls retried, {seconds:.1f} s, "
        f"{posted / seconds:.2f} messages/s"
    )


def fuzz(database: Database, slack: FakeSlackApi, state: Path, scale: float) -> str:
    commands_n, hooks_n = max(20, int(500 * scale)), max(20, int(500 * scale))
    counts = {"5xx": 0, "error id": 0, "broadcast": 0, "sent": 0}

    def check(response: Any) -> None:
        counts["sent"] += 1
        counts["5xx"] += response.status_code >= 500
        counts["error id"] += bool(ERROR_ID.search(response.text))
        counts["broadcast"] += bool(BROADCAST.search(response.text))

    quiet = settings(database=None, derandomize=True, deadline=None,
                     suppress_health_check=list(HealthCheck))  # fmt: skip
    with runtime(database, slack, state) as rt:
        hooks = TestClient(Starlette(routes=build_hook_routes(
            rt.deps, cert_fetcher=samples.sns_cert_fetcher(),
            metrics=AlertMetrics(CollectorRegistry()),
        )), raise_server_exceptions=False)  # fmt: skip
        client_lenient = TestClient(rt.http, raise_server_exceptions=False)
        started = time.perf_counter()

        @settings(quiet, max_examples=commands_n)
        @given(slash_commands())
        def command(request: tuple[str, str, str, str]) -> None:
            name, text, user, channel = request
            text = text.encode("utf-8", "replace").decode()
            check(_post(client_lenient, slash_command_body(
                command=name, text=text, user_id=user.encode("utf-8", "replace").decode(),
                channel_id=channel)))  # fmt: skip

        @settings(quiet, max_examples=hooks_n)
        @given(hook_bodies())
        def hook(body: tuple[str, bytes, dict[str, str]]) -> None:
            source, content, headers = body
            check(hooks.post(f"/hooks/{source}", content=content, headers=headers))

        command()
        hook()
        seconds = time.perf_counter() - started
        hooks.close()
        client_lenient.close()
    return (
        f"fuzz corpus: {counts['sent']} requests ({commands_n} commands, {hooks_n} webhook "
        f"bodies), {counts['5xx']} 5xx, {counts['error id']} error ids, "
        f"{counts['broadcast']} broadcasts, {seconds:.1f} s"
    )


SCENARIOS: dict[str, Callable[[Database, FakeSlackApi, Path, float], str]] = {
    "duplicates": duplicates,
    "sigkill": sigkill,
    "slack_faults": slack_faults,
    "fuzz": fuzz,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("SHIPBOT_TEST_POSTGRES_URL"))
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the scenarios provoke errors on purpose
    os.chdir(ROOT)  # the example's rollout argv is relative to the repository
    kinds = ["sqlite"] + (["postgres"] if args.postgres else [])
    with FakeSlackApi() as slack:
        for kind in kinds:
            scenarios = dict(SCENARIOS)
            if kind == "postgres":
                scenarios["replicas"] = replicas
            for name, scenario in scenarios.items():
                slack.reset()
                with (
                    databases(kind, args.postgres) as database,
                    tempfile.TemporaryDirectory() as tmp,
                ):
                    try:
                        line = scenario(database, slack, Path(tmp), args.scale)
                    except Exception as error:  # a bench reports, it does not stop half-way
                        line = f"{name}: FAILED {type(error).__name__}: {error}"
                    slack.take_surprises()
                print(f"[{kind}] {line}", flush=True)


if __name__ == "__main__":
    main()
