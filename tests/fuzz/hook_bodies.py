"""Webhook bodies for every alert source, with valid auth: each source's real shape with
hostile values, plus bodies that are barely JSON (deep nesting, escapes of NUL and lone
surrogates, wrong types)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.strategies import NASTY, text, word
from tests.workflows.alerts import samples
from workflows.alerts.auth import hmac_hex

SOURCES = ("alertmanager", "grafana", "generic", "pagerduty", "sns")
Body = tuple[str, bytes, dict[str, str]]

value = st.one_of(text, word, st.integers(), st.none(), st.booleans(), st.just([]), st.just({}))
labels = st.dictionaries(
    st.one_of(word, st.sampled_from(("service", "alertname"))), text, max_size=5
)
# Mostly parseable, so the parsers' later fields and the store are reached too.
status = st.sampled_from(("firing", "resolved") * 3 + ("bogus\x00", "<!here>"))
rarely = st.sampled_from((False,) * 4 + (True,))


def _dump(payload: Any) -> bytes:
    # ensure_ascii: a lone surrogate travels as the escape \ud800, as a JSON sender would.
    return json.dumps(payload, ensure_ascii=True).encode()


def _auth(source: str, body: bytes) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if source == "alertmanager":
        headers["Authorization"] = f"Bearer {samples.DEV_TOKEN}"
    elif source == "grafana":
        headers["Authorization"] = f"Bearer {samples.secret('grafana')}"
    elif source == "generic":
        headers["X-Shipbot-Signature"] = f"sha256={hmac_hex(samples.secret('new'), body)}"
    elif source == "pagerduty":
        headers["X-PagerDuty-Signature"] = samples.pagerduty_signature(
            body, samples.secret("pd-new")
        )
    return headers


@st.composite
def _prometheus(draw: Any) -> Any:
    alert = samples.am_alert(
        fingerprint=draw(st.one_of(word, st.just("f1"))),
        status=draw(status),
        alertname=draw(st.one_of(text, st.just("HighErrorRate"))),
        service=draw(st.one_of(st.just("web"), text)),
        summary=draw(text),
    )
    alert["labels"].update(draw(labels))
    alert["annotations"].update(draw(st.dictionaries(word, text, max_size=3)))
    alert["startsAt"] = draw(st.one_of(st.just(alert["startsAt"]), word))
    payload = samples.alertmanager_payload(alert)
    if draw(rarely):  # a field of the wrong type, after the envelope is built
        alert[draw(st.sampled_from(tuple(alert)))] = draw(value)
    return payload


@st.composite
def _generic(draw: Any) -> Any:
    item = {"id": draw(word), "status": draw(status), "labels": draw(labels), "summary": draw(text)}
    if draw(rarely):
        item[draw(st.sampled_from(("id", "status", "labels", "summary", "url")))] = draw(value)
    return [item, item] if draw(st.booleans()) else item


@st.composite
def _pagerduty(draw: Any) -> Any:
    event_type = draw(st.sampled_from(("incident.triggered", "incident.resolved", "x")))
    payload = samples.pagerduty_payload(event_type, event_id=draw(word))
    data = payload["event"]["data"]
    data["title"] = draw(text)
    data[draw(st.sampled_from(("id", "title", "urgency", "service", "html_url")))] = draw(value)
    return payload


def _signable(value: str) -> str:
    # SNS signs UTF-8: a lone surrogate cannot be in a message Amazon signed.
    return value.encode("utf-8", "replace").decode("utf-8")


@st.composite
def _sns(draw: Any) -> Any:
    alarm = samples.cloudwatch_alarm(
        draw(st.sampled_from(("ALARM", "OK", "INSUFFICIENT_DATA"))), name=draw(text)
    )
    alarm[draw(st.sampled_from(("AlarmDescription", "NewStateReason", "Trigger")))] = draw(value)
    message = _signable(draw(st.one_of(st.just(json.dumps(alarm)), text)))
    return samples.sign_sns(
        {
            "Type": "Notification",
            "MessageId": _signable(draw(word)),
            "TopicArn": samples.TOPIC,
            "Subject": _signable(draw(text)),
            "Message": message,
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
        }
    )


_SHAPED = {
    "alertmanager": _prometheus(),
    "grafana": _prometheus(),
    "generic": _generic(),
    "pagerduty": _pagerduty(),
    "sns": _sns(),
}


@st.composite
def _barely_json(draw: Any) -> bytes:
    kind = draw(st.sampled_from(("deep", "escapes", "junk", "scalar")))
    if kind == "deep":
        depth = draw(st.integers(min_value=60, max_value=20_000))
        return b'{"alerts": ' + b"[" * depth + b"]" * depth + b"}"
    if kind == "escapes":
        escaped = draw(st.sampled_from(("\\u0000", "\\ud800", "\\udfff x", "\\u001b")))
        return (f'{{"id": "a{escaped}", "status": "firing", "alerts": []}}').encode()
    if kind == "junk":
        return draw(st.binary(max_size=200))
    return _dump(draw(st.one_of(value, st.sampled_from(NASTY))))


@st.composite
def hook_bodies(draw: Any) -> Body:
    """``(source, body, headers)``: authenticated as the source's config expects."""
    source = draw(st.sampled_from(SOURCES))
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        body = draw(_barely_json())
    else:
        body = _dump(draw(_SHAPED[source]))
    return source, body, _auth(source, body)
