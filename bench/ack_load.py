"""Load generation and figures for bench/ack_latency.py: signed Slack requests sent from
threads over loopback, their latencies, and the summary line printed per run."""

from __future__ import annotations

import gc
import os
import re
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bot.sandbox.signing import block_actions_body, sign, slash_command_body

SECRET = "bench-signing-secret"
FORM = "application/x-www-form-urlencoded"
REQUESTER = "U0ALICE"
APPROVER = "U0BOB"
DEADLINE = 3.0  # Slack shows "operation_timeout" after this
PACKAGES = ("bot", "commands", "workflows")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def compile_bytecode() -> float:
    """Byte-compile shipbot and its dependencies, as deploy/image/install.sh does for the
    image and pip does for a wheel, and return the seconds it took (near 0 once done).
    Without it `healthy after` would include compiling shipbot's own modules: an editable
    install under PYTHONDONTWRITEBYTECODE never writes their bytecode, so every start
    compiled them again (0.2 to 0.4 s here)."""
    root = Path(__file__).resolve().parents[1]
    paths = [sysconfig.get_paths()["purelib"], *(str(root / p) for p in PACKAGES)]
    began = time.perf_counter()
    argv = [sys.executable, "-m", "compileall", "-q", "-j", "0", *paths]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def wait_up(url: str, process: subprocess.Popen[bytes], *, timeout: float = 120) -> float:
    """Seconds from now until ``url``/healthz answers 200."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return time.perf_counter() - began
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise SystemExit(f"{url} did not come up")


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` and its children (uvicorn may fork none; the worker
    process is separate and reported on its own)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes have used so far (from /proc; not the database
    server's own CPU on PostgreSQL)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def job_attempts(url: str) -> Counter[tuple[str, str]]:
    """The worker's ``shipbot_jobs_finished`` counter: attempts by kind and the state each
    left the job in ("pending" is a job postponed, such as a render waiting for its slot)."""
    attempts: Counter[tuple[str, str]] = Counter()
    pattern = r'shipbot_jobs_finished_total\{kind="([^"]+)",state="([^"]+)"\} (\S+)'
    for row in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        found = re.match(pattern, row)
        if found:
            attempts[(found[1], found[2])] = int(float(found[3]))
    return attempts


# --- request bodies -----------------------------------------------------------------------

Body = Callable[[int], bytes]
ResponseUrls = Callable[[int], str | None]
"""The response_url of request ``i`` (None: one that points nowhere)."""


def nowhere(_: int) -> str | None:
    return None


def deploy_body(service_offset: int, environment: str, urls: ResponseUrls = nowhere) -> Body:
    def body(i: int) -> bytes:
        n = service_offset + i
        return slash_command_body(
            command="/deploy",
            text=f"svc{n} 1.0.{n} to {environment} bench",
            user_id=REQUESTER,
            channel_id="C0DEPLOYS",
            response_url=urls(i),
        )

    return body


def approve_body(deploy_ids: list[tuple[int, str]], urls: ResponseUrls = nowhere) -> Body:
    def body(i: int) -> bytes:
        deploy_id, version = deploy_ids[i]
        return block_actions_body(
            user_id=APPROVER,
            action_id="deploy.approve",
            value=f"{deploy_id}:{version}",
            channel_id="C0APPROVE",
            response_url=urls(i),
        )

    return body


def incident_body(offset: int, urls: ResponseUrls = nowhere) -> Body:
    def body(i: int) -> bytes:
        return slash_command_body(
            command="/incident",
            text=f"declare SEV4 bench incident {offset + i}",
            user_id=REQUESTER,
            channel_id="C0INCIDNT",
            response_url=urls(i),
        )

    return body


# --- load -------------------------------------------------------------------------------


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    acked: list[int] = field(default_factory=list)  # indexes answered 200 without an error
    texts: dict[int, str] = field(default_factory=dict)
    sent_at: dict[int, float] = field(default_factory=dict)  # wall clock, for answer times

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000

    @property
    def worst(self) -> float:
        return max(self.latencies, default=float("nan")) * 1000

    @property
    def over_deadline(self) -> int:
        return sum(1 for latency in self.latencies if latency > DEADLINE)


ERROR_MARKS = (":warning:", "Something went wrong", "Can't ", "Another deploy")


def run_load(
    url: str,
    body: Body,
    *,
    concurrency: int,
    count: int,
    on_start: Callable[[], None] | None = None,
) -> Result:
    """``count`` requests, ``concurrency`` threads each sending the next one back to back.
    A request fails on a non-200 answer, a transport error, or an error text in the ack.
    ``on_start`` runs once every client is ready, just before the first request."""
    result = Result()
    lock = threading.Lock()
    indexes = iter(range(count))
    start = threading.Barrier(concurrency, action=on_start)

    def next_index() -> int | None:
        with lock:
            return next(indexes, None)

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            start.wait()
            while (i := next_index()) is not None:
                payload = body(i)
                headers = {**sign(payload, signing_secret=SECRET), "content-type": FORM}
                sent_at = time.time()
                began = time.perf_counter()
                try:
                    response = client.post("/slack/events", content=payload, headers=headers)
                except httpx.TransportError:
                    with lock:
                        result.failures += 1
                    continue
                elapsed = time.perf_counter() - began
                text = response.text
                ok = response.status_code == 200 and not any(m in text for m in ERROR_MARKS)
                with lock:
                    result.latencies.append(elapsed)
                    if ok:
                        result.acked.append(i)
                        result.texts[i] = text
                        result.sent_at[i] = sent_at
                    else:
                        result.failures += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    # The client threads share this process with the Slack emulator, which keeps every
    # message: a collection of that heap would pause every client mid-run, whichever
    # server they were timing (bare Bolt's p99 varied 91 to 378 ms between kinds of one
    # run with shipbot stopped). The collector waits until the run is over.
    gc.disable()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.enable()
    return result


@dataclass
class Run:
    """One measured run: its latencies, and the CPU each named process used from the
    moment every client was ready to send (their setup is not the server's cost)."""

    result: Result
    cpu_ms: dict[str, float]  # per request
    began: datetime
    ended: datetime


def timed_run(url: str, body: Body, *, level: int, n: int, processes: dict[str, int]) -> Run:
    started: dict[str, Any] = {}

    def on_start() -> None:
        started["cpu"] = {name: cpu_seconds([pid]) for name, pid in processes.items()}
        started["at"] = datetime.now(UTC)

    result = run_load(url, body, concurrency=level, count=n, on_start=on_start)
    ended = datetime.now(UTC)
    cpu_ms = {
        name: (cpu_seconds([processes[name]]) - cpu) / n * 1000
        for name, cpu in started["cpu"].items()
    }
    return Run(result, cpu_ms, started["at"], ended)


HEADER = (
    f"{'db':<10} {'kind':<9} {'conc':>4} {'server':<7} {'n':>4} {'fail':>4} {'>3s':>3} "
    f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'p99/bare':>8}"
)


def line(db: str, kind: str, level: int, server: str, result: Result, bare: Result | None) -> str:
    ratio = f"{result.percentile(99) / bare.percentile(99):8.2f}" if bare else f"{'':>8}"
    return (
        f"{db:<10} {kind:<9} {level:>4} {server:<7} {len(result.latencies):>4} "
        f"{result.failures:>4} {result.over_deadline:>3} {result.percentile(50):>8.1f} "
        f"{result.percentile(95):>8.1f} {result.percentile(99):>8.1f} {result.worst:>8.1f} "
        f"{ratio}"
    )


def server_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "SLACK_SIGNING_SECRET": SECRET, **extra}
