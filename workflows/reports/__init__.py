"""Scheduled reports: claims of fire times, one module per report kind, the chart.

- ``scheduling.look`` / ``scheduling.catch_up``: what a replica's cron tick (or start-up)
  claims; ``claims.claim_run`` is the once-across-replicas claim of one fire time.
- ``runner.run_report`` / ``runner.make_run_handler``: the ``report.run`` job that
  computes a run's figures (SQL aggregates) and queues its Slack message.
- ``deploy_digest``, ``dora``, ``incident_summary``, ``pending_approvals``,
  ``audit_checkpoint``: ``compute(...)`` of each kind, returning JSON-ready figures.
- ``chart.deploys_per_day_png``: the DORA chart as PNG bytes.
- ``manual``: running a report by hand, who may, and the list of configured reports.

See docs/reports.md for what each figure counts.
"""
