"""The loopback Slack Web API, driven by the real ``slack_sdk.WebClient``."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.sandbox import FakeSlackApi

C = "C0DEPLOYS"


@pytest.fixture
def client(slack: FakeSlackApi) -> WebClient:
    # No retry handlers: each test sees exactly what the fake answered.
    return WebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[])


@pytest.fixture
def channel(slack: FakeSlackApi) -> str:
    slack.add_user("U1", name="alice", email="alice@example.com")
    return slack.add_channel("deploys", channel_id=C, members=["U1"])


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_post_update_history_round_trip_with_metadata(
    slack: FakeSlackApi, client: WebClient, channel: str
) -> None:
    metadata = {"event_type": "deploy_card", "event_payload": {"deploy_id": 42}}
    posted = client.chat_postMessage(
        channel=channel, text="deploying", blocks=[section("*api* to prod")], metadata=metadata
    )
    ts = posted["ts"]
    assert posted["channel"] == channel
    assert posted["message"]["user"] == "U0SHIPBOT"

    client.chat_update(channel=channel, ts=ts, text="deployed", blocks=[section("done")])

    history = client.conversations_history(channel=channel, include_all_metadata=True)
    (message,) = history["messages"]
    assert message["ts"] == ts
    assert message["text"] == "deployed"
    assert message["blocks"] == [section("done")]
    assert message["metadata"] == metadata
    assert message["edited"]["user"] == "U0SHIPBOT"
    plain = client.conversations_history(channel=channel)
    assert "metadata" not in plain["messages"][0]
    call = slack.calls_to("chat.postMessage")[0]
    assert call.body["metadata"] == metadata
    assert call.headers["Authorization"] == "Bearer xoxb-test"


def test_message_ts_strictly_increase_and_history_is_newest_first(
    client: WebClient, channel: str
) -> None:
    sent = [client.chat_postMessage(channel=channel, text=str(i))["ts"] for i in range(5)]
    assert sent == sorted(sent, key=float)
    assert len(set(sent)) == 5
    page = client.conversations_history(channel=channel, limit=2)
    assert [m["text"] for m in page["messages"]] == ["4", "3"]
    assert page["has_more"]
    rest = client.conversations_history(
        channel=channel, limit=10, cursor=page["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["2", "1", "0"]
    window = client.conversations_history(channel=channel, oldest=sent[1], latest=sent[3])
    assert [m["text"] for m in window["messages"]] == ["2"]


def test_thread_replies_and_broadcast(slack: FakeSlackApi, client: WebClient, channel: str) -> None:
    parent = client.chat_postMessage(channel=channel, text="incident declared")["ts"]
    client.chat_postMessage(channel=channel, text="update 1", thread_ts=parent)
    client.chat_postMessage(
        channel=channel, text="resolved", thread_ts=parent, reply_broadcast=True
    )

    thread = client.conversations_replies(channel=channel, ts=parent)["messages"]
    assert [m["text"] for m in thread] == ["incident declared", "update 1", "resolved"]
    assert thread[0]["reply_count"] == 2
    assert all(m["thread_ts"] == parent for m in thread)
    top = client.conversations_history(channel=channel)["messages"]
    assert [m["text"] for m in top] == ["resolved", "incident declared"]
    with pytest.raises(SlackApiError) as missing:
        client.chat_postMessage(channel=channel, text="x", thread_ts="1.000001")
    assert missing.value.response["error"] == "thread_not_found"


def test_rate_limit_answers_429_with_retry_after(
    slack: FakeSlackApi, client: WebClient, channel: str
) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel=channel, text="hi")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response["error"] == "ratelimited"
    assert slack.messages(channel) == []
    client.chat_postMessage(channel=channel, text="hi")
    assert [m["text"] for m in slack.messages(channel)] == ["hi"]


def test_server_error_and_scripted_errors_are_consumed_in_order(
    slack: FakeSlackApi, client: WebClient, channel: str
) -> None:
    slack.fail_next("chat.postMessage", status=500)
    slack.fail_next("chat.postMessage", error="channel_not_found", count=2)
    with pytest.raises(SlackApiError) as server_error:
        client.chat_postMessage(channel=channel, text="a")
    assert server_error.value.response.status_code == 500
    for _ in range(2):
        with pytest.raises(SlackApiError) as scripted:
            client.chat_postMessage(channel=channel, text="a")
        assert scripted.value.response.status_code == 200
        assert scripted.value.response["error"] == "channel_not_found"
    assert client.chat_postMessage(channel=channel, text="a")["ok"]
    assert len(slack.calls_to("chat.postMessage")) == 4


def test_slow_response_trips_the_client_timeout_but_still_lands(
    slack: FakeSlackApi, channel: str
) -> None:
    # Like a slow Slack: the client gives up, the post happens anyway (hence idempotency).
    slack.fail_next("chat.postMessage", delay=0.3)
    impatient = WebClient(token="xoxb-test", base_url=slack.url, timeout=0.05, retry_handlers=[])
    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel=channel, text="late")
    landed = slack.wait_for(lambda: slack.messages(channel))
    assert [m["text"] for m in landed] == ["late"]


def test_reset_drops_a_call_still_delayed(slack: FakeSlackApi, channel: str) -> None:
    slack.fail_next("chat.postMessage", delay=30.0)
    impatient = WebClient(token="xoxb-test", base_url=slack.url, timeout=0.05, retry_handlers=[])
    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel=channel, text="late")
    generation = slack.generation
    slack.reset()
    assert not slack.sleep(30.0, generation)  # returns at once: the old generation is over


def test_fail_next_needs_something_to_do(slack: FakeSlackApi) -> None:
    with pytest.raises(ValueError):
        slack.fail_next("chat.postMessage")


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "section"}],
        [{"type": "no_such_block"}],
        [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
        [{"type": "section", "text": "bare string"}],
        [{"type": "actions", "elements": [{"type": "no_such_element"}]}],
        [section(str(i)) for i in range(51)],
    ],
    ids=[
        "no-text",
        "unknown-type",
        "header-too-long",
        "text-not-object",
        "unknown-element",
        "over-50",
    ],
)
def test_invalid_blocks_are_refused_like_slack(
    slack: FakeSlackApi, client: WebClient, channel: str, blocks: list[dict[str, Any]]
) -> None:
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel=channel, text="fallback", blocks=blocks)
    assert refused.value.response["error"] == "invalid_blocks"
    assert all("json-pointer:/blocks" in e for e in refused.value.response["errors"])
    (failure,) = slack.take_invalid()
    assert failure.method == "chat.postMessage"
    assert slack.messages(channel) == []


def test_complex_valid_message_is_accepted(
    slack: FakeSlackApi, client: WebClient, channel: str
) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Deploy api to prod"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Service*\napi"},
                {"type": "mrkdwn", "text": "*Ref*\nv1.2.3"},
            ],
            "accessory": {
                "type": "button",
                "text": {"type": "plain_text", "text": "Logs"},
                "action_id": "logs",
                "url": "https://example.com/logs",
            },
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "requested by <@U1>"}]},
        {"type": "divider"},
        {
            "type": "actions",
            "block_id": "approval",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "style": "primary",
                    "action_id": "approve",
                    "value": "deploy:42",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Reject"},
                    "style": "danger",
                    "action_id": "reject",
                    "value": "deploy:42",
                },
            ],
        },
        {"type": "image", "image_url": "https://example.com/graph.png", "alt_text": "latency"},
    ]
    client.chat_postMessage(channel=channel, text="Deploy api to prod", blocks=blocks)
    assert slack.messages(channel)[0]["blocks"] == blocks


def test_unknown_and_unexpected_methods_are_flagged(slack: FakeSlackApi, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as unknown:
        client.api_call("admin.apps.approve")
    assert unknown.value.response["error"] == "unknown_method"
    slack.expect_only({"chat.postMessage"})
    assert client.auth_test()["user_id"] == "U0SHIPBOT"
    assert [c.method for c in slack.take_unexpected()] == ["admin.apps.approve", "auth.test"]
    assert slack.take_unexpected() == []


def test_teardown_check_reports_unacknowledged_problems(slack_api_server: FakeSlackApi) -> None:
    # Uses the server directly so the ``slack`` fixture's own teardown check stays clean.
    slack_api_server.reset()
    web = WebClient(token="xoxb-test", base_url=slack_api_server.url, retry_handlers=[])
    slack_api_server.add_channel("x", channel_id="C1")
    with pytest.raises(SlackApiError):
        web.api_call("nope.nope")
    with pytest.raises(SlackApiError):
        web.chat_postMessage(channel="C1", text="t", blocks=[{"type": "x"}])
    problems = slack_api_server.take_surprises()
    assert len(problems) == 2
    assert "nope.nope" in problems[0]
    assert "invalid blocks in chat.postMessage" in problems[1]
    assert slack_api_server.take_surprises() == []


@pytest.mark.parametrize(("token", "error"), [("", "not_authed"), ("xoxp-user", "invalid_auth")])
def test_requests_without_a_bot_token_are_refused(
    slack: FakeSlackApi, token: str, error: str
) -> None:
    anonymous = WebClient(token=token or None, base_url=slack.url, retry_handlers=[])
    with pytest.raises(SlackApiError) as refused:
        anonymous.auth_test()
    assert refused.value.response["error"] == error


def test_accepted_tokens_can_be_restricted() -> None:
    with FakeSlackApi(accept_tokens={"xoxb-right"}) as fake:
        assert WebClient(token="xoxb-right", base_url=fake.url).auth_test()["ok"]
        with pytest.raises(SlackApiError) as refused:
            WebClient(token="xoxb-wrong", base_url=fake.url, retry_handlers=[]).auth_test()
    assert refused.value.response["error"] == "invalid_auth"


def test_conversations_create_invite_topic_and_info(slack: FakeSlackApi, client: WebClient) -> None:
    slack.add_user("U1", name="alice")
    created = client.conversations_create(name="inc-42-db-down")["channel"]
    assert created["is_member"] and created["id"].startswith("C")
    client.conversations_invite(channel=created["id"], users="U1")
    client.conversations_setTopic(channel=created["id"], topic="SEV1: db down")
    info = client.conversations_info(channel=created["id"])["channel"]
    assert info["topic"]["value"] == "SEV1: db down"
    assert slack.state.channel(created["id"]).members == {"U0SHIPBOT", "U1"}
    for name, error in [("inc-42-db-down", "name_taken"), ("Bad Name!", "invalid_name_specials")]:
        with pytest.raises(SlackApiError) as refused:
            client.conversations_create(name=name)
        assert refused.value.response["error"] == error
    with pytest.raises(SlackApiError) as unknown_user:
        client.conversations_invite(channel=created["id"], users="U404")
    assert unknown_user.value.response["error"] == "user_not_found"


def test_ephemeral_pins_reactions_and_permalink(
    slack: FakeSlackApi, client: WebClient, channel: str
) -> None:
    ts = client.chat_postMessage(channel=channel, text="card")["ts"]
    client.chat_postEphemeral(channel=channel, user="U1", text="only you", blocks=[section("x")])
    client.pins_add(channel=channel, timestamp=ts)
    client.reactions_add(channel=channel, timestamp=ts, name="white_check_mark")
    (ephemeral,) = slack.ephemerals(user="U1")
    assert (ephemeral.channel, ephemeral.text) == (channel, "only you")
    message = slack.messages(channel)[0]
    assert message["pinned_to"] == [channel]
    assert message["reactions"][0]["name"] == "white_check_mark"
    link = client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
    assert link.endswith(f"/archives/{channel}/p{ts.replace('.', '')}")
    slack.add_user("U2", name="bob")
    with pytest.raises(SlackApiError) as outsider:
        client.chat_postEphemeral(channel=channel, user="U2", text="x")
    assert outsider.value.response["error"] == "user_not_in_channel"


def test_views_open_update_and_limits(slack: FakeSlackApi, client: WebClient) -> None:
    modal = {
        "type": "modal",
        "callback_id": "deploy_modal",
        "title": {"type": "plain_text", "text": "Deploy"},
        "blocks": [section("pick a service")],
    }
    opened = client.views_open(trigger_id="1.2.abc", view=modal)["view"]
    assert opened["callback_id"] == "deploy_modal"
    updated = client.views_update(
        view_id=opened["id"], hash=opened["hash"], view={**modal, "blocks": [section("ok")]}
    )["view"]
    assert updated["blocks"] == [section("ok")]
    with pytest.raises(SlackApiError) as stale:
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)
    assert stale.value.response["error"] == "hash_conflict"
    with pytest.raises(SlackApiError) as too_big:
        client.views_open(trigger_id="1.2.abd", view={**modal, "blocks": [section("b")] * 101})
    assert too_big.value.response["error"] == "invalid_blocks"
    assert len(slack.take_invalid()) == 1


def test_file_upload_v2_flow(slack: FakeSlackApi, client: WebClient, channel: str) -> None:
    result = client.files_upload_v2(
        channel=channel, content=b"# Weekly report\n", filename="x.md", title="Weekly"
    )
    assert result["file"]["name"] == "x.md"
    (uploaded,) = slack.files()
    assert (uploaded.filename, uploaded.title, uploaded.content) == (
        "x.md",
        "Weekly",
        b"# Weekly report\n",
    )
    assert uploaded.channels == [channel]
    assert slack.messages(channel)[-1]["files"][0]["id"] == uploaded.id
    assert [c.method for c in slack.calls] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]


def test_usergroups_users_list(slack: FakeSlackApi, client: WebClient) -> None:
    slack.add_usergroup("S0SRE", handle="sre", users=["U1", "U2"])
    assert client.usergroups_users_list(usergroup="S0SRE")["users"] == ["U1", "U2"]
    with pytest.raises(SlackApiError) as missing:
        client.usergroups_users_list(usergroup="S0NONE")
    assert missing.value.response["error"] == "no_such_subteam"


def test_users_info(slack: FakeSlackApi, client: WebClient) -> None:
    slack.add_user("U7", name="carol", real_name="Carol C", email="carol@example.com")
    user = client.users_info(user="U7")["user"]
    assert (user["name"], user["real_name"], user["profile"]["email"]) == (
        "carol",
        "Carol C",
        "carol@example.com",
    )


def test_response_url_posts_are_recorded_and_applied(
    slack: FakeSlackApi, client: WebClient, channel: str
) -> None:
    card = client.chat_postMessage(channel=channel, text="approve?")["ts"]
    command_url = slack.response_url(channel=channel, user="U1")
    click_url = slack.response_url(channel=channel, user="U1", message_ts=card)

    assert WebhookClient(command_url).send(text="working on it").status_code == 200
    assert (
        WebhookClient(command_url).send(text="shipped", response_type="in_channel").status_code
        == 200
    )
    replaced = WebhookClient(click_url).send(
        text="approved by alice", blocks=[section("approved")], replace_original=True
    )
    assert replaced.status_code == 200

    assert [e.text for e in slack.ephemerals(user="U1")] == ["working on it"]
    texts = {m["ts"]: m["text"] for m in slack.messages(channel)}
    assert texts[card] == "approved by alice"
    assert "shipped" in texts.values()
    assert [p.body.get("text") for p in slack.response_posts()] == [
        "working on it",
        "shipped",
        "approved by alice",
    ]
    assert WebhookClient(slack.origin + "/response/R404").send(text="x").status_code == 404


def test_wait_for_wakes_when_a_background_worker_posts(
    slack: FakeSlackApi, client: WebClient, channel: str
) -> None:
    go = threading.Event()

    def worker() -> None:
        go.wait()
        client.chat_postMessage(channel=channel, text="from the worker")

    thread = threading.Thread(target=worker)
    thread.start()
    assert slack.messages(channel) == []
    go.set()
    slack.wait_for(lambda: len(slack.messages(channel)) == 1)
    thread.join()
    assert slack.messages(channel)[0]["text"] == "from the worker"


def test_wait_for_times_out_with_the_calls_seen(slack: FakeSlackApi, client: WebClient) -> None:
    client.auth_test()
    with pytest.raises(TimeoutError, match=r"auth\.test"):
        slack.wait_for(lambda: slack.calls_to("chat.postMessage"), timeout=0.01)
