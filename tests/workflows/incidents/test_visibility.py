"""The one visibility rule: a private incident is seen by its members and the managers,
counted for everyone else; a public one by everyone."""

from __future__ import annotations

from commands.deploys.policy_text import describe
from tests.workflows.incidents.conftest import declare_one
from workflows.clock import FakeClock
from workflows.config.models import ShipbotConfig
from workflows.deploys.directory import NoDirectory
from workflows.deploys.policy.evaluate import _incident
from workflows.incidents import queries, visibility
from workflows.incidents.members import invite_people
from workflows.store.db import Database

# In the example config erin is an incident manager; nobody else is.


def _viewer(config: ShipbotConfig, user: str) -> visibility.Viewer:
    return visibility.Viewer(user_id=user, config=config, directory=NoDirectory())


def test_members_and_managers_see_a_private_incident_others_count_it(
    database: Database, clock: FakeClock, config: ShipbotConfig
) -> None:
    secret = declare_one(database, clock, config, title="Leaked key", actor="U0ALICE")
    with database.transaction() as session:
        session.get(type(secret), secret.id).private = True  # type: ignore[union-attr]
    declare_one(database, clock, config, title="Slow search", actor="U0BOB")
    with database.transaction() as session:
        invite_people(
            session=session,
            clock=clock,
            actor="U0ALICE",
            incident_id=secret.id or 0,
            users=["U0DAVE"],
        )
    with database.read_session() as session:
        incidents = queries.open_incidents(session=session)
        seen = {
            user: visibility.visible_incidents(
                session=session, viewer=_viewer(config, user), incidents=incidents
            )
            for user in ("U0ALICE", "U0DAVE", "U0ERIN", "U0CAROL")
        }
        stored = queries.require_incident(session=session, incident_id=secret.id or 0)
        assert visibility.members(session=session, incident_id=secret.id or 0) == {
            "U0ALICE",
            "U0DAVE",
        }
        assert not visibility.can_see(
            session=session, viewer=_viewer(config, "U0CAROL"), incident=stored
        )
        assert visibility.can_see(
            session=session, viewer=_viewer(config, "U0ERIN"), incident=stored
        )
    for insider in ("U0ALICE", "U0DAVE", "U0ERIN"):
        assert sorted(i.title for i in seen[insider].incidents) == ["Leaked key", "Slow search"]
        assert seen[insider].hidden_private == 0
    assert [i.title for i in seen["U0CAROL"].incidents] == ["Slow search"]
    assert seen["U0CAROL"].hidden_private == 1


def test_a_private_incident_blocks_deploys_without_naming_itself(
    database: Database, clock: FakeClock, config: ShipbotConfig
) -> None:
    secret = declare_one(database, clock, config, severity="SEV1", title="Leaked key")
    with database.transaction() as session:
        session.get(type(secret), secret.id).private = True  # type: ignore[union-attr]
    with database.read_session() as session:
        check = _incident(session=session, config=config, service="web", environment="production")
    assert not check.ok
    text = describe(check)
    assert f"incident #{secret.id} (SEV1, private)" in text
    assert "Leaked" not in text and "U0ALICE" not in text
