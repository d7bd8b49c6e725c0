"""The HTTP trouble every provider shares, sorted into ``ProviderError``s once."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx

from workflows.oncall.base import ProviderError


def client(*, base_url: str, headers: dict[str, str], timeout: timedelta) -> httpx.Client:
    """An httpx client with one timeout for connecting, reading and writing."""
    return httpx.Client(
        base_url=base_url, headers=headers, timeout=httpx.Timeout(timeout.total_seconds())
    )


def request_json(
    http: httpx.Client, provider: str, method: str, path: str, **arguments: Any
) -> dict[str, Any]:
    """``method path`` as a JSON object; every failure a ``ProviderError``."""
    try:
        response = http.request(method, path, **arguments)
    except httpx.TimeoutException:
        raise ProviderError(provider, "timeout") from None
    except httpx.HTTPError as error:
        raise ProviderError(provider, "unreachable", type(error).__name__) from None
    status = response.status_code
    if status in (401, 403):
        raise ProviderError(provider, "unauthorized", f"HTTP {status}")
    if status == 429 or status >= 500:
        raise ProviderError(provider, "server_error", f"HTTP {status}")
    if not 200 <= status < 300:
        raise ProviderError(provider, "refused", f"HTTP {status}")
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProviderError(provider, "bad_answer", "not JSON") from None
    if not isinstance(body, dict):
        raise ProviderError(provider, "bad_answer", "not a JSON object")
    return body


def timestamp(value: object) -> datetime | None:
    """An RFC 3339 time as an aware datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
