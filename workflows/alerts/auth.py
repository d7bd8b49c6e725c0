"""Authenticating a webhook before its body is parsed: bearer tokens, HMAC signatures over
the raw body (any configured secret passes, for rotation), PagerDuty v3 signatures.

Every comparison is constant-time (``hmac.compare_digest``) and every secret is tried,
so neither the answer's timing nor which secret matched tells an attacker anything.
``headers`` are lower-cased names.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from workflows.alerts.model import Unauthorized
from workflows.config import AlertSource

DEFAULT_HMAC_HEADER = "X-Shipbot-Signature"
PAGERDUTY_HEADER = "X-PagerDuty-Signature"


def _header(headers: Mapping[str, str], name: str) -> str:
    return headers.get(name.lower(), "").strip()


def check_bearer(source: AlertSource, headers: Mapping[str, str]) -> None:
    """``Authorization: Bearer <token>``, or the raw token (``Bearer`` optional) in
    ``source.header`` when one is configured."""
    if source.token is None:
        raise Unauthorized("this source has no token configured")
    presented = _header(headers, source.header or "Authorization")
    scheme, _, rest = presented.partition(" ")
    if scheme.lower() == "bearer":
        presented = rest.strip()
    elif source.header is None:
        presented = ""  # Authorization needs the Bearer scheme
    expected = source.token.get_secret_value().encode()
    if not presented or not hmac.compare_digest(presented.encode(), expected):
        raise Unauthorized("missing or wrong bearer token")


def hmac_hex(secret: str, body: bytes) -> str:
    """HMAC-SHA256 of ``body`` with ``secret``, lower-case hex."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _any_matches(secrets: list[str], body: bytes, signatures: list[str]) -> bool:
    matched = False
    for secret in secrets:
        expected = hmac_hex(secret, body).encode()
        for signature in signatures:
            # No early exit: the time taken does not depend on which pair matched.
            matched |= hmac.compare_digest(signature.lower().encode(), expected)
    return matched


def check_hmac(source: AlertSource, body: bytes, headers: Mapping[str, str]) -> None:
    """``<header>: sha256=<hex>`` (or bare ``<hex>``): HMAC-SHA256 of the raw body with
    ``secret`` or any of ``secrets``. The header is ``X-Shipbot-Signature`` unless
    ``source.header`` names another."""
    presented = _header(headers, source.header or DEFAULT_HMAC_HEADER)
    signature = presented.removeprefix("sha256=").strip()
    if not signature or not _any_matches(source.all_secrets(), body, [signature]):
        raise Unauthorized("missing or wrong HMAC signature")


def check_pagerduty(source: AlertSource, body: bytes, headers: Mapping[str, str]) -> None:
    """PagerDuty v3: ``X-PagerDuty-Signature: v1=<hex>,v1=<hex>`` (several while PagerDuty
    rotates its secret); any configured secret matching any listed signature passes."""
    presented = _header(headers, source.header or PAGERDUTY_HEADER)
    signatures = [
        part.strip()[3:] for part in presented.split(",") if part.strip().startswith("v1=")
    ]
    if not signatures or not _any_matches(source.all_secrets(), body, signatures):
        raise Unauthorized("missing or wrong X-PagerDuty-Signature")


def authenticate(source: AlertSource, body: bytes, headers: Mapping[str, str]) -> None:
    """Check the request as the source's ``auth`` says; SNS signatures live in the body
    and are checked by ``workflows.alerts.sns`` instead."""
    if source.auth == "bearer":
        check_bearer(source, headers)
    elif source.auth == "hmac":
        check_hmac(source, body, headers)
    elif source.auth == "pagerduty":
        check_pagerduty(source, body, headers)
    # "sns": verified from the envelope by the caller.
