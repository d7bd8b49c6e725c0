"""Each report kind's figures against hand-computed values, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from tests.workflows.reports.datasets import (
    FIRE,
    example_config,
    seed_digest,
    seed_dora,
    seed_pending,
)
from workflows import audit
from workflows.clock import FakeClock
from workflows.reports import audit_checkpoint, deploy_digest, dora, incident_summary
from workflows.reports import pending_approvals as pending
from workflows.reports.claims import claim_run
from workflows.reports.models import RunTrigger
from workflows.reports.periods import window_before
from workflows.reports.runner import compute_figures
from workflows.store.db import Database

BERLIN = "Europe/Berlin"


def test_deploy_digest_counts_outcomes_overrides_and_the_slowest(database: Database) -> None:
    ids = seed_digest(database)
    with database.read_session() as session:
        figures = deploy_digest.compute(
            session=session, window=window_before(FIRE, days=1, timezone=BERLIN)
        )
    assert figures["window"]["start"] == "2026-01-11T08:00:00+00:00"
    assert figures["totals"] == {
        "deploys": 8,
        "succeeded": 5,
        "failed": 1,
        "cancelled": 1,
        "other": 1,
        "rollbacks": 1,
    }
    by_target = {(r["service"], r["environment"]): r for r in figures["by_target"]}
    assert set(by_target) == {("api", "production"), ("web", "production"), ("web", "staging")}
    assert by_target["api", "production"] == {
        "service": "api",
        "environment": "production",
        "deploys": 2,
        "succeeded": 2,
        "failed": 0,
        "cancelled": 0,
        "other": 0,
        "rollbacks": 1,
    }
    web = by_target["web", "production"]
    assert (web["deploys"], web["succeeded"], web["failed"], web["other"]) == (4, 2, 1, 1)
    staging = by_target["web", "staging"]
    assert (staging["deploys"], staging["succeeded"], staging["cancelled"]) == (2, 1, 1)

    assert figures["overrides"] == 2
    first, second = figures["override_list"]
    assert first["id"] == ids["d8"] and first["approvers"] == ["U0BOB", "U0CAROL"]
    assert first["reason"] == "hotfix for the outage" and first["version"] == "1.9"
    assert second["id"] == ids["d10"] and second["approvers"] == []
    assert [(s["id"], s["seconds"]) for s in figures["slowest"]] == [
        (ids["d8"], 7200.0),
        (ids["d2"], 2700.0),
        (ids["d4"], 1800.0),
        (ids["d1"], 600.0),
        (ids["d5"], 300.0),
    ]


def test_dora_metrics_for_the_week_against_the_week_before(database: Database) -> None:
    seed_dora(database)
    with database.read_session() as session:
        figures = dora.compute(
            session=session,
            config=example_config(),
            window=window_before(FIRE, days=7, timezone=BERLIN),
        )
    assert figures["production"] == "production"
    assert figures["previous_window"]["start"] == "2025-12-29T08:00:00+00:00"
    assert figures["deploys"] == {"current": 5, "previous": 3}
    assert figures["per_day_labels"] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert figures["per_day_current"] == [1, 1, 1, 1, 0, 0, 1]
    assert figures["per_day_previous"] == [1, 1, 0, 0, 0, 0, 1]
    assert figures["lead_time_seconds"] == {"current": 9000.0, "previous": 5400.0}
    assert figures["lead_time_samples"] == {"current": 4, "previous": 2}
    assert figures["failed_deploys"] == {"current": 3, "previous": 0}
    assert figures["restore_seconds"] == {"current": 3600.0, "previous": 7200.0}
    assert figures["restored_incidents"] == {"current": 3, "previous": 1}


def test_dora_says_not_available_without_commit_times_or_incidents(database: Database) -> None:
    with database.read_session() as session:
        figures = dora.compute(
            session=session,
            config=example_config(),
            window=window_before(FIRE, days=7, timezone=BERLIN),
        )
    assert figures["deploys"] == {"current": 0, "previous": 0}
    assert figures["lead_time_seconds"] == {"current": None, "previous": None}
    assert figures["restore_seconds"] == {"current": None, "previous": None}
    assert figures["per_day_current"] == [0] * 7


def test_incident_summary_severities_timings_and_open_incidents(database: Database) -> None:
    ids = seed_dora(database)
    with database.read_session() as session:
        figures = incident_summary.compute(
            session=session, window=window_before(FIRE, days=7, timezone=BERLIN)
        )
    assert figures["declared"] == 3
    assert figures["by_severity"] == {"SEV1": 1, "SEV2": 1, "SEV3": 1, "SEV4": 0}
    assert figures["acknowledge"] == {"count": 3, "median_seconds": 300.0, "mean_seconds": 340.0}
    assert figures["resolve"] == {"count": 2, "median_seconds": 2700.0, "mean_seconds": 2700.0}
    assert figures["open_count"] == 2
    oldest, newer = figures["open_incidents"]
    assert oldest["id"] == ids["i7"] and oldest["service"] is None
    assert oldest["age_seconds"] == (23 * 24 + 8) * 3600.0
    assert newer["id"] == ids["i6"] and newer["commander"] == "U0CAROL"
    assert newer["age_seconds"] == (6 * 24 + 21) * 3600.0


def test_pending_approvals_lists_waiting_deploys_and_who_to_nudge(database: Database) -> None:
    ids = seed_pending(database)
    with database.read_session() as session:
        figures = pending.compute(session=session, config=example_config(), as_of=FIRE)
    assert figures["count"] == 3
    a1, a3, a2 = figures["items"]
    assert (a1["id"], a3["id"], a2["id"]) == (ids["a1"], ids["a3"], ids["a2"])
    assert a1["age_seconds"] == 7200.0 and (a1["approvals"], a1["required"]) == (1, 2)
    assert a1["waiting_users"] == ["U0CAROL", "U0ERIN"] and not a1["anyone"]
    # the requester U0BOB cannot approve himself
    assert a2["waiting_users"] == ["U0CAROL", "U0ERIN"]
    assert a2["age_seconds"] == 1800.0 and a2["approvals"] == 0
    assert a3["anyone"] and a3["waiting_users"] == []


def _record(database: Database, clock: FakeClock, count: int) -> None:
    for n in range(count):
        with database.transaction() as session:
            audit.record(session=session, clock=clock, actor="U0ALICE", action="t", target=str(n))
        clock.advance(seconds=1)


def test_audit_checkpoint_anchors_the_head_as_of_its_claim(
    database: Database, clock: FakeClock
) -> None:
    config = example_config()
    report = next(r for r in config.reports if r.kind == "audit_checkpoint")
    _record(database, clock, 3)

    def checkpoint() -> dict[str, object]:
        with database.transaction() as session:
            run = claim_run(
                session=session,
                clock=clock,
                report=report,
                channel="C0DEPLOYS",
                fire_time=clock.now(),
                trigger=RunTrigger.scheduled,
                requested_by="scheduler",
                claimed_by="test",
            )
        assert run is not None
        _record(database, clock, 2)  # appended after the claim: not in this checkpoint
        with database.read_session() as session:
            return compute_figures(
                session=session,
                config=config,
                kind=run.kind,
                report_name=run.report_name,
                fire_time=run.fire_time,
                timezone=run.timezone,
                params=run.params,
            )

    first = checkpoint()
    with database.read_session() as session:
        entry_4 = audit.entries(session=session, limit=10)[-4]
    assert (first["head_seq"], first["head_hash"]) == (4, entry_4.hash)  # the claim's own entry
    assert first["entries"] == 4 and first["verified"]
    assert first["previous_seq"] is None

    clock.advance(hours=24)
    second = checkpoint()
    assert second["head_seq"] == 7 and second["entries"] == 7
    assert (second["previous_seq"], second["previous_hash"]) == (4, first["head_hash"])
    assert second["verified"]

    with database.engine.begin() as connection:
        connection.execute(text("UPDATE audit_entries SET actor = 'U0EVE' WHERE seq = 6"))
    clock.advance(hours=24)
    third = checkpoint()
    assert not third["verified"] and "entry 6" in str(third["problem"])


def test_the_dry_run_anchor_is_the_current_head(database: Database, clock: FakeClock) -> None:
    _record(database, clock, 2)
    with database.read_session() as session:
        figures = audit_checkpoint.compute(
            session=session,
            report_name="audit-checkpoint",
            as_of=clock.now() + timedelta(seconds=1),
            params=audit_checkpoint.current_anchor(session=session),
        )
    assert figures["head_seq"] == 2 and figures["entries"] == 2 and figures["verified"]
