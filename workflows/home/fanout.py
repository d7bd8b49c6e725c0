"""The ``home.fanout`` job: whose Home shows a change, and asking for each of them.

A deploy's change matters to its requester, everyone who may approve it and everyone
who already decided (their Home drops it); an incident or a lock shows on every Home.
Only people who have opened their Home are asked for (the others get theirs fresh when
they open it).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.deploys import queries as deploy_queries
from workflows.deploys.directory import Directory
from workflows.deploys.policy import approvers_for
from workflows.home.refresh import ALL, home_users, request_home
from workflows.jobs import JobContext, PermanentJobError


@dataclass(frozen=True)
class HomePorts:
    config: ShipbotConfig
    directory: Directory


def affected_users(
    *, session: Session, ports: HomePorts, scope: str, among: list[str]
) -> list[str]:
    """The people in ``among`` whose Home shows what ``scope`` names."""
    if scope == ALL:
        return among
    kind, _, number = scope.partition(":")
    if kind != "deploy" or not number.isdigit():
        raise PermanentJobError(f"home.fanout: unknown scope {scope!r}")
    deploy = deploy_queries.get_deploy(session=session, deploy_id=int(number))
    if deploy is None:
        return []
    users = {deploy.requested_by}
    users |= {
        a.approver for a in deploy_queries.approvals_of(session=session, deploy_id=int(number))
    }
    if deploy.environment in ports.config.environments:
        users |= approvers_for(
            config=ports.config, directory=ports.directory, environment=deploy.environment
        )
    return [user for user in among if user in users]


def refresh_homes(*, session: Session, clock: Clock, ports: HomePorts, scope: str) -> list[str]:
    """Ask for the Home of everyone ``scope`` affects; returns who. Does not commit."""
    users = affected_users(
        session=session, ports=ports, scope=scope, among=home_users(session=session)
    )
    for user in users:
        request_home(session=session, clock=clock, user_id=user)
    return users


def handle_fanout(context: JobContext, *, ports: HomePorts) -> None:
    scope = context.job.payload.get("scope")
    if not isinstance(scope, str):
        raise PermanentJobError(f"home.fanout job {context.job.id} has no scope")
    with context.database.transaction() as session:
        refresh_homes(session=session, clock=context.clock, ports=ports, scope=scope)
