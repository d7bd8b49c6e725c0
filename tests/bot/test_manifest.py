"""app_manifest.yaml declares exactly what the code registers and calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.deps import Deps
from bot.metrics import Metrics
from bot.slack_client import METHOD_SCOPES, required_scopes
from bot.wiring import wire_domains
from workflows.clock import FakeClock
from workflows.store.db import Database

MANIFEST = Path(__file__).resolve().parents[2] / "app_manifest.yaml"


def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def test_manifest_declares_exactly_the_registered_slash_commands(tmp_path: Path) -> None:
    from slack_sdk import WebClient

    deps = Deps(
        database=Database(f"sqlite:///{tmp_path / 'manifest.db'}"),
        clock=FakeClock(),
        client=WebClient(token="xoxb-test"),
        metrics=Metrics(),
    )
    registered = wire_domains(deps=deps, state_dir=tmp_path).commands
    declared = [entry["command"] for entry in manifest()["features"]["slash_commands"]]
    assert sorted(declared) == sorted(registered) == ["/deploy", "/incident", "/shipbot"]
    assert len(declared) == len(set(declared))


def _wiring(tmp_path: Path) -> Any:
    from slack_sdk import WebClient

    deps = Deps(
        database=Database(f"sqlite:///{tmp_path / 'manifest.db'}"),
        clock=FakeClock(),
        client=WebClient(token="xoxb-test"),
        metrics=Metrics(),
    )
    return wire_domains(deps=deps, state_dir=tmp_path)


def test_manifest_declares_exactly_the_registered_shortcuts(tmp_path: Path) -> None:
    from commands.home.shortcuts import ADD_TO_TIMELINE, DECLARE_SHORTCUT

    declared = {e["callback_id"]: e["type"] for e in manifest()["features"]["shortcuts"]}
    assert set(declared) == set(_wiring(tmp_path).shortcuts)
    assert declared == {ADD_TO_TIMELINE: "message", DECLARE_SHORTCUT: "global"}
    assert all(len(e["name"]) <= 24 for e in manifest()["features"]["shortcuts"])


def test_manifest_subscribes_exactly_the_handled_events(tmp_path: Path) -> None:
    data = manifest()
    events = data["settings"]["event_subscriptions"]["bot_events"]
    assert sorted(events) == sorted(_wiring(tmp_path).events) == [
        "app_home_opened",
        "member_joined_channel",
    ]
    # A Home tab is published only if Slack shows one, and Slack only says it was opened
    # to an app that subscribes.
    assert data["features"]["app_home"]["home_tab_enabled"] is True


def test_every_request_url_is_the_slack_endpoint() -> None:
    data = manifest()
    urls = [entry["url"] for entry in data["features"]["slash_commands"]]
    urls.append(data["settings"]["interactivity"]["request_url"])
    urls.append(data["settings"]["event_subscriptions"]["request_url"])
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert all(url.endswith("/slack/events") for url in urls), urls


def test_manifest_requests_exactly_the_scopes_the_code_needs() -> None:
    declared = set(manifest()["oauth_config"]["scopes"]["bot"])
    assert declared == required_scopes(), (
        f"missing from the manifest: {sorted(required_scopes() - declared)}; "
        f"requested but unused: {sorted(declared - required_scopes())}"
    )


def test_scope_table_names_real_slack_methods() -> None:
    # Every entry must be a Web API method slack_sdk knows how to call.
    from slack_sdk import WebClient

    client_methods = {name for name in dir(WebClient) if not name.startswith("_")}
    missing = [method for method in METHOD_SCOPES if method.replace(".", "_") not in client_methods]
    assert missing == []
