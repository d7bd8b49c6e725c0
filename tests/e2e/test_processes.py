"""`shipbot serve` and `shipbot dev` as the real console script, in real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.sandbox.signing import sign, slash_command_body
from tests.e2e.conftest import EXAMPLE_CONFIG, FORM, wait_until

SHIPBOT = str(Path(sys.executable).with_name("shipbot"))
SECRET = "process-signing-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[str], *, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"process exited early: {process.stdout.read() if process.stdout else ''}"
            )
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


@pytest.fixture
def served(tmp_path: Path, slack) -> Iterator[str]:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-process",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        "SHIPBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "SHIPBOT_CONFIG": str(EXAMPLE_CONFIG),
        "SHIPBOT_PORT": str(port),
        "SHIPBOT_HOST": "127.0.0.1",
    }
    process = subprocess.Popen(
        [SHIPBOT, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
        yield url
    finally:
        assert stop(process) == 0


def test_serve_answers_health_readiness_signatures_and_help(served: str) -> None:
    assert httpx.get(f"{served}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{served}/readyz").json()["status"] == "ready"

    body = slash_command_body(
        command="/shipbot", text="help", user_id="U0ALICE", channel_id="C0DEPLOYS"
    )
    forged = httpx.post(
        f"{served}/slack/events",
        content=body,
        headers={**sign(body, signing_secret="wrong"), "content-type": FORM},
    )
    assert forged.status_code == 401
    stale = httpx.post(
        f"{served}/slack/events",
        content=body,
        headers={
            **sign(body, signing_secret=SECRET, timestamp=int(time.time()) - 301),
            "content-type": FORM,
        },
    )
    assert stale.status_code == 401
    # Slack gives up on an answer after 3 s; so does this client.
    help_answer = httpx.post(
        f"{served}/slack/events",
        content=body,
        timeout=3,
        headers={**sign(body, signing_secret=SECRET), "content-type": FORM},
    )
    assert help_answer.status_code == 200
    assert "/deploy" in help_answer.json()["text"]


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
        return True
    except httpx.TransportError:
        return False


def test_dev_starts_the_sandbox_without_a_workspace(tmp_path: Path) -> None:
    port, web_port = free_port(), free_port()
    repo = EXAMPLE_CONFIG.parents[1]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "SHIPBOT_"))
    }
    process = subprocess.Popen(
        [
            SHIPBOT,
            "dev",
            "--port",
            str(port),
            "--web-port",
            str(web_port),
            "--database",
            f"sqlite:///{tmp_path / 'dev.db'}",
        ],
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, process)
    assert httpx.get(f"{url}/readyz").json()["status"] == "ready"
    page = f"http://127.0.0.1:{web_port}/"
    # The page's server starts after the bot's, so the bot can answer before it listens.
    wait_until(lambda: _answers(page), timeout=30, what=page)
    assert httpx.get(page).status_code == 200
    assert stop(process) == 0
    assert process.stdout is not None
    output = process.stdout.read()
    assert f"shipbot sandbox: open {page} in your browser" in output


def test_dev_prompt_answers_a_command_as_the_chosen_user(tmp_path: Path) -> None:
    from bot.dev import Sandbox

    sandbox = Sandbox(config_path=EXAMPLE_CONFIG, database=f"sqlite:///{tmp_path / 'p.db'}")
    try:
        assert sandbox.handle(":as bob") == "you are bob now"
        answer = sandbox.handle("/shipbot help")
        assert answer is not None and "(only you see this)" in answer and "/deploy" in answer
        assert "unknown user" in (sandbox.handle(":as mallory") or "")
        assert sandbox.handle(":quit") is None
    finally:
        sandbox.close()
