"""The webhook backend against a loopback receiver that records and verifies requests."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx
import pytest

from tests.workflows.backends.helpers import make_target, poll_until_done, stored
from tests.workflows.backends.http_fake import FakeHttpServer, Recorded, Reply
from workflows.backends import (
    BackendError,
    BackendPorts,
    Status,
    TransientBackendError,
    build_backend,
)
from workflows.backends.settings import WebhookBackend
from workflows.clock import FakeClock

SECRET = "whsec-" + "k3y" * 6


def _backend(server: FakeHttpServer, clock: FakeClock, **config: Any) -> Any:
    model = WebhookBackend(backend="webhook", url=f"{server.url}/deploy", secret=SECRET, **config)
    ports = BackendPorts(http=lambda: httpx.Client(timeout=2.0), clock=clock)
    return build_backend(model, ports=ports)


def _verify(request: Recorded) -> None:
    """What a receiver does: recompute the HMAC over v1:<timestamp>:<raw body>."""
    timestamp = request.headers["x-shipbot-timestamp"]
    expected = hmac.new(
        SECRET.encode(), f"v1:{timestamp}:".encode() + request.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(request.headers["x-shipbot-signature"], f"sha256={expected}")


def test_signed_post_then_status_url_until_succeeded(
    http_server: FakeHttpServer, clock: FakeClock
) -> None:
    statuses = iter(
        [
            {"status": "running", "detail": "2/3 hosts"},
            {"status": "succeeded", "detail": "all hosts", "logs_url": "https://ci.example/run/9"},
        ]
    )
    http_server.add("POST", "/deploy", Reply(202, {"id": "run 9", "status_url": "/status/{id}"}))
    http_server.add("GET", "/status/run%209", lambda request, match: Reply(200, next(statuses)))
    backend = _backend(http_server, clock)
    target = make_target(deploy_id=7)

    started = backend.start(target)
    first = backend.poll(target, stored(started.state))
    final = poll_until_done(backend, target, stored(started.state))

    (post,) = http_server.calls("POST", "/deploy")
    _verify(post)
    assert post.headers["x-shipbot-timestamp"] == str(int(clock.now().timestamp()))
    assert post.headers["content-type"] == "application/json"
    assert post.headers["idempotency-key"] == "shipbot-deploy-7"
    assert post.json() == {
        "deploy_id": 7,
        "service": "web",
        "environment": "production",
        "version": "1.2.3",
        "requested_by": "U0ALICE",
        "reason": "ship it",
    }
    assert started.state["status_url"] == f"{http_server.url}/status/run%209"
    assert (first.status, first.detail) == (Status.running, "2/3 hosts")
    assert (final.status, final.detail) == (Status.succeeded, "all hosts")
    assert final.logs_url == "https://ci.example/run/9"
    for get in http_server.calls("GET"):
        _verify(get)  # the status endpoint can authenticate us too
        assert get.body == b""


def test_config_status_url_with_deploy_id_placeholder(
    http_server: FakeHttpServer, clock: FakeClock
) -> None:
    http_server.add("POST", "/deploy", Reply(200, {}))
    http_server.add("GET", "/deploys/12", Reply(200, {"status": "failed", "detail": "hook broke"}))
    backend = _backend(http_server, clock, status_url=f"{http_server.url}/deploys/{{deploy_id}}")
    target = make_target(deploy_id=12)

    progress = backend.poll(target, stored(backend.start(target).state))

    assert (progress.status, progress.detail) == (Status.failed, "hook broke")


def test_without_status_url_acceptance_is_success(
    http_server: FakeHttpServer, clock: FakeClock
) -> None:
    http_server.add("POST", "/deploy", Reply(204))
    backend = _backend(http_server, clock)
    target = make_target()

    progress = backend.poll(target, stored(backend.start(target).state))

    assert progress.status is Status.succeeded
    assert "no status URL" in progress.detail
    assert backend.cancel(target, {}) is False


def test_4xx_is_a_refusal_with_a_redacted_excerpt(
    http_server: FakeHttpServer, clock: FakeClock
) -> None:
    http_server.add("POST", "/deploy", Reply(403, f"bad signature for secret {SECRET}"))
    backend = _backend(http_server, clock)

    with pytest.raises(BackendError) as caught:
        backend.start(make_target())

    message = str(caught.value)
    assert "HTTP 403" in message and "bad signature" in message
    assert SECRET not in message


def test_5xx_and_timeouts_are_retryable(http_server: FakeHttpServer, clock: FakeClock) -> None:
    http_server.add("POST", "/deploy", Reply(503, "upstream down"))
    backend = _backend(http_server, clock)
    with pytest.raises(TransientBackendError, match="HTTP 503"):
        backend.start(make_target())

    http_server.add("POST", "/deploy", Reply(200, {}, delay=1.0))
    model = WebhookBackend(backend="webhook", url=f"{http_server.url}/deploy", secret=SECRET)
    impatient = build_backend(
        model, ports=BackendPorts(http=lambda: httpx.Client(timeout=0.2), clock=clock)
    )
    with pytest.raises(httpx.TimeoutException):
        impatient.start(make_target())


def test_unknown_status_is_shown(http_server: FakeHttpServer, clock: FakeClock) -> None:
    http_server.add("POST", "/deploy", Reply(200, {"status_url": "/s"}))
    http_server.add("GET", "/s", Reply(200, {"status": "exploded"}))
    backend = _backend(http_server, clock)
    target = make_target()
    state = stored(backend.start(target).state)

    with pytest.raises(BackendError, match="unknown status 'exploded'"):
        backend.poll(target, state)
