"""GitHub Deployments against the loopback fake: one deployment per deploy, statuses once,
however often a job runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.fakes.github_api import FakeGithub
from workflows.changes.github_deployments import GithubDeployments
from workflows.config.sources import GithubSource
from workflows.deploys.models import Deploy
from workflows.jobs import PermanentJobError, RetryLater

TOKEN = "ghp_" + "d4" * 18


@pytest.fixture
def github() -> Iterator[FakeGithub]:
    fake = FakeGithub(token=TOKEN).start()
    yield fake
    fake.stop()


def _deployments(github: FakeGithub, token: str = TOKEN) -> GithubDeployments:
    source = GithubSource(github="acme/web", api_url=github.url, token=token, deployments=True)  # type: ignore[arg-type]
    return GithubDeployments(source, lambda: httpx.Client(timeout=5.0))


def _deploy(deploy_id: int = 7, state: str = "running") -> Deploy:
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    return Deploy(
        id=deploy_id,
        service="web",
        environment="production",
        version="1.2.3",
        requested_by="U0ALICE",
        requested_at=now,
        updated_at=now,
        state=state,
    )


def test_statuses_go_to_one_deployment_and_repeats_post_nothing(github: FakeGithub) -> None:
    client = _deployments(github)
    for status in ("queued", "queued", "in_progress", "success", "success"):
        client.post_status(_deploy(), status, log_url="https://logs.example/7")
    [deployment] = github.deployments
    assert deployment["ref"] == "v1.2.3" and deployment["environment"] == "production"
    assert deployment["payload"] == {"shipbot_deploy_id": 7}
    assert [s["state"] for s in github.statuses[1]] == ["queued", "in_progress", "success"]
    assert github.statuses[1][0]["log_url"] == "https://logs.example/7"


def test_another_deploy_of_the_same_version_gets_its_own_deployment(github: FakeGithub) -> None:
    client = _deployments(github)
    client.post_status(_deploy(7), "success", log_url=None)
    client.post_status(_deploy(8), "queued", log_url=None)
    assert [d["payload"]["shipbot_deploy_id"] for d in github.deployments] == [7, 8]


def test_rate_limits_retry_and_bad_credentials_stop(github: FakeGithub) -> None:
    github.rate_limited = True
    with pytest.raises(RetryLater):
        _deployments(github).post_status(_deploy(), "queued", log_url=None)
    github.rate_limited = False
    with pytest.raises(PermanentJobError, match="HTTP 401"):
        _deployments(github, token="ghp_" + "x1" * 18).post_status(
            _deploy(), "queued", log_url=None
        )
    assert github.deployments == []
