"""The postmortem draft: facts, durations, timeline, deploys before, alerts."""

from __future__ import annotations

from datetime import timedelta

from tests.workflows.incidents.conftest import declare_one
from workflows.clock import FakeClock
from workflows.config.models import ShipbotConfig
from workflows.deploys.directory import NoDirectory
from workflows.deploys.models import Deploy
from workflows.incidents import changes, queries
from workflows.incidents.postmortem import format_duration, postmortem_markdown
from workflows.store.db import Database


def _deploy(
    service: str, version: str, at_offset: timedelta, clock: FakeClock, **kw: str
) -> Deploy:
    return Deploy(
        service=service,
        environment=kw.get("environment", "production"),
        version=version,
        state=kw.get("state", "succeeded"),
        requested_by="U0ALICE",
        requested_at=clock.now() + at_offset,
        started_at=None if kw.get("ran") == "no" else clock.now() + at_offset,
        updated_at=clock.now() + at_offset,
        logs_url=kw.get("logs_url"),
    )


def test_format_duration() -> None:
    assert format_duration(timedelta(seconds=12)) == "12s"
    assert format_duration(timedelta(minutes=4, seconds=10)) == "4m 10s"
    assert format_duration(timedelta(hours=1, minutes=5, seconds=9)) == "1h 5m"
    assert format_duration(timedelta(days=1, hours=2)) == "1d 2h"
    assert format_duration(timedelta(0)) == "0s"


def test_postmortem_markdown(database: Database, clock: FakeClock, config: ShipbotConfig) -> None:
    with database.transaction() as session:
        session.add(_deploy("web", "1.4.2", -timedelta(hours=1), clock, logs_url="https://ci/42"))
        session.add(_deploy("web", "1.4.0", -timedelta(hours=7), clock))  # too early
        session.add(_deploy("api", "9.9.9", -timedelta(minutes=5), clock))  # another service
        session.add(_deploy("web", "1.4.1", -timedelta(hours=2), clock, state="rolled_back"))
        for state in ("rejected", "awaiting_approval", "expired"):  # never ran
            session.add(_deploy("web", "6.6.6", -timedelta(hours=3), clock, state=state, ran="no"))
    declared = declare_one(database, clock, config)
    incident_id = declared.id or 0
    clock.advance(minutes=5)
    with database.transaction() as session:
        queries.add_timeline_event(
            session=session,
            clock=clock,
            incident_id=incident_id,
            actor="alertmanager",
            kind="alert",
            text="HighErrorRate firing for web",
        )
        changes.update_status(
            directory=NoDirectory(),
            session=session,
            clock=clock,
            config=config,
            actor="U0BOB",
            incident_id=incident_id,
            status="identified",
            message="bad cache | config",
        )
    clock.advance(hours=1)
    with database.transaction() as session:
        changes.resolve(
            directory=NoDirectory(),
            session=session,
            clock=clock,
            config=config,
            actor="U0ALICE",  # the commander: resolving lifts the deploy block
            incident_id=incident_id,
            summary="cache config reverted",
        )
        markdown = postmortem_markdown(session=session, config=config, incident_id=incident_id)

    assert markdown.startswith(f"# Postmortem draft: Checkout errors (incident #{incident_id})")
    assert "| Time to acknowledge | 5m |" in markdown
    assert "| Time to resolve | 1h 5m |" in markdown
    assert "| Commander | Alice (developer) |" in markdown
    assert "## Summary\n\ncache config reverted" in markdown
    assert "— bob — status: bad cache | config" in markdown
    assert "## Deploys to web in the 6 hours before the declaration" in markdown
    assert "| 1.4.2 | succeeded | Alice (developer) | [logs](https://ci/42) |" in markdown
    assert "| 1.4.1 | rolled back | Alice (developer) |" in markdown
    assert "1.4.0" not in markdown and "9.9.9" not in markdown and "6.6.6" not in markdown
    alerts = markdown.split("## Alerts", 1)[1].split("##", 1)[0]
    assert "alertmanager — alert: HighErrorRate firing for web" in alerts
    assert "## Action items" in markdown
