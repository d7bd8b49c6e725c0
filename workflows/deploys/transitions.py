"""Guarded state changes of a deploy row (rule 2: ``UPDATE ... WHERE state = :expected``)."""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import Session, col, select, update

from workflows.boundary import fits_id
from workflows.deploys.models import TERMINAL_STATES, Deploy, DeployState
from workflows.errors import NotFound


def locked_deploy(*, session: Session, deploy_id: int) -> Deploy:
    """The deploy row, locked until commit on PostgreSQL (SQLite's write transaction
    already serialises), so two approvers' clicks are counted one after the other."""
    deploy = (
        session.exec(select(Deploy).where(col(Deploy.id) == deploy_id).with_for_update()).first()
        if fits_id(deploy_id)  # any other number names nothing (and overflows the driver)
        else None
    )
    if deploy is None:
        raise NotFound(f"There is no deploy #{deploy_id}.")
    return deploy


def transition(
    *,
    session: Session,
    deploy: Deploy,
    expected: Collection[DeployState],
    values: dict[str, object],
) -> bool:
    """Move ``deploy`` out of one of ``expected`` states (``UPDATE ... WHERE state IN``);
    False if another transaction moved it first. Finishing clears the in-flight key."""
    new_state = values.get("state")
    if new_state in TERMINAL_STATES:
        values = {"in_flight_key": None, **values}
    statement = (
        update(Deploy)
        .where(col(Deploy.id) == deploy.id)
        .where(col(Deploy.state).in_(sorted(expected)))
        .values(**values)
        .returning(Deploy)
    )
    # RETURNING the row refreshes ``deploy`` (the same identity, populate_existing) in the
    # UPDATE's own round trip.
    moved = session.scalars(
        statement, execution_options={"populate_existing": True, "synchronize_session": False}
    ).first()
    return moved is not None
