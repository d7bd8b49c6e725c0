"""Reports by hand: who may run one now, running it, and the list of configured reports.

Who may run a report by hand (``/shipbot report run``): the people trusted with production
decisions already, i.e. anyone named by any environment's ``approval.from_groups`` or
``break_glass.groups`` (Slack user groups expanded through the directory port). A config
that names nobody in either place lets anyone run reports. The terminal command
(``shipbot report run``) has no such check: whoever can reach the database is an operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlmodel import Session, col

from workflows.clock import Clock
from workflows.config import Report, ShipbotConfig
from workflows.errors import Conflict, NotFound, PermissionDenied
from workflows.reports.claims import claim_run
from workflows.reports.models import ReportRun, RunTrigger
from workflows.reports.periods import next_fire_time


class Directory(Protocol):
    """Expands a Slack user group (``S...``) into its members."""

    def usergroup_members(self, usergroup_id: str) -> frozenset[str]: ...


def find_report(*, config: ShipbotConfig, name: str) -> Report:
    """The report named ``name``; failing that, the only report of kind ``name`` (so
    ``report run dora`` works when one DORA report is configured)."""
    for report in config.reports:
        if report.name == name:
            return report
    of_kind = [report for report in config.reports if report.kind == name]
    if len(of_kind) == 1:
        return of_kind[0]
    known = ", ".join(f"`{r.name}`" for r in config.reports) or "none configured"
    raise NotFound(f"There is no report named `{name}`.", hint=f"Reports: {known}.")


def report_runners(config: ShipbotConfig) -> list[str]:
    """The group names and user ids whose members may run reports by hand."""
    refs: list[str] = []
    for environment in config.environments.values():
        for ref in (*environment.approval.from_groups, *environment.break_glass.groups):
            if ref not in refs:
                refs.append(ref)
    return refs


def may_run_reports(*, config: ShipbotConfig, directory: Directory | None, user: str) -> bool:
    refs = report_runners(config)
    if not refs:
        return True
    principals = config.principals(refs)
    if user in principals.users:
        return True
    if directory is None:
        return False
    return any(user in directory.usergroup_members(g) for g in sorted(principals.usergroups))


def run_now(
    *,
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    directory: Directory | None,
    report_name: str,
    user: str,
    check_permission: bool = True,
    claimed_by: str = "",
) -> ReportRun:
    """Claim a manual run of ``report_name`` as of now (in the caller's transaction).

    The figures are those of a scheduled run firing now: the window ends now. A manual run
    does not count as the report's scheduled run, so it never suppresses the next one.
    """
    report = find_report(config=config, name=report_name)
    if check_permission and not may_run_reports(config=config, directory=directory, user=user):
        raise PermissionDenied(
            "Only approvers and break-glass members may run reports by hand.",
            hint="They are the people in any environment's `approval.from_groups` or "
            "`break_glass.groups`.",
        )
    run = claim_run(
        session=session,
        clock=clock,
        report=report,
        channel=config.channel_id(report.channel),
        fire_time=clock.now(),
        trigger=RunTrigger.manual,
        requested_by=user,
        claimed_by=claimed_by or user,
    )
    if run is None:  # two manual runs in the same microsecond
        raise Conflict(f"Report `{report_name}` was just started; try again in a moment.")
    return run


@dataclass(frozen=True)
class Listing:
    """One configured report, for `report list`."""

    name: str
    kind: str
    cron: str
    timezone: str
    channel: str
    missed: str
    next_run: datetime | None  # in the report's time zone
    last_run: datetime | None  # UTC
    last_trigger: str | None


def list_reports(*, session: Session, config: ShipbotConfig, now: datetime) -> list[Listing]:
    """Every configured report with its next fire time (in its time zone) and last run."""
    names = [report.name for report in config.reports]
    newest = (
        select(col(ReportRun.report_name), func.max(col(ReportRun.fire_time)).label("last"))
        .where(col(ReportRun.report_name).in_(names))
        .group_by(col(ReportRun.report_name))
        .subquery()
    )
    rows = session.execute(
        select(col(ReportRun.report_name), col(ReportRun.fire_time), col(ReportRun.trigger)).join(
            newest,
            (col(ReportRun.report_name) == newest.c.report_name)
            & (col(ReportRun.fire_time) == newest.c.last),
        )
    ).all()
    last = {row.report_name: (row.fire_time, row.trigger) for row in rows}
    listings = []
    for report in config.reports:
        fire_time, trigger = last.get(report.name, (None, None))
        listings.append(
            Listing(
                name=report.name,
                kind=report.kind,
                cron=report.cron,
                timezone=report.timezone,
                channel=config.channel_id(report.channel),
                missed=report.missed,
                next_run=next_fire_time(report.trigger(), now),
                last_run=fire_time,
                last_trigger=trigger,
            )
        )
    return listings
