"""Slack's ``v0`` request signature, computed over the raw bytes.

``v0=hex(HMAC-SHA256(signing_secret, "v0:{timestamp}:{body}"))``, with the timestamp sent
alongside so a request older than five minutes (a replay) is refused. The raw bytes are
signed, so nothing is decoded before the signature is known to be good.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
MAX_AGE_SECONDS = 5 * 60


def signature(body: bytes, *, signing_secret: str, timestamp: int) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def is_valid_signature(
    body: bytes, headers: Mapping[str, str], *, signing_secret: str, now: float
) -> bool:
    """``headers`` with lower-case names, as ASGI servers give them."""
    timestamp = headers.get(TIMESTAMP_HEADER.lower(), "")
    given = headers.get(SIGNATURE_HEADER.lower(), "")
    if not timestamp.isdigit() or not given:
        return False
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return False
    expected = signature(body, signing_secret=signing_secret, timestamp=int(timestamp))
    return hmac.compare_digest(expected.encode(), given.encode())
