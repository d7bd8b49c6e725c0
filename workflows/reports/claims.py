"""Claiming a report's fire time, once across every replica (rule 2).

Every replica's cron clock (APScheduler, in memory) notices the same fire time; each
tries to insert the ``report_runs`` row for ``(report name, fire time)`` and the unique
constraint lets exactly one through. The winner, in the same transaction, records the
run in the audit log, moves the report's ``last_fire_time`` on and enqueues the durable
``report.run`` job (idempotency key ``report:<name>:<fire time ISO>``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from workflows import audit
from workflows.clock import Clock
from workflows.config import Report
from workflows.jobs import enqueue
from workflows.reports.models import ReportRun, ReportSchedule, RunState, RunTrigger
from workflows.store.models import AuditEntry
from workflows.store.tables import table_of
from workflows.store.upsert import insert_or_ignore

RUN_JOB_KIND = "report.run"
CHART_JOB_KIND = "report.chart"
AUDIT_ACTION = "report.run"
SCHEDULER_ACTOR = "scheduler"


def run_job_key(report_name: str, fire_time: datetime) -> str:
    """The idempotency key of the job that computes one run."""
    return f"report:{report_name}:{fire_time.isoformat()}"


def chart_job_key(run_id: int) -> str:
    return f"report-chart:{run_id}"


VIEW_PREFIX = "report:"
"""Prefix of the view key of a run's message (``report:<run id>``)."""


def view_key(run_id: int) -> str:
    """The Slack message of one run (``request_render``)."""
    return f"{VIEW_PREFIX}{run_id}"


def ensure_schedule(*, session: Session, clock: Clock, report_name: str) -> ReportSchedule:
    """The report's schedule row, created (registered now) on first sight."""
    session.exec(
        insert_or_ignore(session, ReportSchedule, key=["report_name"]).values(
            report_name=report_name, registered_at=clock.now()
        )
    )
    query = select(ReportSchedule).where(col(ReportSchedule.report_name) == report_name)
    schedule = session.exec(query.execution_options(populate_existing=True)).one()
    return schedule


def _insert_run(
    *,
    session: Session,
    now: datetime,
    report: Report,
    channel: str,
    fire_time: datetime,
    trigger: RunTrigger,
    requested_by: str,
    claimed_by: str,
) -> ReportRun | None:
    """The new run, or None when ``(report, fire_time)`` was claimed before."""
    statement = (
        insert_or_ignore(session, ReportRun, key=["report_name", "fire_time"])
        .values(
            report_name=report.name,
            kind=report.kind,
            trigger=trigger.value,
            fire_time=fire_time,
            timezone=report.timezone,
            channel=channel,
            requested_by=requested_by,
            claimed_by=claimed_by,
            claimed_at=now,
            state=RunState.claimed.value,
            params={},
        )
        .returning(table_of(ReportRun).c.id)
    )
    run_id: int | None = session.execute(statement).scalar_one_or_none()
    return None if run_id is None else session.get(ReportRun, run_id)


def _audit_claim(
    *, session: Session, clock: Clock, run: ReportRun, fire_time: datetime
) -> AuditEntry:
    """The claim's audit entry (``fire_time`` as the caller gave it, not as stored)."""
    return audit.record(
        session=session,
        clock=clock,
        actor=run.requested_by,
        action=AUDIT_ACTION,
        target=f"report:{run.report_name}",
        params={
            "run_id": run.id,
            "kind": run.kind,
            "fire_time": fire_time,
            "trigger": run.trigger,
        },
        channel=run.channel,
    )


def _advance_schedule(
    *, session: Session, clock: Clock, report_name: str, fire_time: datetime, run_id: int
) -> None:
    """Move the schedule's ``last_fire_time`` on to ``fire_time`` (never back)."""
    ensure_schedule(session=session, clock=clock, report_name=report_name)
    session.exec(
        update(ReportSchedule)
        .where(
            col(ReportSchedule.report_name) == report_name,
            or_(
                col(ReportSchedule.last_fire_time).is_(None),
                col(ReportSchedule.last_fire_time) < fire_time,
            ),
        )
        .values(last_fire_time=fire_time, last_run_id=run_id)
    )


def claim_run(
    *,
    session: Session,
    clock: Clock,
    report: Report,
    channel: str,
    fire_time: datetime,
    trigger: RunTrigger,
    requested_by: str,
    claimed_by: str,
) -> ReportRun | None:
    """Claim ``fire_time`` of ``report``; the new run, or None if it was claimed before.

    Everything happens in the caller's transaction (nothing is committed here). For an
    audit checkpoint the anchor is taken here, from the audit entry of this very claim:
    the posted head is the chain as of the claim, the claim's own entry included, so the
    checkpoint anchors itself too.
    """
    run = _insert_run(
        session=session,
        now=clock.now(),
        report=report,
        channel=channel,
        fire_time=fire_time,
        trigger=trigger,
        requested_by=requested_by,
        claimed_by=claimed_by,
    )
    if run is None or run.id is None:
        return None
    entry = _audit_claim(session=session, clock=clock, run=run, fire_time=fire_time)
    if trigger != RunTrigger.manual:
        _advance_schedule(
            session=session,
            clock=clock,
            report_name=report.name,
            fire_time=fire_time,
            run_id=run.id,
        )
    enqueue(
        session=session,
        clock=clock,
        kind=RUN_JOB_KIND,
        payload={"run_id": run.id},
        idempotency_key=run_job_key(report.name, fire_time),
    )
    if report.kind == "audit_checkpoint":
        run.params = {"anchor_seq": entry.seq, "anchor_hash": entry.hash}
        session.add(run)
        session.flush()
    return run


def get_run(*, session: Session, run_id: int) -> ReportRun | None:
    return session.get(ReportRun, run_id)


def runs_of(*, session: Session, report_name: str, limit: int = 20) -> list[ReportRun]:
    """The newest runs of one report first."""
    query = (
        select(ReportRun)
        .where(col(ReportRun.report_name) == report_name)
        .order_by(col(ReportRun.fire_time).desc())
        .limit(limit)
    )
    return list(session.exec(query).all())
