"""Hostile but correctly signed GitHub and Argo CD bodies, both databases (Hypothesis):
each is stored or refused with a 400, never a crash, and whatever is stored renders with
no broadcast, mention or link that the sender wrote."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from commands.deploys.external_views import ci_message, external_deploy_message, release_message
from tests.fuzz.strategies import NASTY
from workflows.alerts.model import BadPayload
from workflows.clock import FakeClock
from workflows.config import parse_config
from workflows.deploys.models import Deploy
from workflows.external.argocd import receive_argocd
from workflows.external.github import receive_github
from workflows.external.models import CiWorkflow, ExternalRelease
from workflows.store.db import Database

CONFIG = parse_config(
    """
channels: {deploys: C0DEPLOYS}
environments: {staging: {order: 1}, production: {order: 2}}
services:
  web:
    repository: acme/web
    argocd_applications: {web-staging: staging}
    deploy: {backend: command, argv: ["true"]}
hooks:
  github: {secret: s3cret, branches: [main]}
  argocd: {auth: hmac, secret: s3cret}
"""
)
words = st.one_of(st.sampled_from(NASTY), st.text(max_size=40))
values = st.one_of(words, st.integers(-(2**70), 2**70), st.none(), st.booleans(), st.just({}))


def _sign(body: bytes) -> str:
    return "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()


@st.composite
def github_events(draw: Any) -> tuple[str, dict[str, Any]]:
    event = draw(st.sampled_from(["workflow_run", "deployment_status", "release", "push"]))
    payload = {
        "action": draw(st.sampled_from(["completed", "published", "created", draw(words)])),
        "repository": {"full_name": draw(st.sampled_from(["acme/web", "ACME/Web", "x/y"]))},
        "workflow_run": {
            "name": draw(words),
            "head_branch": draw(st.sampled_from(["main", draw(words)])),
            "conclusion": draw(st.sampled_from(["failure", "success", draw(words)])),
            "run_number": draw(values),
            "html_url": draw(words),
            "head_sha": draw(words),
            "actor": {"login": draw(words)},
        },
        "deployment_status": {
            "state": draw(st.sampled_from(["success", "failure"])),
            "target_url": draw(words),
            "created_at": draw(words),
        },
        "deployment": {
            "id": draw(values),
            "ref": draw(words),
            "environment": draw(st.sampled_from(["staging", "production", draw(words)])),
            "created_at": draw(st.sampled_from(["2026-12-01T10:00:00Z", draw(words)])),
            "creator": {"login": draw(words)},
            "payload": draw(st.sampled_from([{}, None])),
        },
        "release": {
            "id": draw(values),
            "tag_name": draw(words),
            "name": draw(words),
            "html_url": draw(words),
            "author": {"login": draw(words)},
        },
    }
    return event, payload


def _rendered(database: Database) -> str:
    with database.read_session() as session:
        shown = [external_deploy_message(d) for d in session.exec(select(Deploy))]
        shown += [ci_message(row) for row in session.exec(select(CiWorkflow))]
        shown += [release_message(row) for row in session.exec(select(ExternalRelease))]
    return json.dumps(shown)


@pytest.mark.timeout(600)
def test_hostile_github_and_argocd_bodies(database: Database) -> None:
    clock = FakeClock()
    sent = {"n": 0}

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(github_events(), st.text(max_size=20), words, words)
    def one(event: tuple[str, dict[str, Any]], delivery: str, revision: str, app: str) -> None:
        sent["n"] += 1
        body = json.dumps(event[1]).encode()
        headers = {
            "x-hub-signature-256": _sign(body),
            "x-github-event": event[0],
            "x-github-delivery": f"d{sent['n']}{delivery}",
        }
        with contextlib.suppress(BadPayload):
            receive_github(
                database=database, clock=clock, config=CONFIG, body=body, headers=headers
            )
        argo = json.dumps(
            {
                "app": app if sent["n"] % 2 else "web-staging",
                "revision": revision,
                "phase": "Succeeded",
                "health": "Healthy",
                "started_at": "2026-12-01T09:00:00Z",
            }
        ).encode()
        with contextlib.suppress(BadPayload):
            receive_argocd(
                database=database,
                clock=clock,
                config=CONFIG,
                body=argo,
                headers={"x-shipbot-signature": _sign(argo)},
            )

    one()
    shown = _rendered(database)
    for forbidden in (
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<@U0DAVE>",
        "<#C0DEPLOYS>",
        "<https://evil.example|click>",
        "<!subteam",
    ):
        assert forbidden not in shown
    with database.read_session() as session:
        assert session.exec(select(Deploy)).first() is not None  # some did get in


def test_a_delivery_id_with_a_control_character_is_refused(database: Database) -> None:
    body = json.dumps({"repository": {"full_name": "acme/web"}}).encode()
    headers = {"x-hub-signature-256": _sign(body), "x-github-event": "push"}
    for delivery in ("d1\x00", "d1\x1b[2J"):
        with pytest.raises(BadPayload, match="control characters"):
            receive_github(
                database=database,
                clock=FakeClock(),
                config=CONFIG,
                body=body,
                headers={**headers, "x-github-delivery": delivery},
            )
    outcome = receive_github(
        database=database,
        clock=FakeClock(),
        config=CONFIG,
        body=body,
        headers={**headers, "x-github-delivery": "d1"},
    )
    assert not outcome.duplicate  # the refused ones claimed nothing
