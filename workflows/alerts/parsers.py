"""Payloads of Alertmanager, Grafana, PagerDuty and the generic format, parsed into
``NormalizedAlert``s. Each parser takes the decoded JSON and raises ``BadPayload`` on a
shape its source never sends; a body that is not JSON is refused by ``decode_json``.
(SNS/CloudWatch is in ``workflows.alerts.sns``.)
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from workflows import boundary
from workflows.alerts.model import (
    MAX_REF,
    MAX_SUMMARY,
    AlertStatus,
    BadPayload,
    NormalizedAlert,
    as_labels,
    as_object,
    as_text,
    clip,
    parse_time,
)

PROM_STATUSES: dict[str, AlertStatus] = {"firing": "firing", "resolved": "resolved"}
# PagerDuty v3 event types that change an alert; the others (annotated, priority
# changes, pagey.ping ...) are acknowledged and ignored.
PAGERDUTY_EVENTS: dict[str, AlertStatus] = {
    "incident.triggered": "firing",
    "incident.reopened": "firing",
    "incident.acknowledged": "acknowledged",
    "incident.resolved": "resolved",
}


def decode_json(body: bytes | str, *, clean: bool = True) -> Any:
    """The body as cleaned JSON (``workflows.boundary``), or ``BadPayload`` saying why not."""
    try:
        return boundary.decode_json(body, clean=clean)
    except boundary.InputRejected as refused:
        raise BadPayload(refused.message) from None


def _status(value: Any, what: str) -> AlertStatus:
    status = PROM_STATUSES.get(value) if isinstance(value, str) else None
    if status is None:
        raise BadPayload(f"{what} must be 'firing' or 'resolved'")
    return status


def _summary(annotations: dict[str, str]) -> str:
    text = annotations.get("summary") or annotations.get("description") or ""
    return clip(text, MAX_SUMMARY)


def _label_fingerprint(labels: dict[str, str]) -> str:
    # Alertmanager before 0.19 sent no fingerprint; its labels identify the alert.
    canonical = json.dumps(labels, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _prom_alerts(source: str, payload: Any) -> list[NormalizedAlert]:
    """The ``alerts[]`` of an Alertmanager (webhook v4) or Grafana payload."""
    body = as_object(payload, "the payload")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise BadPayload("'alerts' must be a list")
    parsed: list[NormalizedAlert] = []
    for index, item in enumerate(alerts):
        what = f"alerts[{index}]"
        alert = as_object(item, what)
        status = _status(alert.get("status"), f"{what}.status")
        labels = as_labels(alert.get("labels"), f"{what}.labels")
        annotations = as_labels(alert.get("annotations"), f"{what}.annotations")
        starts_raw = as_text(alert.get("startsAt"), f"{what}.startsAt", limit=64)
        fingerprint = as_text(alert.get("fingerprint"), f"{what}.fingerprint", limit=MAX_REF)
        fingerprint = fingerprint or _label_fingerprint(labels)
        url = alert.get("panelURL") or alert.get("dashboardURL") or alert.get("generatorURL")
        parsed.append(
            NormalizedAlert(
                source=source,
                dedup_key=f"{source}:{fingerprint}:{status}:{starts_raw}",
                alert_ref=fingerprint,
                status=status,
                labels=labels,
                summary=_summary(annotations),
                url=as_text(url, f"{what}.url", limit=2000) or None,
                starts_at=parse_time(starts_raw),
                ends_at=parse_time(alert.get("endsAt")),
            )
        )
    return parsed


def parse_alertmanager(payload: Any) -> list[NormalizedAlert]:
    """Alertmanager webhook v4: ``{"version": "4", "alerts": [{status, labels,
    annotations, startsAt, endsAt, fingerprint, generatorURL}], ...}``. Deduplicated by
    fingerprint + status + startsAt."""
    return _prom_alerts("alertmanager", payload)


def parse_grafana(payload: Any) -> list[NormalizedAlert]:
    """Grafana unified alerting webhook contact point: the same ``alerts[]`` (plus
    ``silenceURL``, ``panelURL``, ``values``...). Deduplicated like Alertmanager."""
    return _prom_alerts("grafana", payload)


def parse_generic(payload: Any) -> list[NormalizedAlert]:
    """``{"id", "status": "firing"|"resolved", "labels": {...}, "summary", "url"?,
    "starts_at"?}`` or a list of them. Deduplicated by id + status."""
    items = payload if isinstance(payload, list) else [payload]
    parsed: list[NormalizedAlert] = []
    for index, item in enumerate(items):
        what = f"[{index}]" if isinstance(payload, list) else "the payload"
        alert = as_object(item, what)
        alert_id = as_text(alert.get("id"), f"{what}.id", limit=10 * MAX_REF, required=True)
        if not alert_id or len(alert_id) > MAX_REF:
            raise BadPayload(f"{what}.id must be 1 to {MAX_REF} characters")
        status = _status(alert.get("status"), f"{what}.status")
        summary = as_text(alert.get("summary"), f"{what}.summary", limit=MAX_SUMMARY)
        parsed.append(
            NormalizedAlert(
                source="generic",
                dedup_key=f"generic:{alert_id}:{status}",
                alert_ref=alert_id,
                status=status,
                labels=as_labels(alert.get("labels"), f"{what}.labels"),
                summary=summary,
                url=as_text(alert.get("url"), f"{what}.url", limit=2000) or None,
                starts_at=parse_time(alert.get("starts_at")),
            )
        )
    return parsed


def parse_pagerduty(payload: Any) -> list[NormalizedAlert]:
    """A PagerDuty v3 webhook: ``{"event": {"id", "event_type", "occurred_at",
    "data": <incident>}}``. Deduplicated by the event id; other event types give none."""
    event = as_object(as_object(payload, "the payload").get("event"), "event")
    event_id = as_text(event.get("id"), "event.id", limit=MAX_REF, required=True)
    event_type = as_text(event.get("event_type"), "event.event_type", required=True)
    if not event_id:
        raise BadPayload("event.id is empty")
    status = PAGERDUTY_EVENTS.get(event_type)
    if status is None:
        return []
    data = as_object(event.get("data"), "event.data")
    incident_id = as_text(data.get("id"), "event.data.id", limit=MAX_REF, required=True)
    title = as_text(data.get("title"), "event.data.title", limit=MAX_SUMMARY)
    service = found if isinstance(found := data.get("service"), dict) else {}
    priority = found if isinstance(found := data.get("priority"), dict) else {}
    labels = {
        "alertname": clip(title, 200) or f"PagerDuty incident {incident_id}",
        "service": as_text(service.get("summary"), "event.data.service.summary"),
        "urgency": as_text(data.get("urgency"), "event.data.urgency"),
        "priority": as_text(priority.get("summary"), "event.data.priority.summary"),
        "pagerduty_incident": incident_id,
    }
    return [
        NormalizedAlert(
            source="pagerduty",
            dedup_key=f"pagerduty:{event_id}",
            alert_ref=incident_id,
            status=status,
            labels={name: value for name, value in labels.items() if value},
            summary=title,
            url=as_text(data.get("html_url"), "event.data.html_url", limit=2000) or None,
            starts_at=parse_time(data.get("created_at") or event.get("occurred_at")),
        )
    ]


PARSERS = {
    "alertmanager": parse_alertmanager,
    "grafana": parse_grafana,
    "generic": parse_generic,
    "pagerduty": parse_pagerduty,
}
