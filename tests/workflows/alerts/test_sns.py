"""SNS message signatures (v1 SHA1, v2 SHA256) against a certificate we generated and
signed with ourselves; certificate and subscribe URLs only from SNS hosts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.workflows.alerts import samples
from workflows.alerts.model import BadPayload, Unauthorized
from workflows.alerts.sns import (
    SigningCerts,
    is_sns_url,
    parse_cloudwatch_alarm,
    string_to_sign,
    verify_message,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _verify(message: dict[str, Any], **options: Any) -> Any:
    fetched: list[str] = []
    certs = SigningCerts(samples.sns_cert_fetcher(fetched))
    return verify_message(message, certs=certs, now=NOW, **options), fetched


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_notification_verifies_and_carries_the_alarm(version: str) -> None:
    unsigned = {k: v for k, v in samples.sns_notification().items() if k != "Signature"}
    message, fetched = _verify(samples.sign_sns(unsigned, version=version))
    assert fetched == [samples.CERT_URL]
    assert message.type == "Notification"
    assert message.topic_arn == samples.TOPIC

    (alert,) = parse_cloudwatch_alarm(message)
    assert alert.source == "sns"
    assert alert.status == "firing"
    assert alert.dedup_key == "sns:95df01b4-ee98-5cb9-9903-4c221d41eb5e"
    assert alert.alertname == "web-5xx-high"
    assert alert.service == "web"  # from the metric's dimensions
    assert alert.labels["LoadBalancer"] == "app/web/50dc6c495c0c9188"
    assert alert.labels["namespace"] == "AWS/ApplicationELB"
    assert alert.alert_ref.endswith(":alarm:web-5xx-high")
    assert alert.summary == "5xx rate of the web ALB is above 5%"
    assert alert.starts_at == datetime(2026, 1, 5, 8, 59, 27, 123000, tzinfo=UTC)


def test_ok_is_resolved_and_insufficient_data_is_ignored() -> None:
    ok, _ = _verify(samples.sns_notification(samples.cloudwatch_alarm("OK"), message_id="m2"))
    assert [a.status for a in parse_cloudwatch_alarm(ok)] == ["resolved"]
    unknown, _ = _verify(
        samples.sns_notification(samples.cloudwatch_alarm("INSUFFICIENT_DATA"), message_id="m3")
    )
    assert parse_cloudwatch_alarm(unknown) == []


def test_the_canonical_string_follows_aws_field_order() -> None:
    notification = {"Type": "Notification", "MessageId": "m", "Message": "hi", "Timestamp": "t",
                    "TopicArn": "arn"}  # fmt: skip
    assert string_to_sign(notification) == (
        b"Message\nhi\nMessageId\nm\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n"
    )
    with_subject = string_to_sign({**notification, "Subject": "s"})
    assert b"MessageId\nm\nSubject\ns\nTimestamp" in with_subject
    confirmation = samples.sns_subscription_confirmation()
    canonical = string_to_sign(confirmation).decode()
    order = [line for line in canonical.split("\n")[::2] if line]
    assert order == ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn",
                     "Type"]  # fmt: skip


def test_a_tampered_message_does_not_verify() -> None:
    message = samples.sns_notification()
    message["Message"] = json.dumps(samples.cloudwatch_alarm("OK"))
    with pytest.raises(Unauthorized, match="does not verify"):
        _verify(message)


@pytest.mark.parametrize(
    "cert_url",
    [
        "http://sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com/cert.txt",
        "https://sns.eu-west-1.amazonaws.com:8443/cert.pem",
        "https://user@sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com/cert.pem?x=1",
    ],
)
def test_certificates_come_only_from_sns_hosts(cert_url: str) -> None:
    message = {**samples.sns_notification(), "SigningCertURL": cert_url}
    with pytest.raises(Unauthorized, match="SigningCertURL"):
        _verify(message)


@pytest.mark.parametrize(
    ("change", "error", "fragment"),
    [
        ({"SignatureVersion": "3"}, Unauthorized, "SignatureVersion"),
        ({"Signature": "not base64!"}, Unauthorized, "base64"),
        ({"MessageId": None}, Unauthorized, "without MessageId"),
        ({"Type": "Other"}, BadPayload, "unknown SNS message Type"),
    ],
)
def test_malformed_envelopes_are_refused(
    change: dict[str, Any], error: type, fragment: str
) -> None:
    message = {**samples.sns_notification(), **change}
    with pytest.raises(error, match=fragment):
        _verify(message)


def test_topics_restrict_which_topics_are_accepted() -> None:
    message, _ = _verify(samples.sns_notification(), topics=[samples.TOPIC])
    assert message.topic_arn == samples.TOPIC
    with pytest.raises(Unauthorized, match="not accepted"):
        _verify(samples.sns_notification(), topics=["arn:aws:sns:eu-west-1:1:other"])


def test_a_certificate_is_fetched_once_and_a_failed_fetch_is_unauthorized() -> None:
    fetched: list[str] = []
    certs = SigningCerts(samples.sns_cert_fetcher(fetched))
    for message_id in ("a", "b", "c"):
        verify_message(samples.sns_notification(message_id=message_id), certs=certs, now=NOW)
    assert fetched == [samples.CERT_URL]

    def broken(url: str) -> bytes:
        raise OSError("connection refused")

    with pytest.raises(Unauthorized, match="cannot load"):
        verify_message(samples.sns_notification(), certs=SigningCerts(broken), now=NOW)


def test_a_certificate_outside_its_validity_is_refused() -> None:
    certs = SigningCerts(samples.sns_cert_fetcher())
    with pytest.raises(Unauthorized, match="not valid now"):
        verify_message(
            samples.sns_notification(), certs=certs, now=datetime(2019, 1, 1, tzinfo=UTC)
        )


def test_sns_urls() -> None:
    assert is_sns_url("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&x=1")
    assert not is_sns_url("https://sns.us-east-1.amazonaws.com/?Action=x", pem=True)
    assert not is_sns_url("https://sqs.us-east-1.amazonaws.com/")
    assert not is_sns_url("https://[::1/")


def test_a_notification_that_is_not_a_cloudwatch_alarm_is_a_bad_payload() -> None:
    message, _ = _verify(samples.sign_sns({**samples.sns_notification(), "Message": "hello"}))
    with pytest.raises(BadPayload, match="not JSON"):
        parse_cloudwatch_alarm(message)
