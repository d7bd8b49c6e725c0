"""/hooks/<source> through the real Starlette app on loopback HTTP: refusals (404, 401,
400, 413) change nothing; a good request makes one group message; a redelivery changes
nothing; SNS handshakes and signed notifications. Both databases."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from sqlalchemy import text
from starlette.applications import Starlette

from bot.deps import Deps
from bot.hooks import MAX_HOOK_BODY, build_hook_routes
from bot.metrics import Metrics
from bot.runtime import Runtime
from bot.sandbox.seed import seed_workspace
from bot.sandbox.slack.blocks import block_errors
from bot.server_thread import ServerThread
from commands.alerts import render_alert_group_message
from tests.e2e.conftest import settings_for
from tests.workflows.alerts import samples
from workflows import jobs
from workflows.alerts.auth import hmac_hex
from workflows.alerts.groups import group_view_key
from workflows.alerts.models import AlertGroup
from workflows.alerts.sns import CONFIRM_JOB_KIND, make_confirm_handler
from workflows.clock import FakeClock
from workflows.config import ShipbotConfig
from workflows.store.db import Database

TABLES = ("alerts", "alert_groups", "audit_entries", "jobs", "slack_messages", "deliveries")
BEARER = {"Authorization": f"Bearer {samples.DEV_TOKEN}"}


def row_counts(database: Database) -> dict[str, int]:
    with database.engine.connect() as connection:
        return {
            t: connection.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES
        }


class Bot:
    def __init__(self, runtime: Runtime, http: httpx.Client) -> None:
        self.runtime = runtime
        self.http = http

    def post(
        self, source: str, payload: Any, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.http.post(f"/hooks/{source}", content=body, headers=headers or {})


@pytest.fixture
def make_bot(database: Database, slack: Any) -> Iterator[Callable[[ShipbotConfig], Bot]]:
    started: list[tuple[Runtime, ServerThread, httpx.Client]] = []

    def make(config: ShipbotConfig) -> Bot:
        seed_workspace(slack, config)
        runtime = Runtime(
            settings_for(database, slack.url),
            config=config,
            database=database,
            upgrade_sqlite=False,
        )
        server = ServerThread(runtime.http).start()
        client = httpx.Client(base_url=server.url, timeout=10)
        started.append((runtime, server, client))
        return Bot(runtime, client)

    yield make
    for runtime, server, client in started:
        client.close()
        server.stop()
        runtime.stop()


@pytest.fixture
def bot(make_bot: Callable[[ShipbotConfig], Bot]) -> Bot:
    return make_bot(samples.all_sources_config())


def _generic(body: bytes, secret_name: str = "new") -> dict[str, str]:
    return {"X-Shipbot-Signature": f"sha256={hmac_hex(samples.secret(secret_name), body)}"}


AM = samples.dumps(samples.alertmanager_payload())
GENERIC = samples.dumps({"id": "disk-1", "status": "firing", "labels": {"service": "web"}})


@pytest.mark.parametrize(
    ("source", "body", "headers", "status"),
    [
        ("nagios", AM, BEARER, 404),
        ("alertmanager", AM, {}, 401),
        ("alertmanager", AM, {"Authorization": "Bearer wrong"}, 401),
        ("alertmanager", AM, {"Authorization": samples.DEV_TOKEN}, 401),
        ("generic", GENERIC, _generic(GENERIC, "unknown"), 401),
        ("generic", GENERIC, {}, 401),
        ("pagerduty", b"{}", {"X-PagerDuty-Signature": "v1=00"}, 401),
        ("alertmanager", b"{not json", BEARER, 400),
        ("alertmanager", b'{"alerts": [{"status": "on fire"}]}', BEARER, 400),
        ("alertmanager", b"[]", BEARER, 400),
        ("generic", b'{"status": "firing"}', _generic(b'{"status": "firing"}'), 400),
    ],
)
def test_refusals_change_nothing(
    bot: Bot, source: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    before = row_counts(bot.runtime.database)
    response = bot.post(source, body, headers)
    assert response.status_code == status, response.text
    assert row_counts(bot.runtime.database) == before


def test_an_unconfigured_source_is_not_found(make_bot: Callable[[ShipbotConfig], Bot]) -> None:
    bot = make_bot(samples.config_with())  # the example config: only alertmanager
    before = row_counts(bot.runtime.database)
    assert bot.post("grafana", samples.grafana_payload(), BEARER).status_code == 404
    assert bot.http.get("/hooks/alertmanager").status_code == 405
    assert row_counts(bot.runtime.database) == before


def test_bodies_over_one_mebibyte_are_refused(bot: Bot) -> None:
    before = row_counts(bot.runtime.database)
    big = b'{"alerts": [], "pad": "' + b"x" * MAX_HOOK_BODY + b'"}'
    assert bot.post("alertmanager", big, BEARER).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: caught while reading
        for _ in range(20):
            yield b"x" * (64 * 1024)

    response = bot.http.post("/hooks/alertmanager", content=chunks(), headers=BEARER)
    assert response.status_code == 413
    assert row_counts(bot.runtime.database) == before


def test_a_good_request_makes_one_group_message_and_a_redelivery_nothing(
    bot: Bot, slack: Any
) -> None:
    payload = samples.alertmanager_payload(
        samples.am_alert(fingerprint="a1"), samples.am_alert(fingerprint="a2")
    )
    response = bot.post("alertmanager", payload, BEARER)
    assert response.status_code == 200
    assert response.json() | {"groups": 1} == {
        "ok": True, "source": "alertmanager", "received": 2, "new": 2, "duplicates": 0,
        "firing": 2, "resolved": 0, "acknowledged": 0, "groups": 1,
    }  # fmt: skip
    bot.runtime.start_background(worker=True, scheduler=False)
    slack.wait_for(lambda: slack.messages("C0ALERTS"))
    (message,) = slack.messages("C0ALERTS")
    assert message["text"] == "FIRING: HighErrorRate on web (2 firing · 0 resolved)"

    before = row_counts(bot.runtime.database)
    again = bot.post("alertmanager", payload, BEARER)
    assert again.status_code == 200
    assert (again.json()["new"], again.json()["duplicates"]) == (0, 2)
    assert row_counts(bot.runtime.database) == before
    assert len(slack.calls_to("chat.postMessage")) == 1

    metrics = bot.http.get("/metrics").text
    assert re.search(
        r'shipbot_alerts_received_total\{source="alertmanager",status="firing"\} 2', metrics
    )
    assert re.search(r'shipbot_alerts_duplicate_total\{source="alertmanager"\} 2', metrics)
    assert re.search(
        r'shipbot_http_requests_total\{route="/hooks/alertmanager",status="200"\} 2', metrics
    )


def test_every_source_is_accepted_with_its_auth(bot: Bot) -> None:
    grafana_token = {"Authorization": f"Bearer {samples.secret('grafana')}"}
    assert bot.post("grafana", samples.grafana_payload(), grafana_token).json()["new"] == 1
    assert bot.post("generic", GENERIC, _generic(GENERIC, "old")).json()["new"] == 1  # rotation

    pd = samples.dumps(samples.pagerduty_payload())
    signature = samples.pagerduty_signature(
        pd, samples.secret("pd-elsewhere"), samples.secret("pd-old")
    )
    answer = bot.post("pagerduty", pd, {"X-PagerDuty-Signature": signature})
    assert (answer.status_code, answer.json()["new"]) == (200, 1)
    with bot.runtime.database.read_session() as session:
        entries = session.exec(text("SELECT actor FROM audit_entries ORDER BY seq")).all()  # type: ignore[call-overload]
    assert [row[0] for row in entries] == ["hook:grafana", "hook:generic", "hook:pagerduty"]


# --- SNS: an app of our own, to hand it a certificate fetcher ----------------------------


@pytest.fixture
def sns_app(database: Database, clock: FakeClock) -> Iterator[tuple[httpx.Client, Deps, list[str]]]:
    fetched: list[str] = []
    deps = Deps(
        database=database,
        clock=clock,
        client=WebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/"),
        metrics=Metrics(),
        config=samples.all_sources_config(),
    )
    app = Starlette(routes=build_hook_routes(deps, cert_fetcher=samples.sns_cert_fetcher(fetched)))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield client, deps, fetched


def test_sns_subscription_is_confirmed_from_a_job_once(
    sns_app: tuple[httpx.Client, Deps, list[str]], clock: FakeClock
) -> None:
    client, deps, fetched = sns_app
    body = samples.dumps(samples.sns_subscription_confirmation())
    headers = {"x-amz-sns-message-type": "SubscriptionConfirmation"}
    assert client.post("/hooks/sns", content=body, headers=headers).status_code == 200
    before = row_counts(deps.database)
    assert (
        client.post("/hooks/sns", content=body, headers=headers).json()["note"]
        == "duplicate delivery"
    )
    assert row_counts(deps.database) == before

    job = jobs.claim(database=deps.database, clock=clock, owner="test", lease=jobs.BACKOFF_CAP)
    assert job is not None and job.kind == CONFIRM_JOB_KIND
    confirmed: list[str] = []
    make_confirm_handler(lambda url: confirmed.append(url) or b"<ok/>")(
        jobs.JobContext(job=job, database=deps.database, clock=clock)
    )
    assert len(confirmed) == 1 and confirmed[0].startswith("https://sns.eu-west-1.amazonaws.com/?")
    assert fetched == [samples.CERT_URL]


def test_sns_notifications_are_verified_then_stored(
    sns_app: tuple[httpx.Client, Deps, list[str]],
) -> None:
    client, deps, _ = sns_app
    alarm = samples.dumps(samples.sns_notification())
    assert client.post("/hooks/sns", content=alarm).json()["new"] == 1
    ok = samples.sns_notification(samples.cloudwatch_alarm("OK"), message_id="m-ok")
    assert client.post("/hooks/sns", content=samples.dumps(ok)).json()["resolved"] == 1

    before = row_counts(deps.database)
    forged = {**ok, "MessageId": "m-forged"}
    assert client.post("/hooks/sns", content=samples.dumps(forged)).status_code == 401
    not_alarm = samples.sign_sns({**samples.sns_notification(message_id="m-x"), "Message": "hi"})
    assert client.post("/hooks/sns", content=samples.dumps(not_alarm)).status_code == 400
    assert client.post("/hooks/sns", content=b"not json").status_code == 400
    assert row_counts(deps.database) == before


# --- the group message (the renderer the wiring registers) ------------------------------


def _stored_group(database: Database, clock: FakeClock, **fields: Any) -> int:
    values: dict[str, Any] = {
        "group_key": "web/HighErrorRate#1", "base_key": "web/HighErrorRate",
        "source": "alertmanager",
        "service": "web", "alertname": "HighErrorRate", "summary": "5xx above 5%",
        "labels": {"severity": "critical"}, "channel": "C0ALERTS", "firing": 3, "resolved": 1,
        "opened_at": clock.now(), "last_alert_at": clock.now(), "updated_at": clock.now(),
    }  # fmt: skip
    values.update(fields)
    with database.transaction() as session:
        group = AlertGroup(**values)
        session.add(group)
        session.flush()
        assert group.id is not None
        return group.id


@pytest.mark.parametrize(
    ("fields", "text", "absent"),
    [
        ({}, "FIRING: HighErrorRate on web (3 firing · 1 resolved)", None),
        ({"resolved": 3}, "RESOLVED: HighErrorRate on web (3 firing · 3 resolved)", None),
        (
            {"acknowledged": 1, "last_status": "acknowledged", "source": "pagerduty"},
            "ACKNOWLEDGED: HighErrorRate on web (3 firing · 1 resolved · 1 acknowledged)",
            None,
        ),
        (  # hostile text stays inert, huge values are cut, odd links are dropped
            {
                "summary": "<!channel> " + "x" * 5000,
                "labels": {f"label{n}": "<@U0BOB>" * 40 for n in range(30)},
                "url": "javascript:alert(1)|<x>",
                "alertname": "A" * 300,
            },
            "FIRING: " + "A" * 300,
            "<!channel>",
        ),
    ],
)
def test_group_messages_are_valid_block_kit(
    database: Database, clock: FakeClock, fields: dict[str, Any], text: str, absent: str | None
) -> None:
    group_id = _stored_group(database, clock, **fields)
    with database.session() as session:
        rendered = render_alert_group_message(session, group_view_key(group_id))
        assert render_alert_group_message(session, "alert-group:999") is None
        assert render_alert_group_message(session, "alert-group:x") is None
    assert rendered is not None
    assert rendered.text.startswith(text)
    assert block_errors(rendered.blocks) == []
    if absent is not None:
        dumped = json.dumps(rendered.blocks)
        assert absent not in dumped and "javascript:" not in dumped
