"""GitHub Actions ``workflow_run`` events: a failing workflow on a configured branch gets
one message in its service's channel (and an open incident's), kept current while it
keeps failing and turned "fixed" by the next success."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from workflows import audit
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.external.common import service_channel, show_in_channels
from workflows.external.models import CiState, CiWorkflow
from workflows.external.views import ci_view
from workflows.store.upsert import insert_or_ignore


@dataclass(frozen=True)
class WorkflowRun:
    service: str
    repository: str
    workflow: str
    branch: str
    conclusion: str  # success | failure | timed_out | cancelled | ...
    run_number: int
    url: str
    head_sha: str
    actor: str


FAILED = frozenset({"failure", "timed_out", "startup_failure"})


def get_workflow(*, session: Session, workflow_id: int) -> CiWorkflow | None:
    return session.get(CiWorkflow, workflow_id)


def _row(session: Session, run: WorkflowRun) -> CiWorkflow | None:
    """The workflow's row, locked (PostgreSQL) so concurrent runs apply one at a time."""
    return session.exec(
        select(CiWorkflow)
        .where(col(CiWorkflow.repository) == run.repository)
        .where(col(CiWorkflow.workflow) == run.workflow)
        .where(col(CiWorkflow.branch) == run.branch)
        .with_for_update()
    ).first()


def _first_failure(
    session: Session, clock: Clock, config: ShipbotConfig, run: WorkflowRun
) -> CiWorkflow:
    now = clock.now()
    session.execute(
        insert_or_ignore(session, CiWorkflow, key=["repository", "workflow", "branch"])
        .values(
            service=run.service,
            repository=run.repository,
            workflow=run.workflow,
            branch=run.branch,
            state=CiState.fixed,
            episode=0,
            failures=0,
            run_number=0,
            run_url="",
            head_sha="",
            actor="",
            channel="",
            failed_at=now,
            updated_at=now,
        )
    )
    row = _row(session, run)
    assert row is not None
    return row


def _show(session: Session, clock: Clock, row: CiWorkflow) -> None:
    assert row.id is not None
    row_id, episode = row.id, row.episode
    show_in_channels(
        session=session,
        clock=clock,
        service=row.service,
        channel=row.channel,
        view_key=lambda incident_id: ci_view(row_id, episode, incident_id),
    )


def record_workflow_run(
    *, session: Session, clock: Clock, config: ShipbotConfig, run: WorkflowRun
) -> str:
    """Apply one completed run; returns what happened ("failing", "fixed", "ignored")."""
    failed = run.conclusion in FAILED
    if not failed and run.conclusion != "success":
        return "ignored"  # cancelled, skipped, neutral: says nothing about the branch
    row = _row(session, run) if not failed else _first_failure(session, clock, config, run)
    if row is None or run.run_number < row.run_number:
        return "ignored"  # no failure to fix, or an older run arriving late
    if not failed and row.state == CiState.fixed:
        return "ignored"
    now = clock.now()
    if failed and row.state == CiState.fixed:
        row.episode += 1
        row.failures = 0
        row.failed_at = now
        row.fixed_at = None
        row.channel = service_channel(config, run.service) or ""
    row.state = CiState.failing if failed else CiState.fixed
    row.failures += 1 if failed else 0
    row.fixed_at = None if failed else now
    row.run_number, row.run_url, row.head_sha, row.actor = (
        run.run_number,
        run.url,
        run.head_sha,
        run.actor,
    )
    row.updated_at = now
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        clock=clock,
        actor="hook:github",
        action="ci.workflow_failed" if failed else "ci.workflow_fixed",
        target=f"ci:{row.id}",
        params={
            "repository": run.repository,
            "workflow": run.workflow,
            "branch": run.branch,
            "run": run.run_number,
        },
    )
    _show(session, clock, row)
    return str(row.state)
