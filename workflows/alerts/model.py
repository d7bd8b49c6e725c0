"""The normalized alert every source is parsed into, and the ways a webhook is refused."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

AlertStatus = Literal["firing", "resolved", "acknowledged"]
SOURCES: tuple[str, ...] = ("alertmanager", "grafana", "sns", "pagerduty", "generic")
UNKNOWN_SERVICE = "unknown"
UNNAMED_ALERT = "unnamed"
MAX_SUMMARY = 1000
MAX_LABEL = 500
MAX_REF = 256


class HookRejected(Exception):
    """A webhook request refused before it changed anything; ``status`` is the HTTP answer."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownSource(HookRejected):
    """Not a source, or a source the config does not list."""

    status = 404


class Unauthorized(HookRejected):
    """Missing or wrong token or signature."""

    status = 401


class BadPayload(HookRejected):
    """Not JSON, or not the shape the source sends."""

    status = 400


@dataclass(frozen=True)
class NormalizedAlert:
    """One alert notification, whatever sent it.

    ``dedup_key`` identifies this notification (a redelivery has the same one);
    ``alert_ref`` identifies the alert across its notifications (firing, then resolved).
    """

    source: str
    dedup_key: str
    alert_ref: str
    status: AlertStatus
    labels: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    url: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    @property
    def service(self) -> str:
        """Label ``service``, else ``job``, else ``"unknown"``."""
        return self.labels.get("service") or self.labels.get("job") or UNKNOWN_SERVICE

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname") or UNNAMED_ALERT

    @property
    def base_key(self) -> str:
        """What groups alerts: service and alert name."""
        return f"{self.service}/{self.alertname}"

    def match_labels(self) -> dict[str, str]:
        """The labels routes and auto-declare match: the alert's own, plus ``service`` when
        it came from ``job`` (so ``match: {service: web}`` sees a ``job=web`` alert)."""
        if "service" in self.labels or self.service == UNKNOWN_SERVICE:
            return self.labels
        return {**self.labels, "service": self.service}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def as_text(value: Any, what: str, *, limit: int = MAX_LABEL, required: bool = False) -> str:
    """A string field of a payload (numbers and booleans are accepted and written out)."""
    if value is None:
        if required:
            raise BadPayload(f"{what} is missing")
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return clip(str(value), limit)
    raise BadPayload(f"{what} must be a string")


def as_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadPayload(f"{what} must be a JSON object")
    return value


def as_labels(value: Any, what: str) -> dict[str, str]:
    """A flat ``{name: value}`` map; missing means none."""
    if value is None:
        return {}
    labels = as_object(value, what)
    return {
        clip(str(name), 100): as_text(item, f"{what}.{name}")
        for name, item in labels.items()
        if item is not None
    }


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time as sent by Alertmanager, Grafana, CloudWatch or PagerDuty; the
    zero time (``0001-01-01T00:00:00Z``, "not set") and anything unparsable are None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC) if parsed.year > 1970 else None
