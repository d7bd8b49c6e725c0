"""`shipbot dev` itself: one URL printed, the page served, the real bot behind it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.dev import Sandbox

REPO = Path(__file__).resolve().parents[4]
EXAMPLE = REPO / "examples" / "shipbot.yaml"


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not lines:
        process.kill()
        raise TimeoutError(f"`shipbot dev` printed nothing within {timeout}s")
    return lines[0]


def test_shipbot_dev_prints_one_url_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "dev", "--port", "0", "--web-port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _first_line(process, timeout=60)
        urls = re.findall(r"https?://\S+", line)
        assert len(urls) == 1, line
        page = httpx.get(urls[0], timeout=10)
        assert page.status_code == 200 and "<title>shipbot sandbox</title>" in page.text
        workspace = httpx.get(urls[0] + "api/workspace", timeout=10).json()
        assert [u["name"] for u in workspace["users"]] == ["alice", "bob", "carol", "dave", "erin"]
        assert workspace["alerts"] is True
        assert "Bearer dev-alerts-token" in workspace["alert_curl"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv("SHIPBOT_ROLLOUT_SECONDS", "0.05")
    monkeypatch.chdir(REPO)  # the example config runs examples/rollout.sh
    running = Sandbox(config_path=EXAMPLE)
    try:
        yield running
    finally:
        running.close()


def _wait_for_text(http: httpx.Client, user: str, channel: str, text: str) -> str:
    """Follow the page's long poll until ``text`` shows in ``channel`` (bounded)."""
    deadline = time.monotonic() + 30
    since: int | None = None
    while time.monotonic() < deadline:
        params = {"user": user, "channel": channel}
        if since is not None:
            params["since"] = str(since)
        state = http.get("/api/state", params=params).json()
        shown = "".join(state["messages"])
        if text in shown:
            return shown
        since = state["version"]
    raise TimeoutError(f"{text!r} did not show in {channel} for {user}")


def test_the_page_drives_the_real_bot(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.url, timeout=30) as http:
        sent = http.post(
            "/api/command",
            json={
                "user": "U0ALICE",
                "channel": "C0DEPLOYS",
                "text": "/deploy web 1.2.3 to staging",
            },
        )
        assert sent.json() == {"ok": True, "status": 200}
        alice = _wait_for_text(http, "U0ALICE", "C0DEPLOYS", "succeeded")
        assert "Only visible to you" in alice and "is starting" in alice
        bob = _wait_for_text(http, "U0BOB", "C0DEPLOYS", "succeeded")
        assert "Only visible to you" not in bob  # alice's answer is hers alone
        assert "Deploy #1: <b>web</b> <code>1.2.3</code> to <b>staging</b>" in bob
