"""The emulated Web API methods (chat, conversations, views, files, users, response_url)
and Block Kit validation, driven by the real ``slack_sdk.WebClient``."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.sandbox import FakeSlackApi

C = "C0DEPLOYS"


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
