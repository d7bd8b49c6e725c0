"""The Slack side of reports: the ``report.run`` job (figures computed and stored, the
message queued), the chart upload and the report message. When reports fire is the
runtime's cron clock (``bot.scheduler``); ``/shipbot report`` runs one by hand."""

from __future__ import annotations

from commands.common.seams import Registry
from commands.reports.chart import make_chart_handler
from commands.reports.messages import render_report
from workflows.reports.claims import CHART_JOB_KIND, RUN_JOB_KIND, VIEW_PREFIX
from workflows.reports.runner import make_run_handler


def register(registry: Registry) -> None:
    deps = registry.deps
    registry.job(RUN_JOB_KIND, make_run_handler(lambda: deps.config))
    registry.job(CHART_JOB_KIND, make_chart_handler(lambda: deps.client))
    registry.renderer(VIEW_PREFIX, render_report)
