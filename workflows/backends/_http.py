"""What the HTTP backends share: sorting answers into permanent and transient trouble.

A refusal a person must fix (bad credentials, unknown repository, a rejected payload) is a
``BackendError`` whose message carries the status and a short, redacted excerpt of the
body. Trouble that may pass by itself (5xx, 408, 429, a rate limit) is a
``TransientBackendError`` so the flow retries; httpx timeouts and connection errors are
left to propagate for the same reason.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx

from workflows.backends.base import BackendError, TransientBackendError
from workflows.redact import redact_text

EXCERPT_CHARS = 200
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


def excerpt(response: httpx.Response) -> str:
    """The start of the response body on one line, redacted (for error messages)."""
    try:
        text = response.text
    except (UnicodeDecodeError, httpx.ResponseNotRead):
        return ""
    text = " ".join(text.split())
    if len(text) > EXCERPT_CHARS:
        text = text[:EXCERPT_CHARS] + "…"
    return redact_text(text)


def _rate_limited(response: httpx.Response) -> bool:
    # GitHub answers an exhausted rate limit with 403 (not 429) and these headers.
    return response.status_code == 403 and (
        response.headers.get("x-ratelimit-remaining") == "0" or "retry-after" in response.headers
    )


def check(response: httpx.Response, *, what: str) -> None:
    """Raise unless ``response`` is a 2xx; ``what`` names the call ("GitHub dispatch")."""
    status = response.status_code
    if 200 <= status < 300:
        return
    body = excerpt(response)
    message = f"{what}: HTTP {status}" + (f": {body}" if body else "")
    if status >= 500 or status in _TRANSIENT_STATUSES or _rate_limited(response):
        raise TransientBackendError(message)
    raise BackendError(message)


def json_object(response: httpx.Response, *, what: str) -> dict[str, Any]:
    """The response body as a JSON object; a 2xx with garbage is the server's bug, shown."""
    try:
        value = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BackendError(f"{what}: expected a JSON object, got: {excerpt(response)}") from None
    if not isinstance(value, dict):
        raise BackendError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def optional_json_object(response: httpx.Response) -> dict[str, Any]:
    """The body as a JSON object if it is one, else ``{}`` (for optional response data)."""
    try:
        value = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def parse_timestamp(value: object) -> datetime | None:
    """An RFC 3339 timestamp (``2026-01-05T09:00:00Z``) as an aware datetime, else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
