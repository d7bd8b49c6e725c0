"""How fast `shipbot serve` acknowledges signed slash commands, beside a bare Bolt app.

Starts `shipbot serve` (SQLite, the example config, the loopback Slack emulator) and
bench/bare_bolt.py in their own processes, sends signed `/shipbot help` at concurrency
1, 10 and 50 over loopback, and prints p50/p95/p99 per server and our/bare ratio.

    .venv/bin/python bench/ack_latency.py [--requests 400]

The client runs in this process on the same 2 cores, so absolute figures include its
cost; the ratio compares the two servers under the same load.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bot.sandbox.signing import sign, slash_command_body
from bot.sandbox.slack.api import FakeSlackApi

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-signing-secret"
FORM = "application/x-www-form-urlencoded"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_load(url: str, *, concurrency: int, requests: int) -> tuple[list[float], int]:
    """Each thread sends its share of fresh, signed commands back to back."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    per_thread = max(1, requests // concurrency)
    start = threading.Barrier(concurrency)

    def worker() -> None:
        nonlocal failures
        with httpx.Client(base_url=url, timeout=10) as client:
            start.wait()
            for _ in range(per_thread):
                body = slash_command_body(
                    command="/shipbot", text="help", user_id="U0ALICE", channel_id="C0DEPLOYS"
                )
                headers = {**sign(body, signing_secret=SECRET), "content-type": FORM}
                began = time.perf_counter()
                response = client.post("/slack/events", content=body, headers=headers)
                elapsed = time.perf_counter() - began
                with lock:
                    if response.status_code == 200:
                        latencies.append(elapsed)
                    else:
                        failures += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, failures


def start_shipbot(tmp: Path, slack_url: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack_url,
        "SHIPBOT_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "SHIPBOT_CONFIG": str(ROOT / "examples" / "shipbot.yaml"),
        "SHIPBOT_PORT": str(port),
        "SHIPBOT_HOST": "127.0.0.1",
        "SHIPBOT_LOG_LEVEL": "WARNING",
    }
    shipbot = str(Path(sys.executable).with_name("shipbot"))
    process = subprocess.Popen([shipbot, "serve"], env=env, cwd=ROOT)
    return f"http://127.0.0.1:{port}", process


def start_bare(slack_url: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "bare_bolt.py"),
            "--port",
            str(port),
            "--signing-secret",
            SECRET,
            "--slack-url",
            slack_url,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return f"http://127.0.0.1:{port}", process


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=400, help="requests per level (default 400)"
    )
    parser.add_argument("--levels", default="1,10,50", help="concurrency levels (default 1,10,50)")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    with tempfile.TemporaryDirectory() as tmp, FakeSlackApi() as slack:
        servers: dict[str, tuple[str, subprocess.Popen[bytes]]] = {
            "shipbot": start_shipbot(Path(tmp), slack.url),
            "bare": start_bare(slack.url),
        }
        try:
            for url, process in servers.values():
                wait_up(url, process)
                run_load(url, concurrency=4, requests=80)  # warm up imports and connections
            print(
                f"{'server':<8} {'conc':>4} {'n':>5} {'fail':>4} {'p50 ms':>8} {'p95 ms':>8} "
                f"{'p99 ms':>8} {'mean ms':>8}"
            )
            summary: dict[tuple[str, int], dict[str, float]] = {}
            for level in levels:
                for name, (url, _) in servers.items():
                    latencies, failures = run_load(url, concurrency=level, requests=args.requests)
                    figures = {q: percentile(latencies, q) * 1000 for q in (50, 95, 99)}
                    figures["mean"] = statistics.fmean(latencies) * 1000
                    summary[(name, level)] = figures
                    print(
                        f"{name:<8} {level:>4} {len(latencies):>5} {failures:>4} "
                        f"{figures[50]:>8.2f} {figures[95]:>8.2f} {figures[99]:>8.2f} "
                        f"{figures['mean']:>8.2f}",
                        flush=True,
                    )
            print("\nratio shipbot/bare (lower is better, 1.00 = no overhead over bare Bolt)")

            def ratio(level: int, q: float | str) -> float:
                return summary[("shipbot", level)][q] / summary[("bare", level)][q]

            for level in levels:
                print(
                    f"  concurrency {level:>3}: p50 {ratio(level, 50):.2f}  "
                    f"p95 {ratio(level, 95):.2f}  p99 {ratio(level, 99):.2f}"
                )
        finally:
            for _, process in servers.values():
                process.terminate()
                process.wait(timeout=15)


if __name__ == "__main__":
    main()
