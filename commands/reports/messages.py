"""The message of a report run (``report:<run id>``): its stored figures, rendered."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from commands.common.seams import RenderedMessage
from commands.reports.views import render_run
from workflows.reports.claims import VIEW_PREFIX
from workflows.reports.models import ReportRun


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
    run_id = key.removeprefix(VIEW_PREFIX)
    run = session.get(ReportRun, int(run_id)) if run_id.isdigit() else None
    if run is None or run.figures is None:
        return None
    text, blocks = render_run(run_meta(run), run.figures)
    return RenderedMessage(text=text, blocks=blocks)
