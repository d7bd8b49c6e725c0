"""The ``report.run`` job: compute a claimed run's figures once, store them, post them.

Figures are computed as of the run's fire time, in a read-only session (aggregates over
many rows must not hold SQLite's write lock), then stored in one short transaction that
also asks for the Slack message (``request_render`` of ``report:<run id>``) and, for a
DORA report, the chart upload job. The store is guarded by ``figures IS NULL``, so a job
retried after a crash, or run by two workers, stores and posts once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from workflows.audit.anchors import anchor_stores
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.jobs import JobContext, JobHandler, PermanentJobError, enqueue
from workflows.reports import audit_checkpoint, deploy_digest, dora, incident_summary
from workflows.reports import pending_approvals as pending
from workflows.reports.claims import CHART_JOB_KIND, chart_job_key, view_key
from workflows.reports.models import ReportRun, RunState
from workflows.reports.periods import window_before
from workflows.store.db import Database
from workflows.views import request_render

log = logging.getLogger("shipbot.reports")

# Calendar days (in the report's time zone) each windowed kind looks back from its fire time.
WINDOW_DAYS = {"deploy_digest": 1, "dora": 7, "incident_summary": 7}
CHART_KINDS = frozenset({"dora"})


def compute_figures(
    *,
    session: Session,
    config: ShipbotConfig,
    kind: str,
    report_name: str,
    fire_time: Any,
    timezone: str,
    params: dict[str, Any],
) -> dict[str, Any]:
    """The figures of one report kind as of ``fire_time`` (JSON-ready)."""
    if kind in WINDOW_DAYS:
        window = window_before(fire_time, days=WINDOW_DAYS[kind], timezone=timezone)
        if kind == "deploy_digest":
            return dict(deploy_digest.compute(session=session, window=window))
        if kind == "dora":
            return dict(dora.compute(session=session, config=config, window=window))
        return dict(incident_summary.compute(session=session, window=window))
    if kind == "pending_approvals":
        return dict(pending.compute(session=session, config=config, as_of=fire_time))
    if kind == "audit_checkpoint":
        anchor = (
            params if "anchor_seq" in params else audit_checkpoint.current_anchor(session=session)
        )
        return dict(
            audit_checkpoint.compute(
                session=session, report_name=report_name, as_of=fire_time, params=anchor
            )
        )
    raise PermanentJobError(f"unknown report kind {kind!r}")


def worth_posting(kind: str, figures: dict[str, Any]) -> bool:
    """A pending-approvals nudge with nothing pending would only be noise."""
    return not (kind == "pending_approvals" and not figures.get("count"))


def run_report(*, database: Database, clock: Clock, config: ShipbotConfig, run_id: int) -> bool:
    """Compute and store run ``run_id`` and queue its message; False if it was done before."""
    with database.read_session() as session:
        run = session.get(ReportRun, run_id)
        if run is None:
            raise PermanentJobError(f"report run {run_id} does not exist")
        if run.figures is not None:
            return False
        figures = compute_figures(
            session=session,
            config=config,
            kind=run.kind,
            report_name=run.report_name,
            fire_time=run.fire_time,
            timezone=run.timezone,
            params=dict(run.params),
        )
    if run.kind == "audit_checkpoint":
        stores = anchor_stores(config.audit.anchors)
        figures = audit_checkpoint.write_anchors(
            figures=figures, stores=stores, report_name=run.report_name
        )
    now = clock.now()
    with database.transaction() as session:
        stored = session.exec(
            update(ReportRun)
            .where(col(ReportRun.id) == run_id, col(ReportRun.figures).is_(None))
            .values(figures=figures, state=RunState.computed.value, computed_at=now)
        )
        if stored.rowcount != 1:
            return False
        if not worth_posting(run.kind, figures):
            log.info("report run %s (%s): nothing to post", run_id, run.report_name)
            return True
        request_render(session=session, clock=clock, view_key=view_key(run_id), channel=run.channel)
        if run.kind in CHART_KINDS:
            enqueue(
                session=session,
                clock=clock,
                kind=CHART_JOB_KIND,
                payload={"run_id": run_id},
                idempotency_key=chart_job_key(run_id),
                max_attempts=10,
            )
    log.info("report run %s (%s) computed; message queued", run_id, run.report_name)
    return True


def make_run_handler(config: Callable[[], ShipbotConfig | None]) -> JobHandler:
    """The handler of ``report.run`` jobs (payload ``{"run_id": ...}``)."""

    def handle(context: JobContext) -> None:
        current = config()
        if current is None:
            raise PermanentJobError("shipbot has no config loaded; reports need one")
        run_id = context.job.payload.get("run_id")
        if not isinstance(run_id, int):
            raise PermanentJobError(f"report job {context.job.id} has no run_id")
        run_report(database=context.database, clock=context.clock, config=current, run_id=run_id)

    return handle
