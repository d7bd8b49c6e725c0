"""Realistic webhook payloads of every alert source, an SNS signer with a self-signed
certificate, and configs built from the example one. Shared by the alert tests."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from workflows.alerts.auth import hmac_hex
from workflows.alerts.sns import string_to_sign
from workflows.config import ShipbotConfig, parse_config

EXAMPLE_CONFIG = Path(__file__).resolve().parents[3] / "examples" / "shipbot.yaml"
DEV_TOKEN = "dev-alerts-token"  # the example config's default, as the README shows
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123abcd.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:cloudwatch-alarms"


def secret(name: str) -> str:
    """A test secret built at runtime (no secret-shaped literals in the repository)."""
    return f"{name}-" + "s" * 12


def config_with(alerts: dict[str, Any] | None = None, **top: Any) -> ShipbotConfig:
    """The example config with its ``alerts`` section (and any top-level keys) replaced."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    if alerts is not None:
        data["alerts"] = alerts
    data.update(top)
    return parse_config(yaml.safe_dump(data), environ={})


def all_sources_config(**alerts: Any) -> ShipbotConfig:
    """Every source configured: bearer for Alertmanager/Grafana, HMAC (two secrets, for
    rotation) for generic, SNS signatures, PagerDuty signatures."""
    section: dict[str, Any] = {
        "default_channel": "incidents",
        "group_window": "5m",
        "sources": {
            "alertmanager": {"auth": "bearer", "token": DEV_TOKEN},
            "grafana": {"auth": "bearer", "token": secret("grafana")},
            "generic": {"auth": "hmac", "secrets": [secret("new"), secret("old")]},
            "sns": {"auth": "sns"},
            "pagerduty": {"auth": "pagerduty", "secrets": [secret("pd-new"), secret("pd-old")]},
        },
        "routes": [{"match": {"service": "web"}, "channel": "alerts"}],
    }
    section.update(alerts)
    return config_with(section)


# --- Alertmanager / Grafana ------------------------------------------------------------


def am_alert(
    *,
    fingerprint: str = "1a30ba71cca2921f",
    status: str = "firing",
    alertname: str = "HighErrorRate",
    service: str | None = "web",
    starts_at: str = "2026-01-05T08:58:45.828Z",
    summary: str = "5xx above 5% for 5 minutes",
    **labels: str,
) -> dict[str, Any]:
    all_labels = {"alertname": alertname, "severity": "critical", "instance": "web-1:9100"}
    if service is not None:
        all_labels["service"] = service
    all_labels.update(labels)
    return {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": summary, "description": f"{summary} on {service}"},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-01-05T09:10:00Z",
        "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=rate",
        "fingerprint": fingerprint,
    }


def alertmanager_payload(*alerts: dict[str, Any]) -> dict[str, Any]:
    """A webhook v4 body as Alertmanager sends it."""
    alerts = alerts or (am_alert(),)
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    common = dict(alerts[0]["labels"])
    return {
        "receiver": "shipbot",
        "status": status,
        "alerts": list(alerts),
        "groupLabels": {"alertname": common["alertname"]},
        "commonLabels": common,
        "commonAnnotations": dict(alerts[0]["annotations"]),
        "externalURL": "http://alertmanager.example.org:9093",
        "version": "4",
        "groupKey": '{}/{severity="critical"}:{alertname="' + common["alertname"] + '"}',
        "truncatedAlerts": 0,
    }


def grafana_payload(status: str = "firing", fingerprint: str = "c6eadffa33fcdf37") -> dict:
    """A Grafana unified alerting webhook body (contact point of type webhook)."""
    return {
        "receiver": "shipbot",
        "status": status,
        "orgId": 1,
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "High memory usage", "team": "blue", "job": "api"},
                "annotations": {
                    "description": "The system has high memory usage",
                    "runbook_url": "https://runbooks.example.org/1234",
                    "summary": "This alert was triggered for zone us-1",
                },
                "startsAt": "2026-01-05T08:51:03.157076+02:00",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://grafana.example.org/alerting/1afz29v7z/edit",
                "fingerprint": fingerprint,
                "silenceURL": "https://grafana.example.org/alerting/silence/new",
                "dashboardURL": "",
                "panelURL": "https://grafana.example.org/d/abc?viewPanel=2",
                "values": {"B": 44.23943737541908, "C": 1},
            }
        ],
        "groupLabels": {"alertname": "High memory usage"},
        "commonLabels": {"alertname": "High memory usage", "team": "blue", "job": "api"},
        "commonAnnotations": {},
        "externalURL": "https://grafana.example.org/",
        "version": "1",
        "groupKey": '{}:{alertname="High memory usage"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:1] High memory usage (blue)",
        "state": "alerting",
        "message": "**Firing**\n\nValue: B=44.2",
    }


# --- PagerDuty ---------------------------------------------------------------------------


def pagerduty_payload(
    event_type: str = "incident.triggered", *, event_id: str = "01DEN3DL1TGXSBQFE9L1M9L5B8"
) -> dict[str, Any]:
    """A PagerDuty v3 webhook body."""
    status = event_type.rsplit(".", 1)[-1]
    return {
        "event": {
            "id": event_id,
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-01-05T08:59:00.000Z",
            "agent": {"id": "PLH1HKV", "type": "user_reference", "summary": "Tenex Engineer"},
            "client": None,
            "data": {
                "id": "PGR0VU2",
                "type": "incident",
                "self": "https://api.pagerduty.com/incidents/PGR0VU2",
                "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
                "number": 2,
                "status": status,
                "incident_key": "d3640fbd41094207a1c11e58e46b1662",
                "created_at": "2026-01-05T08:58:00Z",
                "title": "A little bump in the road",
                "service": {
                    "id": "PF9KMXH",
                    "summary": "web",
                    "type": "service_reference",
                    "html_url": "https://acme.pagerduty.com/services/PF9KMXH",
                },
                "urgency": "high",
                "priority": {"id": "PSO75BM", "summary": "P1", "type": "priority_reference"},
            },
        }
    }


def pagerduty_signature(body: bytes, *secrets: str) -> str:
    return ",".join(f"v1={hmac_hex(s, body)}" for s in secrets)


# --- SNS / CloudWatch ---------------------------------------------------------------------


@cache
def sns_key_and_cert() -> tuple[rsa.RSAPrivateKey, bytes]:
    """A self-signed RSA certificate standing in for Amazon SNS's signing certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    start = datetime(2020, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365 * 40))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def sns_cert_fetcher(fetched: list[str] | None = None) -> Any:
    def fetch(url: str) -> bytes:
        if fetched is not None:
            fetched.append(url)
        return sns_key_and_cert()[1]

    return fetch


def sign_sns(message: dict[str, Any], *, version: str = "2") -> dict[str, Any]:
    """``message`` with SignatureVersion, SigningCertURL and a real Signature added."""
    signed = {**message, "SignatureVersion": version, "SigningCertURL": CERT_URL}
    digest = hashes.SHA256() if version == "2" else hashes.SHA1()
    key = sns_key_and_cert()[0]
    signature = key.sign(string_to_sign(signed), padding.PKCS1v15(), digest)
    signed["Signature"] = base64.b64encode(signature).decode()
    return signed


def cloudwatch_alarm(state: str = "ALARM", *, name: str = "web-5xx-high") -> dict[str, Any]:
    return {
        "AlarmName": name,
        "AlarmDescription": "5xx rate of the web ALB is above 5%",
        "AWSAccountId": "123456789012",
        "NewStateValue": state,
        "NewStateReason": "Threshold Crossed: 1 datapoint [12.0] was greater than 5.0",
        "StateChangeTime": "2026-01-05T08:59:27.123+0000",
        "Region": "EU (Ireland)",
        "AlarmArn": f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{name}",
        "OldStateValue": "OK" if state == "ALARM" else "ALARM",
        "Trigger": {
            "MetricName": "HTTPCode_Target_5XX_Count",
            "Namespace": "AWS/ApplicationELB",
            "Statistic": "SUM",
            "Unit": None,
            "Dimensions": [
                {"value": "app/web/50dc6c495c0c9188", "name": "LoadBalancer"},
                {"value": "web", "name": "service"},
            ],
            "Period": 60,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 5.0,
        },
    }


def sns_notification(
    alarm: dict[str, Any] | None = None, *, message_id: str = "95df01b4-ee98-5cb9-9903-4c221d41eb5e"
) -> dict[str, Any]:
    return sign_sns(
        {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": TOPIC,
            "Subject": 'ALARM: "web-5xx-high" in EU (Ireland)',
            "Message": json.dumps(alarm or cloudwatch_alarm()),
            "Timestamp": "2026-01-05T08:59:27.200Z",
            "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
        }
    )


def sns_subscription_confirmation(message_id: str = "165545c9-2a5c-472c-8df2-7ff2be2b3b1b"):  # type: ignore[no-untyped-def]
    token = "2336412f37" * 8
    return sign_sns(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": message_id,
            "Token": token,
            "TopicArn": TOPIC,
            "Message": f"You have chosen to subscribe to the topic {TOPIC}.",
            "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
            f"&TopicArn={TOPIC}&Token={token}",
            "Timestamp": "2026-01-05T08:50:00.000Z",
        }
    )


def dumps(payload: Any) -> bytes:
    return json.dumps(payload).encode()
