"""What every outside source shares: which service an event is about, where its messages
go, the incident open on it, and reading fields out of a webhook's JSON."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from workflows import boundary
from workflows.alerts.auth import hmac_hex
from workflows.alerts.model import BadPayload, UnknownSource
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.incidents.watch import open_incidents_for_service
from workflows.views import request_render

MAX_FIELD = 500  # characters kept of any text an outside system sends


def require_config(config: ShipbotConfig | None, source: str) -> ShipbotConfig:
    """The config, if ``hooks.<source>`` is set up; else ``UnknownSource`` (404)."""
    if config is None or getattr(config.hooks, source, None) is None:
        raise UnknownSource(f"no {source} hook is configured")
    return config


def service_for_repository(config: ShipbotConfig, repository: str) -> str | None:
    """The service mapped to a GitHub ``owner/name`` (case-insensitive, as GitHub is)."""
    wanted = repository.lower()
    for name, service in config.services.items():
        mapped = service.github_repository()
        if mapped is not None and mapped.lower() == wanted:
            return name
    return None


def service_for_application(config: ShipbotConfig, application: str) -> tuple[str, str] | None:
    """``(service, environment)`` of an Argo CD application, if one maps it."""
    for name, service in config.services.items():
        if application in service.argocd_applications:
            return name, service.argocd_applications[application]
    return None


def service_channel(config: ShipbotConfig, service: str) -> str | None:
    """Where a service's CI, release and external deploy messages go: its ``channel``,
    else its ``alerts_channel``, else the deploys channel, else nowhere."""
    settings = config.services[service]
    ref = settings.channel or settings.alerts_channel
    if ref is not None:
        return config.find_channel_id(ref)
    return config.channels.get("deploys")


def show_in_channels(
    *,
    session: Session,
    clock: Clock,
    service: str,
    channel: str | None,
    view_key: Callable[[int | None], str],
) -> None:
    """Ask for the message in ``channel`` (view ``view_key(None)``) and in each open
    incident's channel on ``service`` (view ``view_key(incident id)``)."""
    if channel:
        request_render(session=session, clock=clock, view_key=view_key(None), channel=channel)
    for incident in open_incidents_for_service(session=session, service=service):
        if incident.id is None or not incident.channel_id:
            continue  # no channel yet: the message would have nowhere to go
        key = view_key(incident.id)
        request_render(session=session, clock=clock, view_key=key, channel=incident.channel_id)


def text(payload: Any, *path: str, default: str = "") -> str:
    """The string at ``path`` in nested objects, bounded; ``default`` when absent. A
    number is read as its decimal text; anything else there is a ``BadPayload``."""
    value = payload
    for key in path:
        if not isinstance(value, Mapping):
            return default
        value = value.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadPayload(f"{'.'.join(path)} is not a string")
    return boundary.clean_text(str(value))[:MAX_FIELD]


def required(payload: Any, *path: str) -> str:
    found = text(payload, *path)
    if not found:
        raise BadPayload(f"{'.'.join(path)} is missing")
    return found


def timestamp(value: str) -> datetime | None:
    """An ISO 8601 time as sent by GitHub or Argo CD (UTC when no offset); None if blank
    or not a time."""
    if not value or value.startswith("0001-01-01"):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def body_key(source: str, body: bytes) -> str:
    """A delivery key for a source that sends no delivery id: the body's hash, so the
    same notification sent twice is one delivery."""
    return f"{source}:sha256:{hashlib.sha256(body).hexdigest()}"


def signature_matches(secrets: list[str], body: bytes, signature: str) -> bool:
    """Whether any secret's HMAC-SHA256 of ``body`` is ``signature`` (hex). Every secret
    is tried, constant-time, so the timing tells nothing about which one matched."""
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(signature.lower().encode(), hmac_hex(secret, body).encode())
    return matched
