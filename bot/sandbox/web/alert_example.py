"""The example Alertmanager webhook the sandbox page offers (and docs/sandbox.md shows)."""

from __future__ import annotations

import json
import shlex
from typing import Any, Literal

AlertStatus = Literal["firing", "resolved"]
FINGERPRINT = "1a30ba71cca2921f"


def alertmanager_payload(*, status: AlertStatus, starts_at: str) -> dict[str, Any]:
    """An Alertmanager webhook (format version 4) with one alert of the example ``web``
    service, which the example config routes to #alerts."""
    labels = {"alertname": "HighErrorRate", "service": "web", "severity": "critical"}
    alert: dict[str, Any] = {
        "status": status,
        "labels": labels,
        "annotations": {"summary": "5xx above 5% for 5 minutes"},
        "startsAt": starts_at,
        "endsAt": starts_at if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example/graph?g0.expr=errors",
        "fingerprint": FINGERPRINT,
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "shipbot",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.example",
        "alerts": [alert],
    }


def curl_command(*, bot_url: str, token: str, status: AlertStatus = "firing") -> str:
    """The shell command that sends the example webhook to the bot."""
    body = json.dumps(alertmanager_payload(status=status, starts_at="2026-01-05T09:00:00Z"))
    return (
        f"curl -sS {shlex.quote(bot_url.rstrip('/') + '/hooks/alertmanager')} "
        f"-H {shlex.quote('Authorization: Bearer ' + token)} "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )
