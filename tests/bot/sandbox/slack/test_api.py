"""The loopback Slack Web API as a server, driven by the real ``slack_sdk.WebClient``:
scripted failures and delays, tokens, and the checks that flag what a test did not expect."""

from __future__ import annotations

import threading

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox import FakeSlackApi

C = "C0DEPLOYS"


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
