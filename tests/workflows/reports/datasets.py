"""Small, hand-made datasets with known figures (see each function for the arithmetic).

Every report fires on Monday 2026-01-12 09:00 Europe/Berlin = 08:00 UTC (``FIRE``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from workflows.config import ShipbotConfig, load_config
from workflows.deploys.models import Deploy, DeployApproval
from workflows.incidents.models import Incident
from workflows.store.db import Database

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "shipbot.yaml"
FIRE = datetime(2026, 1, 12, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def example_config() -> ShipbotConfig:
    return load_config(EXAMPLE)


def at(day: int, hour: float = 0, *, month: int = 1, year: int = 2026) -> datetime:
    """A UTC instant in January 2026 (or the given month)."""
    return datetime(year, month, day, tzinfo=UTC) + timedelta(hours=hour)


def add_deploy(
    database: Database,
    *,
    service: str = "web",
    environment: str = "production",
    state: str = "succeeded",
    requested: datetime,
    started: datetime | None = None,
    finished: datetime | None = None,
    kind: str = "deploy",
    approvals: dict[str, str] | None = None,
    **fields: Any,
) -> int:
    with database.transaction() as session:
        deploy = Deploy(
            service=service,
            environment=environment,
            version=fields.pop("version", "1.0"),
            state=state,
            kind=kind,
            requested_by=fields.pop("requested_by", "U0ALICE"),
            requested_at=requested,
            started_at=started,
            finished_at=finished,
            updated_at=finished or requested,
            **fields,
        )
        session.add(deploy)
        session.flush()
        assert deploy.id is not None
        for approver, decision in (approvals or {}).items():
            session.add(
                DeployApproval(
                    deploy_id=deploy.id,
                    approver=approver,
                    decision=decision,
                    service=service,
                    environment=environment,
                    version=deploy.version,
                    decided_at=requested + timedelta(minutes=5),
                )
            )
        return deploy.id


def add_incident(
    database: Database,
    *,
    severity: str,
    declared: datetime,
    service: str | None = "web",
    acknowledged: datetime | None = None,
    resolved: datetime | None = None,
    **fields: Any,
) -> int:
    with database.transaction() as session:
        incident = Incident(
            title=fields.pop("title", f"{severity} on {service}"),
            severity=severity,
            status="resolved" if resolved else fields.pop("status", "investigating"),
            service=service,
            declared_by="U0BOB",
            declared_at=declared,
            acknowledged_at=acknowledged,
            resolved_at=resolved,
            updated_at=resolved or declared,
            **fields,
        )
        session.add(incident)
        session.flush()
        assert incident.id is not None
        return incident.id


def seed_digest(database: Database) -> dict[str, int]:
    """The daily digest for [Jan 11 08:00Z, Jan 12 08:00Z).

    Finished in the window: d1..d8 (8): succeeded d1 d3 d4(rolled_back) d5 d8 = 5, failed
    d2, cancelled d6, other d7 (rejected); rollbacks d5. Overrides asked for in the window:
    d8 (approved by U0BOB and U0CAROL; U0DAVE rejected) and d10 (still running) = 2.
    Slowest: d8 2h, d2 45m, d4 30m, d1 10m, d5 5m.
    """
    d: dict[str, int] = {}
    d["d1"] = add_deploy(
        database, requested=at(11, 9), started=at(11, 9 + 1 / 6), finished=at(11, 9 + 2 / 6)
    )
    d["d2"] = add_deploy(
        database, state="failed", requested=at(11, 10), started=at(11, 10), finished=at(11, 10.75)
    )
    d["d3"] = add_deploy(
        database,
        environment="staging",
        requested=at(11, 11),
        started=at(11, 11),
        finished=at(11, 11.05),
    )
    d["d4"] = add_deploy(
        database,
        service="api",
        state="rolled_back",
        requested=at(11, 12),
        started=at(11, 12),
        finished=at(11, 12.5),
    )
    d["d5"] = add_deploy(
        database,
        service="api",
        kind="rollback",
        rollback_of=d["d4"],
        requested=at(11, 13),
        started=at(11, 13),
        finished=at(11, 13 + 5 / 60),
    )
    d["d6"] = add_deploy(
        database,
        environment="staging",
        state="cancelled",
        requested=at(11, 14),
        started=at(11, 14),
        finished=at(11, 14 + 1 / 60),
    )
    d["d7"] = add_deploy(database, state="rejected", requested=at(11, 14.5), finished=at(11, 15))
    d["d8"] = add_deploy(
        database,
        override=True,
        override_reason="hotfix for the outage",
        version="1.9",
        requested=at(11, 16),
        started=at(11, 16.5),
        finished=at(11, 18.5),
        approvals={"U0BOB": "approve", "U0CAROL": "approve", "U0DAVE": "reject"},
    )
    d["d9"] = add_deploy(
        database, override=True, requested=at(10, 9), started=at(10, 9), finished=at(10, 10)
    )
    d["d10"] = add_deploy(
        database, override=True, state="running", requested=at(12, 7), started=at(12, 7)
    )
    return d


def seed_dora(database: Database) -> dict[str, int]:
    """DORA for [Jan 5 08:00Z, Jan 12 08:00Z) against [Dec 29 08:00Z, Jan 5 08:00Z),
    and the incident summary of the same week.

    Current production deploys p1..p5 (5; per day Mon..Sun 1 1 1 1 0 0 1); failed: p2
    (rolled_back), p3 (api incident i1 7 h later), p4 (rollback r1 asked for) = 3; lead
    times 2h 4h 1h 3h -> median 2.5h; p5's incident comes after the report ran.
    Previous q1..q3 (3; per day 1 1 0 0 0 0 1), none failed, lead times 2h 1h -> 1.5h.
    Restored: current i1 1h, i2 30m, i3 48h -> median 1h (3); previous i4 2h (1).

    Incident summary (declared in the current week): i1 SEV2, i2 SEV3, i6 SEV1; acks 10m,
    5m, 2m -> median 5m, mean 340 s; resolved i1 1h, i2 30m -> median = mean = 45m.
    Open at the fire time: i7 (SEV4, since Dec 20), i6 (since Jan 5 11:00Z).
    """
    ids: dict[str, int] = {}
    ids["p1"] = add_deploy(database, requested=at(5, 9), finished=at(5, 10), commit_at=at(5, 8))
    ids["p2"] = add_deploy(
        database, state="rolled_back", requested=at(6, 9), finished=at(6, 10), commit_at=at(6, 6)
    )
    ids["p3"] = add_deploy(database, service="api", requested=at(7, 11), finished=at(7, 12))
    ids["p4"] = add_deploy(
        database, service="api", requested=at(8, 11), finished=at(8, 12), commit_at=at(8, 11)
    )
    ids["r1"] = add_deploy(
        database,
        service="api",
        kind="rollback",
        state="failed",
        rollback_of=ids["p4"],
        requested=at(8, 13),
        finished=at(8, 13.5),
    )
    ids["p5"] = add_deploy(database, requested=at(11, 8), finished=at(11, 9), commit_at=at(11, 6))
    # Not production deploys: staging, failed, cancelled.
    add_deploy(database, environment="staging", requested=at(6, 1), finished=at(6, 2))
    add_deploy(database, state="failed", requested=at(9, 1), finished=at(9, 2))
    add_deploy(database, state="cancelled", requested=at(9, 3), finished=at(9, 4))
    # The previous week.
    ids["q1"] = add_deploy(
        database,
        requested=at(29, 8, month=12, year=2025),
        finished=at(29, 9, month=12, year=2025),
        commit_at=at(29, 7, month=12, year=2025),
    )
    ids["q2"] = add_deploy(
        database,
        requested=at(30, 8, month=12, year=2025),
        finished=at(30, 9, month=12, year=2025),
        commit_at=at(30, 8, month=12, year=2025),
    )
    ids["q3"] = add_deploy(database, requested=at(5, 6), finished=at(5, 7))

    ids["i1"] = add_incident(
        database,
        severity="SEV2",
        service="api",
        declared=at(7, 20),
        acknowledged=at(7, 20 + 10 / 60),
        resolved=at(7, 21),
    )
    ids["i2"] = add_incident(
        database,
        severity="SEV3",
        declared=at(9, 10),
        acknowledged=at(9, 10 + 5 / 60),
        resolved=at(9, 10.5),
    )
    ids["i3"] = add_incident(database, severity="SEV3", declared=at(4, 0), resolved=at(6, 0))
    ids["i4"] = add_incident(
        database,
        severity="SEV2",
        service="db",
        declared=at(30, 10, month=12, year=2025),
        resolved=at(30, 12, month=12, year=2025),
    )
    ids["i5"] = add_incident(database, severity="SEV2", declared=at(12, 9))  # after the report
    ids["i6"] = add_incident(
        database,
        severity="SEV1",
        service="db",
        declared=at(5, 11),
        acknowledged=at(5, 11 + 2 / 60),
        commander="U0CAROL",
        channel_id="C0INC6",
    )
    ids["i7"] = add_incident(
        database, severity="SEV4", service=None, declared=at(20, 0, month=12, year=2025)
    )
    return ids


def seed_pending(database: Database) -> dict[str, int]:
    """Waiting for approval at FIRE, oldest first: a1 (2 h, U0BOB approved: waiting on
    U0CAROL), a3 (staging: anyone), a2 (30 min, asked by U0BOB: waiting on U0CAROL).
    a4 was asked for after FIRE; the approved deploy is not waiting."""
    ids = {
        "a1": add_deploy(
            database,
            state="awaiting_approval",
            requested=at(12, 6),
            approvals_required=2,
            approvals={"U0BOB": "approve"},
            version="2.0",
        ),
        "a2": add_deploy(
            database,
            state="awaiting_approval",
            requested=at(12, 7.5),
            approvals_required=2,
            requested_by="U0BOB",
        ),
        "a3": add_deploy(
            database, environment="staging", state="awaiting_approval", requested=at(12, 7)
        ),
        "a4": add_deploy(database, state="awaiting_approval", requested=at(12, 9)),
    }
    add_deploy(database, state="approved", requested=at(12, 5))
    return ids
