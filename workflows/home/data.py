"""What one person's App Home shows, as typed data read from the store and the config.

``home_for`` is the one entry point; ``commands/home/views.py`` renders its answer. The
approvals waiting on someone follow the very rules ``workflows.deploys.decisions.decide``
applies to a click (``may_decide``), so a Home never offers a button that would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from workflows.config import ShipbotConfig
from workflows.deploys import queries as deploy_queries
from workflows.deploys.directory import Directory, is_member
from workflows.deploys.models import (
    ApprovalDecision,
    Deploy,
    DeployApproval,
    DeployLock,
    DeployState,
)
from workflows.deploys.policy import open_freeze
from workflows.incidents.models import Incident
from workflows.incidents.queries import open_incidents
from workflows.incidents.visibility import Viewer, visible_incidents

RECENT_DEPLOYS = 5
MAX_PENDING = 20
MAX_INCIDENTS = 15


@dataclass(frozen=True)
class PendingApproval:
    """A deploy waiting for this person's decision (the buttons bind id and version)."""

    deploy: Deploy
    approved: int  # approvals so far
    required: int


@dataclass(frozen=True)
class HomeIncident:
    incident: Incident
    theirs: bool  # they declared it or hold a role in it


@dataclass(frozen=True)
class FreezeAhead:
    """An environment's freeze window open now (``open``) or the next one to open."""

    environment: str
    starts: datetime
    ends: datetime
    open: bool
    reason: str
    timezone: str


@dataclass(frozen=True)
class Home:
    user_id: str
    pending: list[PendingApproval]
    recent: list[Deploy]
    incidents: list[HomeIncident]
    locks: list[DeployLock]
    freezes: list[FreezeAhead]


def may_decide(
    *,
    config: ShipbotConfig,
    directory: Directory,
    deploy: Deploy,
    approvals: list[DeployApproval],
    user: str,
) -> bool:
    """Whether ``user``'s click on Approve would count now (``decide``'s own rules)."""
    if deploy.state != DeployState.awaiting_approval:
        return False
    environment = config.environments.get(deploy.environment)
    if environment is None:
        return False
    approval = environment.approval
    if user == deploy.requested_by and not approval.allow_self_approval:
        return False
    if any(a.approver == user for a in approvals):
        return False
    return is_member(config=config, directory=directory, user=user, refs=approval.from_groups)


def pending_for(
    *, session: Session, config: ShipbotConfig, directory: Directory, user_id: str
) -> list[PendingApproval]:
    """Deploys awaiting approval that ``user_id`` may decide, oldest first."""
    waiting = session.exec(
        select(Deploy)
        .where(col(Deploy.state) == DeployState.awaiting_approval)
        .order_by(col(Deploy.id))
        .limit(200)
    )
    found: list[PendingApproval] = []
    for deploy in waiting:
        assert deploy.id is not None
        approvals = deploy_queries.approvals_of(session=session, deploy_id=deploy.id)
        if may_decide(
            config=config, directory=directory, deploy=deploy, approvals=approvals, user=user_id
        ):
            approved = sum(1 for a in approvals if a.decision == ApprovalDecision.approve)
            found.append(PendingApproval(deploy, approved, deploy.approvals_required))
    return found[:MAX_PENDING]


def recent_deploys(*, session: Session, user_id: str, limit: int = RECENT_DEPLOYS) -> list[Deploy]:
    query = select(Deploy).where(col(Deploy.requested_by) == user_id)
    return list(session.exec(query.order_by(col(Deploy.id).desc()).limit(limit)))


def _theirs(incident: Incident, user_id: str) -> bool:
    return user_id in (incident.declared_by, incident.commander, incident.comms, incident.scribe)


def open_incidents_for(*, session: Session, viewer: Viewer) -> list[HomeIncident]:
    """The open incidents ``viewer`` may see (a private one: its members and the incident
    managers only), theirs first (then most severe, newest)."""
    incidents = open_incidents(session=session, limit=MAX_INCIDENTS * 4)
    seen = visible_incidents(session=session, viewer=viewer, incidents=incidents).incidents
    shown = [HomeIncident(i, _theirs(i, viewer.user_id)) for i in seen]
    shown.sort(key=lambda h: not h.theirs)  # stable: keeps severity and age order
    return shown[:MAX_INCIDENTS]


def freezes_ahead(*, config: ShipbotConfig, now: datetime) -> list[FreezeAhead]:
    """Per environment (promotion order), the freeze open now or the next to open."""
    ahead: list[FreezeAhead] = []
    for name in config.ordered_environments():
        windows = config.environments[name].freeze_windows
        current = open_freeze(config=config, environment=name, now=now)
        if not current.ok and current.since is not None and current.until is not None:
            ahead.append(
                FreezeAhead(
                    environment=name,
                    starts=current.since,
                    ends=current.until,
                    open=True,
                    reason=current.reason or "",
                    timezone=current.timezone or "UTC",
                )
            )
            continue
        upcoming = []
        for window in windows:
            opens = window.trigger().get_next_fire_time(None, now)
            if opens is not None:
                upcoming.append((opens, window))
        if upcoming:
            opens, window = min(upcoming, key=lambda pair: pair[0])
            ahead.append(
                FreezeAhead(
                    name, opens, opens + window.duration, False, window.reason, window.timezone
                )
            )
    return ahead


def home_for(
    *,
    session: Session,
    config: ShipbotConfig,
    directory: Directory,
    user_id: str,
    now: datetime,
) -> Home:
    """Everything ``user_id``'s Home shows, read in one session."""
    locks = list(deploy_queries.all_locks(session=session))
    return Home(
        user_id=user_id,
        pending=pending_for(session=session, config=config, directory=directory, user_id=user_id),
        recent=recent_deploys(session=session, user_id=user_id),
        incidents=open_incidents_for(
            session=session,
            viewer=Viewer(user_id=user_id, config=config, directory=directory),
        ),
        locks=locks,
        freezes=freezes_ahead(config=config, now=now),
    )
