"""Alert webhooks end to end: the running app (example config, dev bearer token), its
worker and the Slack fake. Firing then resolved is one message updated in place; an open
incident's channel wins over the route; a storm is counted exactly in few messages."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlmodel import col, select

from tests.e2e.conftest import RunningBot, jobs_drained, wait_until
from tests.workflows.alerts import samples
from workflows.alerts.groups import count_alerts, list_groups
from workflows.incidents.models import Incident, IncidentEvent

BEARER = {"Authorization": f"Bearer {samples.DEV_TOKEN}", "Content-Type": "application/json"}


def _post(running_bot: RunningBot, *alerts: dict[str, Any]) -> httpx.Response:
    body = json.dumps(samples.alertmanager_payload(*alerts))
    response = running_bot.http.post("/hooks/alertmanager", content=body, headers=BEARER)
    assert response.status_code == 200, response.text
    return response


def test_firing_then_resolved_is_one_message_updated_in_place(
    running_bot: RunningBot, slack: Any
) -> None:
    running_bot.runtime.start_background(worker=True, scheduler=False)
    _post(running_bot, samples.am_alert(fingerprint="f1"))
    (posted,) = slack.wait_for(lambda: slack.messages("C0ALERTS"), timeout=10)
    assert posted["text"].startswith("FIRING: HighErrorRate on web")
    assert posted["blocks"][0]["text"]["text"] == ":rotating_light: FIRING: HighErrorRate"

    _post(running_bot, samples.am_alert(fingerprint="f1", status="resolved"))
    slack.wait_for(
        lambda: [m for m in slack.messages("C0ALERTS") if m["text"].startswith("RESOLVED")],
        timeout=10,
    )
    (message,) = slack.messages("C0ALERTS")
    assert message["ts"] == posted["ts"]
    assert message["text"] == "RESOLVED: HighErrorRate on web (1 firing · 1 resolved)"
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert slack.calls_to("chat.update")[-1].body["ts"] == posted["ts"]
    assert slack.messages("C0INCIDNT") == []


def test_an_open_incident_channel_gets_the_alert_instead(
    running_bot: RunningBot, slack: Any
) -> None:
    slack.add_channel("inc-web", channel_id="C0INCWEB", members=["U0BOB"])
    database, clock = running_bot.runtime.database, running_bot.runtime.clock
    with database.transaction() as session:
        incident = Incident(
            title="web 5xx", severity="SEV2", service="web", declared_by="U0BOB",
            channel_id="C0INCWEB", declared_at=clock.now(), updated_at=clock.now(),
        )  # fmt: skip
        session.add(incident)
        session.flush()
        incident_id = incident.id
    running_bot.runtime.start_background(worker=True, scheduler=False)

    _post(running_bot, samples.am_alert(fingerprint="f2"))
    (message,) = slack.wait_for(lambda: slack.messages("C0INCWEB"), timeout=10)
    assert f"in incident #{incident_id}" in json.dumps(message["blocks"])
    assert slack.messages("C0ALERTS") == []
    with database.read_session() as session:
        events = session.exec(
            select(IncidentEvent).where(col(IncidentEvent.incident_id) == incident_id)
        ).all()
    assert [e.kind for e in events] == ["alert"]


def test_a_storm_is_counted_exactly_in_few_messages(running_bot: RunningBot, slack: Any) -> None:
    running_bot.runtime.start_background(worker=True, scheduler=False)

    # 2,000 alerts in 20 requests from 4 senders: 4 groups, 2 routed to #alerts (web) and 2
    # to the default channel (#incidents).
    def request(number: int) -> httpx.Response:
        alerts = [
            samples.am_alert(
                fingerprint=f"storm-{number}-{n}",
                alertname=f"Storm{n % 2}",
                service="web" if number % 2 else "api",
            )
            for n in range(100)
        ]
        return _post(running_bot, *alerts)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = [r.json() for r in pool.map(request, range(20))]
    assert sum(a["new"] for a in answers) == 2000

    def final(channel: str) -> list[dict[str, Any]]:
        done = [m for m in slack.messages(channel) if "(500 firing · 0 resolved)" in m["text"]]
        return done if len(done) == 2 else []

    slack.wait_for(lambda: final("C0ALERTS") and final("C0INCIDNT"), timeout=60)
    wait_until(lambda: jobs_drained(running_bot.runtime), timeout=30, what="renders to finish")
    assert len(slack.messages("C0ALERTS")) == 2 and len(slack.messages("C0INCIDNT")) == 2
    assert len(slack.calls_to("chat.postMessage")) == 4
    # 40 group changes (20 requests x 2 groups); renders coalesce them into a few updates.
    assert len(slack.calls_to("chat.update")) < 20
    with running_bot.runtime.database.read_session() as session:
        groups = list_groups(session=session)
        assert count_alerts(session=session) == 2000
    assert sorted(g.firing for g in groups) == [500, 500, 500, 500]
