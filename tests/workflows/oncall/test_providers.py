"""Opsgenie and PagerDuty clients against loopback fakes, and provider trouble
(timeouts, 5xx, 401, garbage) turned into an answer with a reason instead of an error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fakes.opsgenie_api import FakeOpsgenie
from tests.fakes.pagerduty_api import FakePagerDuty, FakeShift
from tests.workflows.backends.http_fake import Reply
from workflows.config import ShipbotConfig
from workflows.errors import NotFound
from workflows.oncall.lookup import Providers, ask, schedule_for
from workflows.oncall.pagerduty import PagerDutyEvents

AT = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@pytest.fixture
def opsgenie() -> Iterator[FakeOpsgenie]:
    fake = FakeOpsgenie(
        on_call={"sched-db": ["bob@example.com", "nobody@else.example"]},
        next_on_call={"sched-db": ["carol@example.com"]},
    ).start()
    yield fake
    fake.stop()


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    fake = FakePagerDuty(
        users={"PBOB001": {"name": "Bob", "email": "bob@example.com"}},
        shifts={"PEP0001": [FakeShift("PBOB001", None, None, 1)]},
    ).start()
    yield fake
    fake.stop()


def config(**oncall: Any) -> ShipbotConfig:
    return ShipbotConfig.model_validate(
        {
            "users": {
                "U0BOB": {"name": "bob", "email": "bob@example.com"},
                "U0CAROL": {"name": "carol", "email": "carol@example.com"},
            },
            "oncall": {"timeout": "1s", **oncall},
        }
    )


def opsgenie_config(fake: FakeOpsgenie, key: str | None = None) -> ShipbotConfig:
    return config(
        opsgenie={"api_key": key or fake.api_key, "api_url": fake.url},
        schedules={"db": {"provider": "opsgenie", "schedule_id": "sched-db"}},
    )


def pagerduty_config(fake: FakePagerDuty, **schedule: str) -> ShipbotConfig:
    return config(
        pagerduty={"token": fake.token, "api_url": fake.url, "events_url": fake.url},
        schedules={"web": {"provider": "pagerduty", **schedule}},
    )


def test_opsgenie_now_and_next_mapped_to_slack(opsgenie: FakeOpsgenie) -> None:
    answer = ask(providers=Providers(opsgenie_config(opsgenie)), schedule="db", at=AT)
    assert answer.error is None and answer.oncall is not None
    assert [s.person.slack_user for s in answer.oncall.now] == ["U0BOB", None]
    assert [s.person.name for s in answer.oncall.now] == ["bob@example.com", "nobody@else.example"]
    assert [s.person.slack_user for s in answer.oncall.next] == ["U0CAROL"]
    assert answer.slack_users() == ["U0BOB"]
    now_call, next_call = opsgenie.server.requests
    assert now_call.path == "/v2/schedules/sched-db/on-calls"
    assert next_call.path == "/v2/schedules/sched-db/next-on-calls"
    assert now_call.headers["authorization"] == f"GenieKey {opsgenie.api_key}"
    assert now_call.query["date"] == ["2026-01-05T10:00:00Z"]
    assert opsgenie.unexpected == []


def test_opsgenie_wrong_key_is_a_reason_not_an_error(opsgenie: FakeOpsgenie) -> None:
    answer = ask(
        providers=Providers(opsgenie_config(opsgenie, key="wrong-key-000000")), schedule="db", at=AT
    )
    assert answer.oncall is None
    assert answer.error == "Opsgenie refused shipbot's credentials (check the token) (HTTP 401)"


def test_pagerduty_escalation_policy_target(pagerduty: FakePagerDuty) -> None:
    settings = pagerduty_config(pagerduty, escalation_policy_id="PEP0001")
    answer = ask(providers=Providers(settings), schedule="web", at=AT)
    assert answer.oncall is not None
    assert [s.person.slack_user for s in answer.oncall.now] == ["U0BOB"]  # always on call
    (call,) = pagerduty.server.calls("GET", "/oncalls")
    assert call.query["escalation_policy_ids[]"] == ["PEP0001"]
    assert call.query["since"] == ["2026-01-05T10:00:00Z"]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(500, {"error": "boom"}), "PagerDuty had an internal error (HTTP 500)"),
        (Reply(429, {"error": "slow down"}), "PagerDuty had an internal error (HTTP 429)"),
        (Reply(401, {"error": "no"}), "PagerDuty refused shipbot's credentials"),
        (Reply(200, "<html>maintenance</html>"), "PagerDuty answered something shipbot could"),
        (Reply(200, {"oncalls": []}, delay=1.5), "PagerDuty did not answer in time"),
    ],
)
def test_pagerduty_trouble_degrades_to_a_reason(
    pagerduty: FakePagerDuty, reply: Reply, reason: str
) -> None:
    pagerduty.fail_with = reply
    settings = pagerduty_config(pagerduty, schedule_id="PWEB123")
    answer = ask(providers=Providers(settings), schedule="web", at=AT)
    assert answer.oncall is None and answer.error is not None
    assert answer.error.startswith(reason)
    assert pagerduty.token not in answer.error


def test_unreachable_provider(pagerduty: FakePagerDuty) -> None:
    settings = pagerduty_config(pagerduty, schedule_id="PWEB123")
    pagerduty.stop()
    answer = ask(providers=Providers(settings), schedule="web", at=AT)
    assert answer.error is not None and "could not be reached" in answer.error


def test_events_trigger_is_deduplicated_by_pagerduty(pagerduty: FakePagerDuty) -> None:
    account = pagerduty_config(pagerduty, schedule_id="PWEB123").oncall.pagerduty
    assert account is not None
    events = PagerDutyEvents(account, timeout=timedelta(seconds=1))
    for _ in range(2):
        events.trigger(
            routing_key=pagerduty.routing_keys[0], dedup_key="k-1", summary="x", source="shipbot"
        )
    assert len(pagerduty.triggers()) == 2 and len(pagerduty.incidents) == 1


def test_a_service_names_its_schedule() -> None:
    settings = ShipbotConfig.model_validate(
        {
            "services": {"web": {"deploy": {"backend": "command", "argv": ["true"]}}},
            "oncall": {
                "schedules": {
                    "rota": {"provider": "static", "users": ["U0BOB"], "start": "2026-01-05"}
                },
                "services": {"web": "rota"},
            },
        }
    )
    assert schedule_for(settings, "web") == "rota"
    assert schedule_for(settings, "rota") == "rota"
    with pytest.raises(NotFound) as refused:
        schedule_for(settings, "api")
    assert refused.value.hint == "Known: rota, web."


def test_answers_not_known_in_time_are_said_so(opsgenie: FakeOpsgenie) -> None:
    from workflows.oncall.lookup import ask_many

    # Two requests of 0.4 s each: within the per-request timeout, not within 0.5 s in all.
    opsgenie.fail_with = None
    opsgenie.server.add(
        "GET",
        r"/v2/schedules/sched-db/on-calls",
        Reply(200, {"data": {"onCallRecipients": ["bob@example.com"]}}, delay=0.4),
    )
    opsgenie.server.add(
        "GET",
        r"/v2/schedules/sched-db/next-on-calls",
        Reply(200, {"data": {"exactNextOnCallRecipients": []}}, delay=0.4),
    )
    providers = Providers(opsgenie_config(opsgenie))
    (late,) = ask_many(providers=providers, schedules=["db"], at=AT, within=timedelta(seconds=0.5))
    assert late.oncall is None and late.error == "Opsgenie did not answer in time"
    (patient,) = ask_many(providers=providers, schedules=["db"], at=AT)
    assert patient.error is None and patient.slack_users() == ["U0BOB"]
