"""The sandbox page's HTTP API against the Slack emulator and a stand-in app on loopback.

The stand-in app verifies every request's Slack signature with slack_sdk's
``SignatureVerifier`` and answers as scripted, so these tests see exactly what the page
sends and what it makes of the answers. (tests/e2e/test_browser_sandbox.py drives the
real bot in a browser.)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.sandbox.seed import seed_workspace
from bot.sandbox.slack.api import FakeSlackApi
from bot.sandbox.web import SandboxPage, SlackFrontend
from bot.sandbox.web.frontend import escape_command_text
from bot.sandbox.web.mrkdwn import Directory
from bot.server_thread import ServerThread
from workflows.config import load_config

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "shipbot.yaml"
SECRET = "web-test-signing-secret"
Answer = Callable[[dict[str, Any]], tuple[int, Any]]


@dataclass
class StandInApp:
    """Records signed requests to /slack/events and answers with ``answer(payload)``."""

    received: list[dict[str, Any]] = field(default_factory=list)
    answer: Answer = lambda payload: (200, None)

    def app(self) -> Starlette:
        async def events(request: Request) -> Response:
            raw = await request.body()
            headers = {k.lower(): v for k, v in request.headers.items()}
            form = dict(parse_qsl(raw.decode()))
            payload = json.loads(form["payload"]) if "payload" in form else form
            valid = SignatureVerifier(SECRET).is_valid_request(raw, headers)
            self.received.append({"valid": valid, "payload": payload, "headers": headers})
            status, body = await run_in_threadpool(self.answer, payload)
            if body is None:
                return Response(status_code=status)
            return JSONResponse(body, status_code=status)

        return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


@dataclass
class Harness:
    slack: FakeSlackApi
    bot: StandInApp
    page: SandboxPage
    http: httpx.Client
    web_client: WebClient

    def state(self, user: str, channel: str | None = None, **params: str) -> dict[str, Any]:
        query = {"user": user, **({"channel": channel} if channel else {}), **params}
        response = self.http.get("/api/state", params=query)
        assert response.status_code == 200, response.text
        return response.json()

    def text_of(self, user: str, channel: str) -> str:
        return "".join(self.state(user, channel)["messages"])

    def do(self, route: str, **body: Any) -> httpx.Response:
        return self.http.post(route, json=body)


@pytest.fixture
def sandbox(slack: FakeSlackApi) -> Iterator[Harness]:
    config = load_config(EXAMPLE)
    seed_workspace(slack, config)
    bot = StandInApp()
    bot_server = ServerThread(bot.app()).start()
    frontend = SlackFrontend(
        slack, app_url=bot_server.url, signing_secret=SECRET, should_escape=frozenset({"/incident"})
    )
    page = SandboxPage(frontend, channel_order=list(config.channels.values()), poll_seconds=0.5)
    web = ServerThread(page.app()).start()
    http = httpx.Client(base_url=web.url, timeout=10)
    try:
        yield Harness(slack, bot, page, http, WebClient(token="xoxb-web", base_url=slack.url))
    finally:
        page.close()
        http.close()
        web.stop()
        frontend.close()
        bot_server.stop()


def test_slash_command_is_signed_and_its_answer_is_only_for_the_sender(sandbox: Harness) -> None:
    sandbox.bot.answer = lambda payload: (
        200,
        {"response_type": "ephemeral", "text": f"only *{payload['user_name']}* sees this"},
    )
    answer = sandbox.do(
        "/api/command", user="U0ALICE", channel="C0DEPLOYS", text="/deploy web 1.2.3 to production"
    )
    assert answer.json() == {"ok": True, "status": 200}
    (request,) = sandbox.bot.received
    assert request["valid"] is True
    assert request["headers"]["content-type"] == "application/x-www-form-urlencoded"
    payload = request["payload"]
    assert {k: payload[k] for k in ("command", "text", "user_id", "user_name", "channel_id")} == {
        "command": "/deploy",
        "text": "web 1.2.3 to production",
        "user_id": "U0ALICE",
        "user_name": "alice",
        "channel_id": "C0DEPLOYS",
    }
    assert payload["channel_name"] == "deploys" and payload["trigger_id"]
    assert payload["response_url"].startswith(sandbox.slack.origin + "/response/")

    alice = sandbox.text_of("U0ALICE", "C0DEPLOYS")
    assert "only <b>alice</b> sees this" in alice and "Only visible to you" in alice
    assert sandbox.state("U0BOB", "C0DEPLOYS")["messages"] == []

    # A later ephemeral through the response_url reaches alice alone as well.
    httpx.post(payload["response_url"], json={"text": "still working"}).raise_for_status()
    assert "still working" in sandbox.text_of("U0ALICE", "C0DEPLOYS")
    assert "still working" not in sandbox.text_of("U0BOB", "C0DEPLOYS")


def test_in_channel_answers_and_failures(sandbox: Harness) -> None:
    sandbox.bot.answer = lambda payload: (200, {"response_type": "in_channel", "text": "for all"})
    sandbox.do("/api/command", user="U0ALICE", channel="C0DEPLOYS", text="/shipbot version")
    assert "for all" in sandbox.text_of("U0BOB", "C0DEPLOYS")

    sandbox.bot.answer = lambda payload: (500, {"error": "boom"})
    failed = sandbox.do("/api/command", user="U0ALICE", channel="C0DEPLOYS", text="/deploy x")
    assert failed.status_code == 400
    assert failed.json()["error"] == "/deploy failed: the app answered HTTP 500"


def test_command_text_is_escaped_as_slack_escapes_it(sandbox: Harness) -> None:
    sandbox.do(
        "/api/command", user="U0ALICE", channel="C0INCIDNT", text="/incident assign comms @bob <b>"
    )
    sandbox.do("/api/command", user="U0ALICE", channel="C0DEPLOYS", text="/deploy lock @bob & co")
    texts = [r["payload"]["text"] for r in sandbox.bot.received]
    assert texts == ["assign comms <@U0BOB|bob> &lt;b&gt;", "lock @bob &amp; co"]
    people = Directory(users={"U0BOB": "bob"}, channels={"C0DEPLOYS": "deploys"})
    assert (
        escape_command_text("@bob. in #deploys, not #nope", should_escape=True, directory=people)
        == "<@U0BOB|bob>. in <#C0DEPLOYS|deploys>, not #nope"
    )


def test_plain_messages_are_shown_escaped(sandbox: Harness) -> None:
    sent = sandbox.do(
        "/api/command", user="U0BOB", channel="C0DEPLOYS", text="<script>alert(1)</script> @alice"
    )
    assert sent.json() == {"ok": True}
    assert sandbox.bot.received == []  # the app subscribes to no message events
    html = sandbox.text_of("U0ALICE", "C0DEPLOYS")
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<span class="author">bob</span>' in html and "@alice</span>" in html


def _post_with_buttons(harness: Harness, channel: str) -> str:
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Approve deploy #1?"}},
        {
            "type": "actions",
            "block_id": "decide-1",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "action_id": "deploy.approve",
                    "value": "1:1.2.3",
                }
            ],
        },
    ]
    posted = harness.web_client.chat_postMessage(channel=channel, text="approve?", blocks=blocks)
    return str(posted["ts"])


def test_a_click_sends_signed_block_actions(sandbox: Harness) -> None:
    ts = _post_with_buttons(sandbox, "C0APPROVE")
    html = sandbox.text_of("U0BOB", "C0APPROVE")
    assert 'data-path="blocks/1/elements/0" data-action-id="deploy.approve"' in html

    def replace(payload: dict[str, Any]) -> tuple[int, Any]:
        body = {"replace_original": True, "text": "Decided by bob"}
        httpx.post(payload["response_url"], json=body).raise_for_status()
        return 200, None

    sandbox.bot.answer = replace
    click = {"user": "U0BOB", "channel": "C0APPROVE", "ts": ts, "path": "blocks/1/elements/0"}
    assert sandbox.do("/api/click", **click, action_id="deploy.approve").status_code == 200
    (request,) = sandbox.bot.received
    assert request["valid"] is True
    payload = request["payload"]
    assert payload["type"] == "block_actions" and payload["user"]["id"] == "U0BOB"
    (action,) = payload["actions"]
    assert (action["action_id"], action["value"], action["block_id"]) == (
        "deploy.approve",
        "1:1.2.3",
        "decide-1",
    )
    assert action["text"]["text"] == "Approve"
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": "C0APPROVE",
        "is_ephemeral": False,
    }
    assert payload["channel"]["id"] == "C0APPROVE" and payload["message"]["ts"] == ts
    # replace_original through the response_url changed the clicked message in place.
    (message,) = sandbox.slack.messages("C0APPROVE")
    assert message["ts"] == ts and message["text"] == "Decided by bob"

    # The page showed a button that is no longer there: refused, nothing sent.
    stale = sandbox.do("/api/click", **click, action_id="deploy.approve")
    assert stale.status_code == 400 and "not there any more" in stale.json()["error"]
    assert len(sandbox.bot.received) == 1


def test_direct_messages_show_only_to_their_user(sandbox: Harness) -> None:
    sandbox.web_client.chat_postMessage(channel="U0BOB", text="please approve")
    bob = sandbox.state("U0BOB")
    (dm,) = [c for c in bob["channels"] if c["kind"] == "dm"]
    assert dm["label"] == "shipbot"
    assert "please approve" in sandbox.text_of("U0BOB", dm["id"])
    alice = sandbox.state("U0ALICE", dm["id"])
    assert [c for c in alice["channels"] if c["kind"] == "dm"] == []
    assert alice["channel"] == "C0DEPLOYS"  # not bob's DM: the first channel instead
    assert "please approve" not in "".join(alice["messages"])


def test_long_poll_answers_when_something_changes(sandbox: Harness) -> None:
    version = sandbox.state("U0ALICE", "C0DEPLOYS")["version"]
    # Nothing happens: the poll answers after its time with the same version.
    assert sandbox.state("U0ALICE", "C0DEPLOYS", since=str(version))["version"] == version

    answered: list[dict[str, Any]] = []
    poll = threading.Thread(
        target=lambda: answered.append(sandbox.state("U0ALICE", "C0DEPLOYS", since=str(version)))
    )
    sandbox.page.poll_seconds = 30
    poll.start()
    sandbox.web_client.chat_postMessage(channel="C0DEPLOYS", text="Deploy #7: running")
    poll.join(timeout=10)
    assert not poll.is_alive()
    assert answered[0]["version"] > version
    assert "Deploy #7: running" in "".join(answered[0]["messages"])


def test_files_are_listed_shown_and_served_inert(sandbox: Harness) -> None:
    content = "# Postmortem\n<script>alert(1)</script>\n"
    sandbox.web_client.files_upload_v2(
        channel="C0INCIDNT", filename="postmortem-incident-1.md", content=content, title="Draft"
    )
    sandbox.web_client.files_upload_v2(
        channel="C0INCIDNT", filename="page.svg", content="<svg onload=alert(1)></svg>"
    )
    html = sandbox.text_of("U0ALICE", "C0INCIDNT")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    (markdown, svg) = sandbox.slack.files()
    assert f'href="/files/{markdown.id}"' in html
    served = sandbox.http.get(f"/files/{markdown.id}")
    assert served.text == content
    assert served.headers["content-type"] == "text/plain; charset=utf-8"
    assert served.headers["x-content-type-options"] == "nosniff"
    svg_served = sandbox.http.get(f"/files/{svg.id}")
    assert svg_served.headers["content-type"] == "application/octet-stream"
    assert sandbox.http.get("/files/F404").status_code == 404


def test_only_this_machine_may_drive_the_page(sandbox: Harness) -> None:
    page = sandbox.http.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert sandbox.http.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert sandbox.http.get("/static/../app.py").status_code == 404
    assert sandbox.http.get("/api/workspace", headers={"Host": "evil.example"}).status_code == 403
    body = {"user": "U0ALICE", "channel": "C0DEPLOYS", "text": "hi"}
    form = sandbox.http.post("/api/command", data=body)
    assert form.status_code == 403
    cross = sandbox.http.post("/api/command", json=body, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    unknown = sandbox.do("/api/command", user="U0NOBODY", channel="C0DEPLOYS", text="hi")
    assert unknown.status_code == 400 and "unknown user" in unknown.json()["error"]
    assert sandbox.slack.messages("C0DEPLOYS") == []
    users = [u["name"] for u in sandbox.http.get("/api/workspace").json()["users"]]
    assert users == ["alice", "bob", "carol", "dave", "erin"]
