"""Deploy, approval and incident counters, read off the audit log as it is written.

Every action shipbot takes is audited in the same transaction as its effect (rule 4), so
counting audit entries when their transaction commits counts exactly what happened: a
rolled-back attempt counts nothing, and no flow needs to know about metrics. Counted per
process; Prometheus sums the replicas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from workflows.audit.chain import RECORDED

_PENDING = "shipbot_audit_metrics_pending"


class DomainCounters:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.deploys = Counter(
            "shipbot_deploys",
            "Deploy events (requested, started, succeeded, failed, cancelled, expired, ...)",
            ["environment", "event"],
            registry=registry,
        )
        self.approvals = Counter(
            "shipbot_approvals",
            "Approval decisions on deploys",
            ["environment", "decision"],
            registry=registry,
        )
        self.incidents = Counter(
            "shipbot_incidents",
            "Incident events (declare, status, severity, assign, note, resolved, ...)",
            ["event"],
            registry=registry,
        )

    def count(self, action: str, environment: str) -> None:
        domain, _, what = action.partition(".")
        if domain == "deploy" and what in ("approved", "rejected"):
            self.approvals.labels(environment=environment, decision=what).inc()
        elif domain == "deploy":
            self.deploys.labels(environment=environment, event=what).inc()
        elif domain == "incident":
            self.incidents.labels(event=what).inc()


def _environment(session: Session, entry: Any) -> str:
    """The deploy's environment: from the entry's params, else from the deploy row the
    flow loaded into this session (``deploy:<id>`` targets)."""
    params = entry.params or {}
    if isinstance(params.get("environment"), str):
        return str(params["environment"])
    kind, _, number = str(entry.target).partition(":")
    if kind == "deploy" and number.isdigit() and len(number) < 10:
        # By table name: this module should not import each domain's models.
        for row in session.identity_map.values():
            if getattr(row, "__tablename__", "") == "deploys" and getattr(row, "id", None) == int(
                number
            ):
                return str(getattr(row, "environment", ""))
        # The flow let go of the row (the identity map holds it weakly): ask the table.
        found = session.execute(
            text("SELECT environment FROM deploys WHERE id = :id"), {"id": int(number)}
        ).first()
        if found is not None:
            return str(found[0])
    return ""


def watch_audit(engine: Engine, counters: DomainCounters) -> Callable[[], None]:
    """Count audit entries written through sessions on ``engine`` once they commit.
    Returns a function that stops watching."""

    def after_flush(session: Session, _context: Any) -> None:
        # While the deploy rows are surely in the identity map; the rest at commit.
        if getattr(session.get_bind(), "pool", None) is not engine.pool:
            return
        for entry in session.info.pop(RECORDED, []):
            pending = session.info.setdefault(_PENDING, [])
            pending.append((entry.action, _environment(session, entry)))

    def after_commit(session: Session) -> None:
        for action, environment in session.info.pop(_PENDING, []):
            counters.count(action, environment)

    def after_rollback(session: Session) -> None:
        session.info.pop(_PENDING, None)
        session.info.pop(RECORDED, None)

    listeners = (
        ("after_flush", after_flush),
        # Entries recorded after the last flush (record writes with Core), while the
        # transaction is still open for a lookup.
        ("before_commit", lambda session: after_flush(session, None)),
        ("after_commit", after_commit),
        ("after_soft_rollback", lambda session, _previous: after_rollback(session)),
    )
    for name, listener in listeners:
        event.listen(Session, name, listener)

    def stop() -> None:
        for name, listener in listeners:
            event.remove(Session, name, listener)

    return stop
