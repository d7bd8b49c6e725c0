"""Each source's payload becomes the same normalized alert; wrong shapes are refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.workflows.alerts import samples
from workflows.alerts.model import BadPayload
from workflows.alerts.parsers import (
    decode_json,
    parse_alertmanager,
    parse_generic,
    parse_grafana,
    parse_pagerduty,
)


def test_alertmanager_v4_alerts_are_normalized() -> None:
    payload = samples.alertmanager_payload(
        samples.am_alert(),
        samples.am_alert(fingerprint="2b41", status="resolved", job="checkout", service=None),
    )
    firing, resolved = parse_alertmanager(payload)

    assert firing.source == "alertmanager"
    assert firing.status == "firing"
    assert firing.service == "web"
    assert firing.alertname == "HighErrorRate"
    assert firing.summary == "5xx above 5% for 5 minutes"
    assert firing.alert_ref == "1a30ba71cca2921f"
    assert firing.dedup_key == "alertmanager:1a30ba71cca2921f:firing:2026-01-05T08:58:45.828Z"
    assert firing.starts_at == datetime(2026, 1, 5, 8, 58, 45, 828000, tzinfo=UTC)
    assert firing.ends_at is None  # the zero time means "not set"
    assert firing.url is not None and firing.url.startswith("http://prometheus")

    assert resolved.status == "resolved"
    assert resolved.service == "checkout"  # no service label: the job label
    assert resolved.ends_at == datetime(2026, 1, 5, 9, 10, tzinfo=UTC)
    assert resolved.match_labels()["service"] == "checkout"


def test_an_alert_without_service_or_job_is_unknown_and_old_alertmanagers_get_a_fingerprint() -> (
    None
):
    alert = samples.am_alert(service=None)
    del alert["fingerprint"]
    (parsed,) = parse_alertmanager(samples.alertmanager_payload(alert))
    assert parsed.service == "unknown"
    assert len(parsed.alert_ref) == 16
    (again,) = parse_alertmanager(samples.alertmanager_payload(alert))
    assert again.dedup_key == parsed.dedup_key


def test_grafana_payload_uses_the_panel_link_and_job_as_service() -> None:
    (alert,) = parse_grafana(samples.grafana_payload())
    assert alert.source == "grafana"
    assert alert.service == "api"
    assert alert.alertname == "High memory usage"
    assert alert.summary == "This alert was triggered for zone us-1"
    assert alert.url == "https://grafana.example.org/d/abc?viewPanel=2"
    assert alert.dedup_key.startswith("grafana:c6eadffa33fcdf37:firing:")
    assert alert.starts_at == datetime(2026, 1, 5, 6, 51, 3, 157076, tzinfo=UTC)


def test_generic_accepts_one_alert_or_a_list() -> None:
    one = {"id": "disk-1", "status": "firing", "labels": {"service": "db"}, "summary": "disk"}
    (alert,) = parse_generic(one)
    assert (alert.dedup_key, alert.alert_ref, alert.service) == (
        "generic:disk-1:firing",
        "disk-1",
        "db",
    )
    assert alert.alertname == "unnamed"
    many = parse_generic([one, {**one, "status": "resolved"}])
    assert [a.status for a in many] == ["firing", "resolved"]


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        ("incident.triggered", "firing"),
        ("incident.acknowledged", "acknowledged"),
        ("incident.resolved", "resolved"),
    ],
)
def test_pagerduty_v3_incident_events(event_type: str, status: str) -> None:
    (alert,) = parse_pagerduty(samples.pagerduty_payload(event_type))
    assert alert.status == status
    assert alert.dedup_key == "pagerduty:01DEN3DL1TGXSBQFE9L1M9L5B8"
    assert alert.alert_ref == "PGR0VU2"
    assert alert.service == "web"
    assert alert.alertname == "A little bump in the road"
    assert alert.labels["urgency"] == "high"
    assert alert.labels["priority"] == "P1"
    assert alert.url == "https://acme.pagerduty.com/incidents/PGR0VU2"


def test_pagerduty_events_that_are_not_alerts_give_nothing() -> None:
    payload = samples.pagerduty_payload("incident.annotated")
    assert parse_pagerduty(payload) == []
    ping = {"event": {"id": "01PING", "event_type": "pagey.ping", "data": {"type": "ping"}}}
    assert parse_pagerduty(ping) == []


@pytest.mark.parametrize(
    ("parser", "payload", "fragment"),
    [
        (parse_alertmanager, [], "the payload must be a JSON object"),
        (parse_alertmanager, {"alerts": "many"}, "'alerts' must be a list"),
        (parse_alertmanager, {"alerts": [{"status": "burning"}]}, "alerts[0].status"),
        (parse_alertmanager, {"alerts": [{"status": "firing", "labels": [1]}]}, "labels"),
        (
            parse_alertmanager,
            {"alerts": [{"status": "firing", "labels": {"a": {"b": 1}}}]},
            "alerts[0].labels.a must be a string",
        ),
        (parse_grafana, {"alerts": [None]}, "alerts[0] must be a JSON object"),
        (parse_generic, {"status": "firing"}, "the payload.id is missing"),
        (parse_generic, {"id": "x" * 300, "status": "firing"}, "1 to 256 characters"),
        (parse_generic, [{"id": "a", "status": "ok"}], "[0].status"),
        (parse_pagerduty, {"event": "x"}, "event must be a JSON object"),
        (parse_pagerduty, {"event": {"event_type": "incident.triggered"}}, "event.id"),
    ],
)
def test_wrong_shapes_are_refused(parser: Any, payload: Any, fragment: str) -> None:
    with pytest.raises(BadPayload) as refused:
        parser(payload)
    assert fragment in refused.value.message


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b""])
def test_a_body_that_is_not_json_is_refused(body: bytes) -> None:
    with pytest.raises(BadPayload):
        decode_json(body)
