"""Who may see an incident: the one rule every surface asks (lists, reports, App Home,
announcements), and the stored members of private incidents.

A public incident is visible to everyone. A private one only to its members (the
declarer, its role holders, and everyone stored in ``incident_members``: invited at setup,
given a role, or seen joining its channel) and to the incident managers
(``incidents.managers``). Everyone else sees it only as a number ("1 private incident").

Slack's channel membership is the truth; ``incident_members`` is shipbot's copy, added to
by the invite job, role changes and ``member_joined_channel`` events, never shrunk (someone
who left a private incident's channel keeps seeing it in shipbot's lists; its channel they
can no longer read).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from workflows.clock import Clock
from workflows.config.models import ShipbotConfig
from workflows.config.types import is_user_id
from workflows.deploys.directory import Directory
from workflows.incidents.models import Incident, IncidentMember
from workflows.incidents.permissions import managers
from workflows.permissions import admitted
from workflows.store.upsert import insert_or_ignore


@dataclass(frozen=True)
class Viewer:
    """Who is looking, and what the rule needs to tell whether they manage incidents."""

    user_id: str
    config: ShipbotConfig
    directory: Directory


@dataclass(frozen=True)
class Visible:
    """What one viewer may see of ``incidents``: those shown, and how many private ones
    were left out (shown only as a count)."""

    incidents: list[Incident]
    hidden_private: int


def members(*, session: Session, incident_id: int) -> set[str]:
    """The stored members of an incident (see the module docstring)."""
    query = select(IncidentMember.user_id).where(col(IncidentMember.incident_id) == incident_id)
    return set(session.exec(query))


def add_members(
    *, session: Session, clock: Clock, incident_id: int, users: Iterable[str], added_by: str
) -> None:
    """Store ``users`` (Slack user ids; anything else is skipped) as members; a repeat
    is a no-op on both databases (the unique ``(incident_id, user_id)``)."""
    rows = [
        {"incident_id": incident_id, "user_id": u, "added_by": added_by, "added_at": clock.now()}
        for u in sorted(set(users))
        if is_user_id(u)
    ]
    if not rows:
        return
    statement = insert_or_ignore(session, IncidentMember, key=["incident_id", "user_id"])
    session.exec(statement.values(rows))


def is_manager(*, viewer: Viewer) -> bool:
    return admitted(
        config=viewer.config,
        directory=viewer.directory,
        user=viewer.user_id,
        allowed=(managers(viewer.config),),
    )


def can_see(*, session: Session, viewer: Viewer, incident: Incident) -> bool:
    """Whether ``viewer`` may see ``incident`` (its title, channel, timeline, card)."""
    if not incident.private or is_member(session=session, viewer=viewer, incident=incident):
        return True
    return is_manager(viewer=viewer)


def visible_incidents(
    *, session: Session, viewer: Viewer, incidents: Sequence[Incident]
) -> Visible:
    """``incidents`` as ``viewer`` may see them, in the same order."""
    shown: list[Incident] = []
    hidden = 0
    manager: bool | None = None  # asked once, and only if a private incident needs it
    for incident in incidents:
        if not incident.private or is_member(session=session, viewer=viewer, incident=incident):
            shown.append(incident)
            continue
        if manager is None:
            manager = is_manager(viewer=viewer)
        if manager:
            shown.append(incident)
        else:
            hidden += 1
    return Visible(incidents=shown, hidden_private=hidden)


def is_member(*, session: Session, viewer: Viewer, incident: Incident) -> bool:
    """The declarer, a role holder or a stored member (managers are not members)."""
    named = {incident.declared_by, incident.commander, incident.comms, incident.scribe}
    assert incident.id is not None
    return viewer.user_id in named or viewer.user_id in members(
        session=session, incident_id=incident.id
    )
