"""The ``report.chart`` job: the DORA chart uploaded into the thread of its report's
message with Slack's external upload flow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from slack_sdk import WebClient
from sqlalchemy import update
from sqlmodel import col

from workflows import views
from workflows.jobs import JobContext, JobHandler, PermanentJobError, RetryLater
from workflows.pace_slots import PaceSlot
from workflows.reports.chart import deploys_per_day_png
from workflows.reports.claims import view_key
from workflows.reports.models import ReportRun

# The chart waits for its report's message (it goes into that thread), but not forever.
CHART_WAIT = timedelta(hours=1)


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
    PaceSlot(context).wait(run.channel)  # the share posts to the channel: it is paced
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
        if not isinstance(run_id, int):
            raise PermanentJobError(f"report run {run_id!r} has no figures to chart")
        with context.database.read_session() as session:
            run = session.get(ReportRun, run_id)
        if run is None or run.figures is None:
            raise PermanentJobError(f"report run {run_id} has no figures to chart")
        if run.chart_shared_at is not None:
            return
        message = views.load_message(database=context.database, view_key=view_key(run_id))
        if message is None or message.ts is None:
            if context.clock.now() - run.claimed_at > CHART_WAIT:
                raise PermanentJobError(f"the message of report run {run_id} was never posted")
            raise RetryLater(timedelta(seconds=2), reason="waiting for the report message")
        # A SlackApiError becomes the job's outcome in the runtime's one mapper.
        _upload(context, client_factory(), run, message.ts)

    return handle
