"""`SHIPBOT_LOG_FORMAT=json` on a real `shipbot serve` process: a deploy that fails while
its command prints secrets, logged at DEBUG (every library's chatter included). Every line
of stderr must be one JSON object, carry the request's or job's context, and hold no
secret from the redaction corpus."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import yaml

from bot.sandbox.seed import seed_workspace
from bot.sandbox.signing import sign, slash_command_body
from bot.sandbox.slack.api import FakeSlackApi
from tests.e2e.conftest import EXAMPLE_CONFIG, FORM
from tests.e2e.test_processes import SHIPBOT, free_port, stop, wait_until_up
from tests.workflows.test_redact import AWS_SECRET, GITHUB_PAT, PEM, SLACK_BOT
from workflows.config import load_config

SIGNING_SECRET = "json-logs-signing-secret-4f1c"
PASSWORD = "hunter2-correct-horse"
CORPUS = (SLACK_BOT, GITHUB_PAT, AWS_SECRET, PEM.splitlines()[1], PASSWORD, SIGNING_SECRET)

LEAKY_DEPLOY = f"""#!/bin/sh
echo "deploying with {SLACK_BOT} and {GITHUB_PAT}"
echo "AWS_SECRET_ACCESS_KEY={AWS_SECRET}"
echo "db password={PASSWORD}" >&2
cat <<'KEY'
{PEM}
KEY
exit 3
"""


def leaky_config(tmp_path: Path) -> Path:
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    script = tmp_path / "leaky-deploy.sh"
    script.write_text(LEAKY_DEPLOY)
    config["services"]["web"]["deploy"] = {
        "backend": "command",
        "argv": ["sh", str(script)],
        "cwd": str(tmp_path),
        "poll_interval": "1s",
    }
    path = tmp_path / "shipbot.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_every_line_of_a_deploys_log_is_redacted_json(
    tmp_path: Path, slack: FakeSlackApi
) -> None:
    config_path = leaky_config(tmp_path)
    seed_workspace(slack, load_config(config_path))
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": SLACK_BOT,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "SHIPBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'json.db'}",
        "SHIPBOT_CONFIG": str(config_path),
        "SHIPBOT_STATE_DIR": str(tmp_path / "state"),
        "SHIPBOT_PORT": str(port),
        "SHIPBOT_HOST": "127.0.0.1",
        "SHIPBOT_LOG_FORMAT": "json",
        "SHIPBOT_LOG_LEVEL": "DEBUG",
    }
    process = subprocess.Popen(
        [SHIPBOT, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        body = slash_command_body(
            command="/deploy",
            text=f"web 9.9.9 to staging token={GITHUB_PAT} password={PASSWORD}",
            user_id="U0ALICE",
            channel_id="C0DEPLOYS",
        )
        answer = httpx.post(
            f"{base}/slack/events",
            content=body,
            headers={**sign(body, signing_secret=SIGNING_SECRET), "content-type": FORM},
        )
        assert answer.status_code == 200
        slack.wait_for(
            lambda: any("fail" in m.get("text", "").lower() for m in slack.messages("C0DEPLOYS")),
            timeout=30,
        )
    finally:
        assert stop(process) == 0
    assert process.stdout is not None
    output = process.stdout.read()

    lines = output.splitlines()
    records = [json.loads(line) for line in lines]  # raises on any line that is not JSON
    assert all(isinstance(record, dict) for record in records)
    assert len(records) > 20  # DEBUG: the libraries' lines are in there too
    for secret in CORPUS:
        assert secret not in output
    assert "[redacted]" in output
    request_lines = [r for r in records if r.get("slack_command") == "/deploy"]
    assert request_lines, "no line carries the slash command's context"
    assert all(r["slack_user"] == "U0ALICE" for r in request_lines)
    assert all(r["slack_team"] and r["delivery_id"].startswith("slack:command:")
               for r in request_lines)
    job_lines = [r for r in records if r.get("job_kind")]
    assert any(isinstance(r["job_id"], int) and r.get("deploy_id") for r in job_lines)
    assert {"time", "level", "logger", "message"} <= set(records[0])
