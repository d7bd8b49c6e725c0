"""Plugs the report flow into a shipbot process (see ``bot.wiring``).

- the cron clock: one APScheduler job per report (its cron, in its time zone) that *looks*
  whether a fire time is due and claims it (``workflows.reports.scheduling``), plus one
  look at start-up that applies each report's ``missed`` policy;
- the ``report.run`` job (compute and store the figures, queue the message) and the
  ``report.chart`` job (upload the DORA chart into the report's thread);
- the ``report:<run id>`` renderer, a pure rendering of the run's stored figures.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import update
from sqlmodel import Session, col

from bot.sender import PERMANENT_ERRORS, RenderedMessage, RendererRegistry
from bot.wiring import Wiring
from commands.reports.views import render_run
from workflows import views
from workflows.config import Report
from workflows.jobs import JobContext, JobHandler, PermanentJobError, RetryLater
from workflows.reports import scheduling
from workflows.reports.chart import deploys_per_day_png
from workflows.reports.claims import CHART_JOB_KIND, RUN_JOB_KIND, view_key
from workflows.reports.models import ReportRun
from workflows.reports.runner import make_run_handler

log = logging.getLogger("shipbot.reports")

VIEW_PREFIX = "report:"
# The chart waits for its report's message (it goes into that thread), but not forever.
CHART_WAIT = timedelta(hours=1)


def replica_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def run_meta(run: ReportRun) -> dict[str, Any]:
    return {
        "name": run.report_name,
        "kind": run.kind,
        "trigger": run.trigger,
        "requested_by": run.requested_by,
        "fire_time": run.fire_time.isoformat(),
        "timezone": run.timezone,
    }


def render_report(session: Session, key: str) -> RenderedMessage | None:
    """The message of ``report:<run id>``: its stored figures, rendered."""
    run_id = key.removeprefix(VIEW_PREFIX)
    run = session.get(ReportRun, int(run_id)) if run_id.isdigit() else None
    if run is None or run.figures is None:
        return None
    text, blocks = render_run(run_meta(run), run.figures)
    return RenderedMessage(text=text, blocks=blocks)


def register_renderers(registry: RendererRegistry) -> None:
    registry.register(VIEW_PREFIX, render_report)


# --- the chart ---------------------------------------------------------------------------


def chart_png(run: ReportRun) -> bytes:
    figures = run.figures or {}
    return deploys_per_day_png(
        labels=figures.get("per_day_labels", []),
        current=figures.get("per_day_current", []),
        previous=figures.get("per_day_previous", []),
    )


def _save(context: JobContext, run_id: int, *, guard: Any = None, **values: Any) -> None:
    with context.database.transaction() as session:
        statement = update(ReportRun).where(col(ReportRun.id) == run_id)
        if guard is not None:
            statement = statement.where(guard)
        session.execute(statement.values(**values))


def _retry_after(error: SlackApiError) -> int:
    value = (error.response.headers or {}).get("Retry-After") or (error.response.headers or {}).get(
        "retry-after"
    )
    try:
        return max(int(float(value if isinstance(value, str) else value[0])), 1)
    except (TypeError, ValueError, IndexError):
        return 1


def _upload(context: JobContext, client: WebClient, run: ReportRun, thread_ts: str) -> None:
    assert run.id is not None
    png = chart_png(run)
    title = f"{run.report_name}: production deploys per day"
    file_id, url = run.chart_file_id, run.chart_upload_url
    if file_id is None or url is None:
        answer = client.files_getUploadURLExternal(
            filename=f"{run.report_name}-{run.fire_time:%Y%m%d-%H%M}.png",
            length=len(png),
            alt_txt="Bar chart of production deploys per day, last 7 days beside the 7 before",
        )
        file_id, url = str(answer["file_id"]), str(answer["upload_url"])
        _save(context, run.id, chart_file_id=file_id, chart_upload_url=url)
    response = httpx.post(url, content=png, timeout=30)
    if response.status_code >= 400:
        # The upload URL expired or was never valid: start over with a fresh one.
        _save(context, run.id, chart_file_id=None, chart_upload_url=None)
        raise RuntimeError(f"chart upload answered {response.status_code}")
    try:
        slot = views.reserve_send_slot(
            database=context.database,
            clock=context.clock,
            channel=run.channel,
            max_wait=timedelta(seconds=1.5),
        )
    except views.ChannelBusy as busy:
        raise RetryLater(busy.at, reason=f"channel {run.channel} is busy") from None
    wait = (slot - context.clock.now()).total_seconds()
    if wait > 0:
        time.sleep(wait)
    client.files_completeUploadExternal(
        files=[{"id": file_id, "title": title}], channel_id=run.channel, thread_ts=thread_ts
    )
    _save(context, run.id, chart_shared_at=context.clock.now())


def make_chart_handler(client_factory: Callable[[], WebClient]) -> JobHandler:
    """The handler of ``report.chart`` jobs: the DORA chart, uploaded with the external
    upload flow (``files.getUploadURLExternal``, POST, ``files.completeUploadExternal``)
    into the thread of the report's message. The file started is stored on the run, so a
    retry resumes it instead of uploading another."""

    def handle(context: JobContext) -> None:
        run_id = context.job.payload.get("run_id")
        with context.database.read_session() as session:
            run = session.get(ReportRun, run_id) if isinstance(run_id, int) else None
        if run is None or run.figures is None:
            raise PermanentJobError(f"report run {run_id} has no figures to chart")
        if run.chart_shared_at is not None:
            return
        message = views.load_message(database=context.database, view_key=view_key(run_id))
        if message is None or message.ts is None:
            if context.clock.now() - run.claimed_at > CHART_WAIT:
                raise PermanentJobError(f"the message of report run {run_id} was never posted")
            raise RetryLater(timedelta(seconds=2), reason="waiting for the report message")
        try:
            _upload(context, client_factory(), run, message.ts)
        except SlackApiError as error:
            code = str(error.response.get("error") or "")
            if error.response.status_code == 429 or code == "ratelimited":
                raise RetryLater(timedelta(seconds=_retry_after(error))) from None
            if code in PERMANENT_ERRORS or code in ("file_not_found", "invalid_arguments"):
                raise PermanentJobError(f"Slack refused the chart: {code}") from error
            raise

    return handle


# --- the cron clock ------------------------------------------------------------------------


def schedule_reports(scheduler: BackgroundScheduler, wiring: Wiring, *, replica: str) -> None:
    """One cron job per report, and one look at start-up (catch-up of missed fire times)."""
    deps = wiring.deps
    config = deps.config
    if config is None or not config.reports:
        return

    def tick(report: Report) -> None:
        try:
            result = scheduling.look(
                database=deps.database,
                clock=deps.clock,
                config=config,
                report=report,
                replica=replica,
            )
        except Exception:  # the next tick looks again; a claim is never half made
            log.exception("report %s: could not claim its fire time", report.name)
            return
        if result.run is not None:
            deps.wake_worker()

    def start_up() -> None:
        try:
            looks = scheduling.catch_up(
                database=deps.database, clock=deps.clock, config=config, replica=replica
            )
        except Exception:
            log.exception("reports: the start-up look failed")
            return
        if any(result.run is not None for result in looks.values()):
            deps.wake_worker()

    for report in config.reports:
        scheduler.add_job(
            tick,
            trigger=report.trigger(),
            args=[report],
            id=f"report:{report.name}",
            name=f"report {report.name}",
            coalesce=True,
            max_instances=1,
            # A late tick still looks; the look itself decides on-time vs missed.
            misfire_grace_time=None,
        )
    scheduler.add_job(start_up, id="reports:start-up", misfire_grace_time=None)


def wire(wiring: Wiring) -> None:
    """Report jobs, the report renderer and the report schedules."""
    deps = wiring.deps
    wiring.handle_jobs(RUN_JOB_KIND, make_run_handler(lambda: deps.config))
    wiring.handle_jobs(CHART_JOB_KIND, make_chart_handler(lambda: deps.client))
    register_renderers(wiring.renderers)
    replica = replica_name()
    wiring.schedules.append(lambda scheduler: schedule_reports(scheduler, wiring, replica=replica))
