"""One webhook request, from raw bytes to a committed effect.

Order matters: the source must be configured (else ``UnknownSource``, 404), the request
authenticated from the raw body and headers (``Unauthorized``, 401), and only then is the
body parsed (``BadPayload``, 400). None of these refusals writes anything. An accepted
request is stored in one transaction (``workflows.alerts.intake.ingest``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from sqlmodel import Session

from workflows import audit, boundary
from workflows.alerts.auth import authenticate
from workflows.alerts.intake import IntakeResult, ingest
from workflows.alerts.model import SOURCES, BadPayload, NormalizedAlert, UnknownSource
from workflows.alerts.parsers import PARSERS, decode_json
from workflows.alerts.sns import (
    CONFIRM_JOB_KIND,
    SigningCerts,
    SnsMessage,
    is_sns_url,
    parse_cloudwatch_alarm,
    verify_message,
)
from workflows.clock import Clock
from workflows.config import AlertSource, ShipbotConfig
from workflows.delivery import claim_delivery
from workflows.errors import DuplicateDelivery
from workflows.jobs import enqueue
from workflows.redact import redact, redact_text
from workflows.store.db import Database


@dataclass(frozen=True)
class HookOutcome:
    """What an accepted request did, as the HTTP answer shows it."""

    source: str
    result: IntakeResult | None = None
    note: str = ""

    def body(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"ok": True, "source": self.source}
        if self.result is not None:
            answer.update(self.result.counts())
        if self.note:
            answer["note"] = self.note
        return answer


def configured_source(config: ShipbotConfig | None, source: str) -> AlertSource:
    """The config of a webhook source, or ``UnknownSource`` if it is not one or not set up."""
    found: AlertSource | None = (
        getattr(config.alerts.sources, source, None) if config and source in SOURCES else None
    )
    if found is None:
        raise UnknownSource(f"no alert source {source!r} is configured")
    return found


def _sns_topics(source: AlertSource) -> tuple[str, ...]:
    # Accepted TopicArns, once the config grows a field for them (see docs/alerts.md).
    return tuple(getattr(source, "topics", None) or ())


def _sns_control(session: Session, clock: Clock, message: SnsMessage) -> HookOutcome:
    """A subscription (un)confirmation: confirm from a job, audit, exactly once."""
    claim_delivery(session=session, clock=clock, key=f"sns:{message.message_id}", source="sns")
    params = {"topic_arn": message.topic_arn, "message_id": message.message_id}
    if message.type == "SubscriptionConfirmation":
        if message.subscribe_url is None or not is_sns_url(message.subscribe_url):
            raise BadPayload("SubscribeURL is not an https://sns.<region>.amazonaws.com/ URL")
        enqueue(
            session=session,
            clock=clock,
            kind=CONFIRM_JOB_KIND,
            payload={"subscribe_url": message.subscribe_url, "topic_arn": message.topic_arn},
            idempotency_key=f"sns-confirm:{message.message_id}",
        )
        action, note = "alerts.sns_subscription_confirmed", "subscription confirmation queued"
    else:
        action, note = "alerts.sns_unsubscribed", "unsubscribe noted"
    audit.record(
        session=session, clock=clock, actor="hook:sns", action=action, target="sns", params=params
    )
    return HookOutcome(source="sns", note=note)


def _cleaned(message: SnsMessage) -> SnsMessage:
    """A verified SNS message with its texts cleaned at the boundary before any is stored."""
    texts = {
        field.name: boundary.clean_text(value)
        for field in fields(message)
        if isinstance(value := getattr(message, field.name), str)
    }
    return replace(message, **texts)


def _redacted(alert: NormalizedAlert) -> NormalizedAlert:
    return replace(
        alert,
        labels=redact(alert.labels),
        summary=redact_text(alert.summary),
        url=redact_text(alert.url) if alert.url else alert.url,
    )


def receive(
    *,
    database: Database,
    clock: Clock,
    config: ShipbotConfig | None,
    source: str,
    body: bytes,
    headers: Mapping[str, str],
    sns_certs: SigningCerts | None = None,
) -> HookOutcome:
    """Authenticate, parse and store one webhook request (``headers``: lower-case names).

    Raises ``UnknownSource``/``Unauthorized``/``BadPayload`` (a ``HookRejected``) before
    anything is written. A redelivery returns an outcome with ``new == 0``.
    """
    source_config = configured_source(config, source)
    assert config is not None
    if source_config.auth == "sns" and source != "sns":
        raise UnknownSource(f"source {source!r}: auth 'sns' only works for the sns source")
    authenticate(source_config, body, headers)
    # SNS signs the decoded values: verify them as sent, the Message is cleaned after.
    payload = decode_json(body, clean=source != "sns")
    alerts: list[NormalizedAlert]
    if source == "sns":
        if sns_certs is None:
            raise UnknownSource("SNS intake has no certificate fetcher configured")
        message = verify_message(
            payload, certs=sns_certs, now=clock.now(), topics=_sns_topics(source_config)
        )
        message = _cleaned(message)
        if message.type != "Notification":
            try:
                with database.transaction() as session:
                    return _sns_control(session, clock, message)
            except DuplicateDelivery:
                return HookOutcome(source="sns", note="duplicate delivery")
        alerts = parse_cloudwatch_alarm(message)
    else:
        alerts = PARSERS[source](payload)
    if not alerts:
        return HookOutcome(source=source, result=IntakeResult(received=0), note="nothing to do")
    # Stored alerts keep no secret (docs/security.md): redacted before they are grouped.
    alerts = [_redacted(alert) for alert in alerts]
    with database.transaction() as session:
        result = ingest(session=session, clock=clock, config=config, source=source, alerts=alerts)
    return HookOutcome(source=source, result=result)
