"""Bearer tokens, HMAC signatures (with rotation) and PagerDuty v3 signatures."""

from __future__ import annotations

import pytest

from tests.workflows.alerts import samples
from workflows.alerts.auth import authenticate, hmac_hex
from workflows.alerts.model import Unauthorized
from workflows.config import AlertSource

BODY = b'{"id": "a", "status": "firing"}'


def _source(**fields: object) -> AlertSource:
    return AlertSource.model_validate(fields)


def _passes(source: AlertSource, headers: dict[str, str], body: bytes = BODY) -> bool:
    try:
        authenticate(source, body, {name.lower(): value for name, value in headers.items()})
    except Unauthorized:
        return False
    return True


def test_bearer_token() -> None:
    token = samples.secret("bearer")
    source = _source(auth="bearer", token=token)
    assert _passes(source, {"Authorization": f"Bearer {token}"})
    assert _passes(source, {"Authorization": f"bearer  {token} "})
    assert not _passes(source, {"Authorization": f"Bearer {token}x"})
    assert not _passes(source, {"Authorization": token})  # the scheme is required
    assert not _passes(source, {"Authorization": f"Basic {token}"})
    assert not _passes(source, {})
    assert not _passes(source, {"Authorization": "Bearer "})


def test_bearer_token_in_a_configured_header() -> None:
    token = samples.secret("bearer")
    source = _source(auth="bearer", token=token, header="X-Auth-Token")
    assert _passes(source, {"X-Auth-Token": token})
    assert _passes(source, {"X-Auth-Token": f"Bearer {token}"})
    assert not _passes(source, {"Authorization": f"Bearer {token}"})


def test_hmac_over_the_raw_body_with_every_rotation_secret() -> None:
    new, old = samples.secret("new"), samples.secret("old")
    source = _source(auth="hmac", secrets=[new, old])
    assert _passes(source, {"X-Shipbot-Signature": f"sha256={hmac_hex(new, BODY)}"})
    assert _passes(source, {"X-Shipbot-Signature": hmac_hex(old, BODY)})  # bare hex too
    assert _passes(source, {"X-Shipbot-Signature": hmac_hex(old, BODY).upper()})
    assert not _passes(source, {"X-Shipbot-Signature": hmac_hex(samples.secret("x"), BODY)})
    # The signature covers the exact bytes: re-serialised JSON does not pass.
    assert not _passes(
        source, {"X-Shipbot-Signature": hmac_hex(new, BODY)}, body=BODY.replace(b" ", b"")
    )
    assert not _passes(source, {})


def test_hmac_header_is_configurable_and_secret_comes_first() -> None:
    one = samples.secret("one")
    source = _source(auth="hmac", secret=one, header="X-Signature")
    assert _passes(source, {"X-Signature": f"sha256={hmac_hex(one, BODY)}"})
    assert not _passes(source, {"X-Shipbot-Signature": f"sha256={hmac_hex(one, BODY)}"})


def test_pagerduty_signatures_any_secret_any_signature() -> None:
    new, old = samples.secret("pd-new"), samples.secret("pd-old")
    source = _source(auth="pagerduty", secrets=[new, old])
    unknown = samples.secret("pd-unknown")
    # PagerDuty lists one signature per secret it signs with while it rotates.
    header = samples.pagerduty_signature(BODY, unknown, old)
    assert _passes(source, {"X-PagerDuty-Signature": header})
    assert _passes(source, {"X-PagerDuty-Signature": samples.pagerduty_signature(BODY, new)})
    assert not _passes(
        source, {"X-PagerDuty-Signature": samples.pagerduty_signature(BODY, unknown)}
    )
    assert not _passes(source, {"X-PagerDuty-Signature": hmac_hex(new, BODY)})  # no v1=
    assert not _passes(source, {"X-PagerDuty-Signature": "v1="})
    assert not _passes(source, {})


@pytest.mark.parametrize("header", ["v1=zz", "v1=,v1=", "garbage", "v1=" + "0" * 64])
def test_pagerduty_malformed_signatures_fail(header: str) -> None:
    source = _source(auth="pagerduty", secret=samples.secret("pd"))
    assert not _passes(source, {"X-PagerDuty-Signature": header})
