"""GitHub and Argo CD webhooks end to end, both databases: the running app (example
config), signed HTTP, its worker and the Slack fake.

A ``workflow_run`` failure then success is one message turned "fixed"; the same delivery
twice and a wrong signature change nothing; a ``deployment_status`` success shows in
``/deploy history`` and the DORA counts; releases are announced; Argo CD syncs are
recorded; external deploys are never run by the runner."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func
from sqlmodel import SQLModel, col, select

from tests.e2e.conftest import EXAMPLE_CONFIG, RunningBot, jobs_drained, wait_until
from workflows.config import load_config
from workflows.deploys.models import Deploy
from workflows.external.models import CiWorkflow, ExternalRelease
from workflows.incidents.models import Incident
from workflows.reports.dora import compute
from workflows.reports.periods import window_before
from workflows.store.models import AuditEntry, Delivery, Job, SlackMessage

SECRET = "dev-github-secret"  # the example config's default
OLD_SECRET = "dev-github-secret-old"
ARGO_TOKEN = "dev-argocd-token"
TABLES: tuple[type[SQLModel], ...] = (
    Delivery,
    CiWorkflow,
    Deploy,
    ExternalRelease,
    Job,
    AuditEntry,
    SlackMessage,
)


def _github(
    bot: RunningBot,
    event: str,
    payload: dict[str, Any],
    *,
    delivery: str,
    secret: str = SECRET,
    signature: str | None = None,
) -> httpx.Response:
    body = json.dumps(payload).encode()
    signed = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signature if signature is not None else signed,
    }
    return bot.http.post("/hooks/github", content=body, headers=headers)


def _run(conclusion: str, number: int, branch: str = "main") -> dict[str, Any]:
    return {
        "action": "completed",
        "workflow_run": {
            "name": "CI",
            "head_branch": branch,
            "conclusion": conclusion,
            "run_number": number,
            "head_sha": f"{number:07d}abcdef",
            "html_url": f"https://github.com/acme/web/actions/runs/{number}",
            "actor": {"login": "octocat"},
        },
        "repository": {"full_name": "acme/web"},
    }


def _deployment_status(
    state: str,
    *,
    deployment_id: int = 77,
    env: str = "production",
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "action": "created",
        "deployment_status": {
            "state": state,
            "created_at": "2026-12-01T10:05:00Z",
            "target_url": "https://github.com/acme/web/actions/runs/9",
        },
        "deployment": {
            "id": deployment_id,
            "ref": "v2.4.0",
            "sha": "abc",
            "environment": env,
            "created_at": "2026-12-01T10:00:00Z",
            "creator": {"login": "octocat"},
            "payload": payload or {},
        },
        "repository": {"full_name": "acme/web"},
    }


def _counts(bot: RunningBot) -> dict[str, int]:
    with bot.runtime.database.read_session() as session:
        return {
            table.__name__: int(session.exec(select(func.count()).select_from(table)).one())
            for table in TABLES
        }


def _ci_messages(slack: Any, channel: str = "C0ALERTS") -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if " CI on main " in m["text"]]


def test_a_failure_then_a_success_is_one_message_turned_fixed(
    running_bot: RunningBot, slack: Any
) -> None:
    running_bot.runtime.start_background(worker=True, scheduler=False)
    first = _github(running_bot, "workflow_run", _run("failure", 41), delivery="d-41")
    assert first.status_code == 200, first.text
    assert first.json()["result"] == "failing"
    (posted,) = slack.wait_for(lambda: _ci_messages(slack), timeout=10)
    assert posted["text"] == "Failing: CI on main (acme/web)"

    # Signed with the previous secret (rotation): still accepted.
    fixed = _github(
        running_bot, "workflow_run", _run("success", 42), delivery="d-42", secret=OLD_SECRET
    )
    assert fixed.json()["result"] == "fixed"
    slack.wait_for(
        lambda: [m for m in _ci_messages(slack) if m["text"].startswith("Fixed")], timeout=10
    )
    (message,) = _ci_messages(slack)
    assert message["ts"] == posted["ts"]
    assert message["text"] == "Fixed: CI on main (acme/web)"
    assert "after 1 failed run" in json.dumps(message["blocks"])
    posts = [c for c in slack.calls_to("chat.postMessage") if c.body["channel"] == "C0ALERTS"]
    assert len(posts) == 1

    # Another branch, and a success with nothing failing: no message at all.
    assert (
        _github(
            running_bot, "workflow_run", _run("failure", 43, branch="feature-x"), delivery="d-43"
        ).json()["result"]
        == "ignored"
    )
    assert (
        _github(running_bot, "workflow_run", _run("success", 44), delivery="d-44").json()["result"]
        == "ignored"
    )


def test_the_same_delivery_twice_changes_nothing(running_bot: RunningBot, slack: Any) -> None:
    running_bot.runtime.start_background(worker=True, scheduler=False)
    assert (
        _github(running_bot, "workflow_run", _run("failure", 7), delivery="d-7").json()["duplicate"]
        is False
    )
    slack.wait_for(lambda: _ci_messages(slack), timeout=10)
    wait_until(lambda: jobs_drained(running_bot.runtime), what="the render")
    before, calls = _counts(running_bot), len(slack.calls_to("chat.postMessage"))

    again = _github(running_bot, "workflow_run", _run("failure", 7), delivery="d-7")
    assert again.status_code == 200
    assert again.json() == {
        "ok": True,
        "source": "github",
        "event": "workflow_run",
        "result": "duplicate delivery",
        "duplicate": True,
    }
    wait_until(lambda: jobs_drained(running_bot.runtime), what="nothing")
    assert _counts(running_bot) == before
    assert len(slack.calls_to("chat.postMessage")) == calls
    assert len(slack.calls_to("chat.update")) == 0
    with running_bot.runtime.database.read_session() as session:
        (row,) = session.exec(select(CiWorkflow)).all()
    assert (row.failures, row.episode) == (1, 1)


def test_a_wrong_signature_gets_401_and_changes_nothing(running_bot: RunningBot) -> None:
    before = _counts(running_bot)
    for signature in ("sha256=" + "0" * 64, "", "sha1=abc", "sha256=not-hex"):
        answer = _github(
            running_bot, "workflow_run", _run("failure", 5), delivery="d-5", signature=signature
        )
        assert answer.status_code == 401, signature
    wrong = _github(
        running_bot,
        "deployment_status",
        _deployment_status("success"),
        delivery="d-6",
        secret="not-the-secret",
    )
    assert wrong.status_code == 401
    assert _counts(running_bot) == before
    # A good signature over the same delivery id then works: the refusal claimed nothing.
    assert (
        _github(running_bot, "workflow_run", _run("failure", 5), delivery="d-5").json()["result"]
        == "failing"
    )


def test_a_deployment_status_is_a_recorded_deploy_in_history_and_dora(
    running_bot: RunningBot, slack: Any
) -> None:
    running_bot.runtime.start_background(worker=True, scheduler=False)
    started = _github(
        running_bot, "deployment_status", _deployment_status("in_progress"), delivery="d-dep-1"
    )
    assert started.json()["result"] == "recorded"
    done = _github(
        running_bot, "deployment_status", _deployment_status("success"), delivery="d-dep-2"
    )
    assert done.json()["result"] == "recorded"
    # shipbot's own GitHub deployment (its payload says so) is not recorded twice.
    own = _deployment_status("success", deployment_id=78, payload={"shipbot_deploy_id": 1})
    assert (
        _github(running_bot, "deployment_status", own, delivery="d-dep-3").json()["result"]
        == "ignored"
    )

    database, clock = running_bot.runtime.database, running_bot.runtime.clock
    with database.read_session() as session:
        (deploy,) = session.exec(select(Deploy)).all()
    assert (deploy.source, deploy.external_id, deploy.state) == ("github", "77", "succeeded")
    assert (deploy.in_flight_key, deploy.version, deploy.environment) == (
        None,
        "v2.4.0",
        "production",
    )

    history = running_bot.command("history web", command="/deploy").json()["text"]
    assert f"#{deploy.id} `v2.4.0` → production: *succeeded*" in history
    assert "github:octocat" in history and "<@github" not in history

    with database.read_session() as session:
        report = compute(
            session=session,
            config=load_config(EXAMPLE_CONFIG),
            window=window_before(clock.now() + timedelta(days=1), days=7, timezone="UTC"),
        )
    assert report["deploys"]["current"] == 1

    # Its message, in web's channel, shows the outcome in place (one message).
    slack.wait_for(
        lambda: [m for m in slack.messages("C0ALERTS") if m["text"].endswith("succeeded")],
        timeout=10,
    )
    (message,) = [m for m in slack.messages("C0ALERTS") if "GitHub deploy" in m["text"]]
    assert message["text"] == "GitHub deploy of web v2.4.0 to production: succeeded"
    assert [b["type"] for b in message["blocks"]] == ["section", "context"]  # no buttons

    # The runner never runs it, whatever asks it to.
    from workflows.deploys.requests import RUN_JOB
    from workflows.jobs import enqueue

    with database.transaction() as session:
        enqueue(
            session=session,
            clock=clock,
            kind=RUN_JOB,
            payload={"deploy_id": deploy.id},
            idempotency_key="test:run-external",
        )
    wait_until(lambda: jobs_drained(running_bot.runtime), what="the run job")
    with database.read_session() as session:
        again = session.get(Deploy, deploy.id)
    assert again is not None and again.state == "succeeded" and again.backend_state == {}


def test_ci_failure_and_external_deploy_reach_the_open_incident_channel(
    running_bot: RunningBot, slack: Any
) -> None:
    slack.add_channel("inc-web", channel_id="C0INCWEB", members=["U0BOB"])
    database, clock = running_bot.runtime.database, running_bot.runtime.clock
    with database.transaction() as session:
        session.add(
            Incident(
                title="web 5xx",
                severity="SEV2",
                service="web",
                declared_by="U0BOB",
                channel_id="C0INCWEB",
                declared_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    running_bot.runtime.start_background(worker=True, scheduler=False)
    _github(running_bot, "workflow_run", _run("failure", 3), delivery="d-i-1")
    _github(
        running_bot,
        "deployment_status",
        _deployment_status("success", env="staging"),
        delivery="d-i-2",
    )
    slack.wait_for(lambda: len(slack.messages("C0INCWEB")) == 2, timeout=10)
    texts = sorted(m["text"] for m in slack.messages("C0INCWEB"))
    assert texts == [
        "Failing: CI on main (acme/web)",
        "GitHub deploy of web v2.4.0 to staging: succeeded",
    ]
    assert len(_ci_messages(slack)) == 1  # and the service's channel has its own


def test_a_published_release_is_announced_once(running_bot: RunningBot, slack: Any) -> None:
    running_bot.runtime.start_background(worker=True, scheduler=False)
    payload = {
        "action": "published",
        "release": {
            "id": 5,
            "tag_name": "v2.5.0",
            "name": "Spring <!channel>",
            "html_url": "https://github.com/acme/web/releases/tag/v2.5.0",
            "author": {"login": "octocat"},
            "prerelease": False,
        },
        "repository": {"full_name": "acme/web"},
    }
    assert _github(running_bot, "release", payload, delivery="r-1").json()["result"] == "announced"
    assert _github(running_bot, "release", payload, delivery="r-2").json()["result"] == (
        "already announced"
    )
    (message,) = slack.wait_for(lambda: slack.messages("C0ALERTS"), timeout=10)
    assert message["text"].startswith("Release v2.5.0 Spring &lt;!channel&gt; of web")
    assert "<!channel>" not in json.dumps(message["blocks"])


def _argo(bot: RunningBot, payload: dict[str, Any], token: str = ARGO_TOKEN) -> httpx.Response:
    return bot.http.post(
        "/hooks/argocd",
        content=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def test_argocd_syncs_are_recorded_once_and_bad_tokens_refused(running_bot: RunningBot) -> None:
    sync = {
        "app": "web-staging",
        "revision": "4f00dcafe",
        "phase": "Running",
        "health": "Progressing",
        "started_at": "2026-12-01T09:00:00Z",
        "initiated_by": "automated",
    }
    before = _counts(running_bot)
    assert _argo(running_bot, sync, token="wrong").status_code == 401
    assert _counts(running_bot) == before
    assert _argo(running_bot, sync).json()["result"] == "recorded"
    assert _argo(running_bot, sync).json()["duplicate"] is True
    healthy = {
        **sync,
        "phase": "Succeeded",
        "health": "Healthy",
        "finished_at": "2026-12-01T09:03:00Z",
    }
    assert _argo(running_bot, healthy).json()["result"] == "recorded"
    unmapped = {**healthy, "app": "someone-else"}
    assert _argo(running_bot, unmapped).json()["result"] == "ignored"
    with running_bot.runtime.database.read_session() as session:
        (deploy,) = session.exec(select(Deploy).where(col(Deploy.source) == "argocd")).all()
    assert deploy.external_id == "web-staging@2026-12-01T09:00:00+00:00"
    assert (deploy.service, deploy.environment, deploy.state) == ("web", "staging", "succeeded")
    assert deploy.requested_by == "argocd:automated"
