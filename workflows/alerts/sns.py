"""Amazon SNS HTTP(S) delivery of CloudWatch alarms.

Every message is verified before anything in it is believed: the signing certificate is
fetched (through an injectable fetcher, and cached) only from
``https://sns.<region>.amazonaws.com/....pem``, whose TLS certificate vouches for it, and
the ``Signature`` is checked over the canonical string of the message's fields
(SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA), as AWS documents.

A ``SubscriptionConfirmation`` is answered by GETting its ``SubscribeURL`` (only an
``https://sns.<region>.amazonaws.com/`` one) from a job, so the request is acknowledged
at once and a failed GET is retried. A ``Notification`` carries a CloudWatch alarm as
JSON in ``Message``: ALARM is firing, OK resolved, INSUFFICIENT_DATA ignored.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from workflows import boundary
from workflows.alerts.model import (
    MAX_SUMMARY,
    BadPayload,
    NormalizedAlert,
    Unauthorized,
    as_object,
    as_text,
    clip,
    parse_time,
)
from workflows.jobs import JobContext, JobHandler, PermanentJobError

if TYPE_CHECKING:  # cryptography is imported when a message is verified, not at start:
    from cryptography import x509  # its X.509 module alone adds 35 ms to `shipbot serve`

Fetcher = Callable[[str], bytes]
"""GETs an https URL and returns the body; raises on any failure."""

CONFIRM_JOB_KIND = "alerts.sns_confirm_subscription"
_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com$")
_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_HASHES = {"1": "SHA1", "2": "SHA256"}  # SignatureVersion: cryptography's hash class
MESSAGE_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")


def is_sns_url(url: str, *, pem: bool = False) -> bool:
    """An ``https://sns.<region>.amazonaws.com/`` URL (no port, no user); with ``pem``, a
    path ending in ``.pem`` and no query."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "https" or port is not None or "@" in parts.netloc:
        return False
    if not _SNS_HOST.match(parts.hostname or "") or parts.fragment:
        return False
    return not pem or (parts.path.endswith(".pem") and not parts.query)


def string_to_sign(message: dict[str, Any]) -> bytes:
    """The canonical ``Name\\nvalue\\n`` string SNS signs, fields in AWS's order."""
    kind = message.get("Type")
    names = _NOTIFICATION_FIELDS if kind == "Notification" else _CONFIRMATION_FIELDS
    lines: list[str] = []
    for name in names:
        value = message.get(name)
        if value is None:
            if name == "Subject":
                continue  # only Subject is optional
            raise Unauthorized(f"SNS message without {name}")
        lines += [name, str(value)]
    return ("\n".join(lines) + "\n").encode()


class SigningCerts:
    """Signing certificates by URL, fetched once: a storm of notifications does not fetch
    the same certificate ten thousand times. Thread-safe; a handful of entries."""

    def __init__(self, fetch: Fetcher, *, max_entries: int = 16) -> None:
        self._fetch = fetch
        self._max = max_entries
        self._certs: dict[str, x509.Certificate] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> x509.Certificate:
        with self._lock:
            cert = self._certs.get(url)
        if cert is not None:
            return cert
        from cryptography import x509

        try:
            cert = x509.load_pem_x509_certificate(self._fetch(url))
        except Exception as error:  # any fetch or parse failure: not verifiable
            raise Unauthorized(f"cannot load the SNS signing certificate: {error}") from None
        with self._lock:
            if len(self._certs) >= self._max:
                self._certs.pop(next(iter(self._certs)))
            self._certs[url] = cert
        return cert


@dataclass(frozen=True)
class SnsMessage:
    """A verified SNS envelope."""

    type: str
    message_id: str
    topic_arn: str
    message: str
    subscribe_url: str | None
    subject: str | None


def _check_signature(
    cert: x509.Certificate, signature: bytes, canonical: bytes, *, hash_name: str, now: datetime
) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise Unauthorized("the SNS signing certificate is not valid now")
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise Unauthorized("the SNS signing certificate has no RSA key")
    try:
        public_key.verify(signature, canonical, padding.PKCS1v15(), getattr(hashes, hash_name)())
    except InvalidSignature:
        raise Unauthorized("the SNS message signature does not verify") from None


def verify_message(
    body: Any,
    *,
    certs: SigningCerts,
    now: datetime,
    topics: Collection[str] = (),
) -> SnsMessage:
    """Check an SNS envelope's signature and return it; ``Unauthorized`` if it does not
    verify, ``BadPayload`` if it is not an SNS message at all. ``topics``, when given,
    are the only TopicArns accepted."""
    envelope = as_object(body, "the SNS message")
    kind = envelope.get("Type")
    if kind not in MESSAGE_TYPES:
        raise BadPayload(f"unknown SNS message Type {kind!r}")
    version = str(envelope.get("SignatureVersion") or "")
    hash_name = _HASHES.get(version)
    if hash_name is None:
        raise Unauthorized(f"unsupported SNS SignatureVersion {version!r}")
    cert_url = envelope.get("SigningCertURL")
    if not isinstance(cert_url, str) or not is_sns_url(cert_url, pem=True):
        raise Unauthorized("SigningCertURL is not an https://sns.<region>.amazonaws.com/ .pem")
    try:
        signature = base64.b64decode(str(envelope.get("Signature") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise Unauthorized("the SNS Signature is not base64") from None
    canonical = string_to_sign(envelope)
    cert = certs.get(cert_url)
    _check_signature(cert, signature, canonical, hash_name=hash_name, now=now)
    topic_arn = str(envelope["TopicArn"])
    if topics and topic_arn not in topics:
        raise Unauthorized(f"topic {topic_arn} is not accepted by this endpoint")
    subscribe_url = envelope.get("SubscribeURL")
    subject = envelope.get("Subject")
    return SnsMessage(
        type=str(kind),
        message_id=as_text(envelope["MessageId"], "MessageId", limit=256),
        topic_arn=topic_arn,
        message=str(envelope["Message"]),
        subscribe_url=str(subscribe_url) if subscribe_url is not None else None,
        subject=str(subject) if subject is not None else None,
    )


_ALARM_STATES = {"ALARM": "firing", "OK": "resolved"}


def parse_cloudwatch_alarm(message: SnsMessage) -> list[NormalizedAlert]:
    """The CloudWatch alarm in a verified ``Notification``; none for INSUFFICIENT_DATA.
    Labels: ``alertname`` (AlarmName), the metric's dimensions, ``namespace``,
    ``metric``, ``region``, ``account``. Deduplicated by the SNS MessageId."""
    try:
        alarm = boundary.decode_json(message.message)
    except boundary.InputRejected as refused:
        reason = "not JSON" if "not valid JSON" in refused.message else refused.message
        raise BadPayload(f"the SNS Message is not a CloudWatch alarm ({reason})") from None
    alarm = as_object(alarm, "the CloudWatch alarm")
    name = as_text(alarm.get("AlarmName"), "AlarmName", limit=255, required=True)
    state = as_text(alarm.get("NewStateValue"), "NewStateValue", required=True)
    if state not in (*_ALARM_STATES, "INSUFFICIENT_DATA"):
        raise BadPayload(f"unknown NewStateValue {state!r}")
    if state == "INSUFFICIENT_DATA":
        return []
    trigger = found if isinstance(found := alarm.get("Trigger"), dict) else {}
    labels: dict[str, str] = {}
    for dimension in trigger.get("Dimensions") or []:
        if isinstance(dimension, dict) and dimension.get("name") and "value" in dimension:
            labels[clip(str(dimension["name"]), 100)] = as_text(dimension["value"], "dimension")
    labels.update(
        {
            "alertname": name,
            "namespace": as_text(trigger.get("Namespace"), "Trigger.Namespace"),
            "metric": as_text(trigger.get("MetricName"), "Trigger.MetricName"),
            "region": as_text(alarm.get("Region"), "Region"),
            "account": as_text(alarm.get("AWSAccountId"), "AWSAccountId"),
        }
    )
    reason = as_text(alarm.get("NewStateReason"), "NewStateReason", limit=MAX_SUMMARY)
    description = as_text(alarm.get("AlarmDescription"), "AlarmDescription", limit=MAX_SUMMARY)
    arn = as_text(alarm.get("AlarmArn"), "AlarmArn", limit=256)
    return [
        NormalizedAlert(
            source="sns",
            dedup_key=f"sns:{message.message_id}",
            alert_ref=arn or f"{labels['account']}/{labels['region']}/{name}",
            status="firing" if state == "ALARM" else "resolved",
            labels={key: value for key, value in labels.items() if value},
            summary=description or reason,
            starts_at=parse_time(alarm.get("StateChangeTime")),
        )
    ]


def make_confirm_handler(fetch: Fetcher) -> JobHandler:
    """The job that confirms a subscription: GET its SubscribeURL (retried on failure)."""

    def confirm(context: JobContext) -> None:
        url = context.job.payload.get("subscribe_url")
        if not isinstance(url, str) or not is_sns_url(url):
            raise PermanentJobError(f"refusing to confirm through {url!r}: not an SNS URL")
        fetch(url)

    return confirm


_FETCH_LIMIT = 64 * 1024  # a PEM certificate or an SNS confirmation answer is far smaller


def https_get(url: str) -> bytes:
    """The production fetcher for SNS certificates and SubscribeURLs: TLS-verified GET,
    no redirects, 5 s timeout, a bounded body. Raises on anything but 200."""
    with (
        httpx.Client(timeout=5.0, follow_redirects=False) as client,
        client.stream("GET", url) as response,
    ):
        response.raise_for_status()
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > _FETCH_LIMIT:
                raise ValueError(f"{url} answered more than {_FETCH_LIMIT} bytes")
        return body
