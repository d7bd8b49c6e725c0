"""A published GitHub release: one announcement in its service's channel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col

from workflows import audit
from workflows.alerts.model import BadPayload
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.external.common import required, service_channel, text, timestamp
from workflows.external.models import ExternalRelease
from workflows.external.views import release_view
from workflows.store.upsert import insert_or_ignore
from workflows.views import request_render


def get_release(*, session: Session, release_id: int) -> ExternalRelease | None:
    return session.get(ExternalRelease, release_id)


def announce(
    *,
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    service: str,
    repository: str,
    payload: Any,
) -> str:
    """Store the release once (by GitHub's id) and ask for its announcement."""
    release = payload.get("release")
    if not isinstance(release, Mapping):
        raise BadPayload("release is missing")
    channel = service_channel(config, service) or ""
    statement = (
        insert_or_ignore(session, ExternalRelease, key=["repository", "release_id"])
        .values(
            service=service,
            repository=repository,
            release_id=required(release, "id"),
            tag=required(release, "tag_name"),
            name=text(release, "name"),
            url=text(release, "html_url"),
            author=text(release, "author", "login"),
            prerelease=release.get("prerelease") is True,
            channel=channel,
            published_at=timestamp(text(release, "published_at")) or clock.now(),
        )
        .returning(col(ExternalRelease.id))
    )
    inserted = session.execute(statement).first()
    if inserted is None:
        return "already announced"
    row_id = int(inserted[0])
    audit.record(
        session=session,
        clock=clock,
        actor="hook:github",
        action="release.published",
        target=f"release:{row_id}",
        params={"repository": repository, "tag": text(release, "tag_name")},
    )
    if channel:
        request_render(session=session, clock=clock, view_key=release_view(row_id), channel=channel)
    return "announced"
