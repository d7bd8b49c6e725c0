"""Approvals, rejection, expiry, cancel and locks, on both databases, with races."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlmodel import col, select

from tests.workflows.deploys.conftest import ask
from workflows.clock import FakeClock
from workflows.deploys.decisions import cancel, decide, expire
from workflows.deploys.locks import lock, unlock
from workflows.deploys.models import ApprovalDecision, Deploy, DeployApproval
from workflows.deploys.policy import InFlight, Lock
from workflows.deploys.requests import RUN_JOB, DeployRefused, Ports
from workflows.errors import Conflict, DuplicateDelivery, NotFound, PermissionDenied
from workflows.store.db import Database
from workflows.store.models import AuditEntry, Job


def _decide(database: Database, ports: Ports, deploy_id: int, user: str, **kw: object) -> Deploy:
    with database.transaction() as session:
        deploy = decide(
            session=session,
            ports=ports,
            deploy_id=deploy_id,
            user=user,
            decision=kw.pop("decision", ApprovalDecision.approve),  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )
        session.expunge(deploy)
    return deploy


def _run_jobs(database: Database) -> list[Job]:
    with database.read_session() as session:
        return list(session.exec(select(Job).where(col(Job.kind) == RUN_JOB)))


def _race(actions: list[Callable[[], object]]) -> list[BaseException | None]:
    barrier = threading.Barrier(len(actions))
    outcomes: list[BaseException | None] = [None] * len(actions)

    def run(index: int) -> None:
        barrier.wait()
        try:
            actions[index]()
        except BaseException as error:
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def test_two_distinct_approvers_from_the_group_approve_and_one_run_is_queued(
    database: Database, ports: Ports
) -> None:
    deploy = ask(database, ports, "web 1.2.3 production")
    assert deploy.state == "awaiting_approval" and deploy.approvals_required == 2
    with pytest.raises(PermissionDenied, match="does not count"):
        _decide(database, ports, deploy.id or 0, "U0ALICE")
    with pytest.raises(PermissionDenied, match="Only members of sre"):
        _decide(database, ports, deploy.id or 0, "U0DAVE")
    assert _decide(database, ports, deploy.id or 0, "U0BOB").state == "awaiting_approval"
    with pytest.raises(Conflict, match="already decided"):
        _decide(database, ports, deploy.id or 0, "U0BOB")
    assert _decide(database, ports, deploy.id or 0, "U0CAROL").state == "approved"
    assert len(_run_jobs(database)) == 1


def test_an_approval_is_bound_to_the_version_it_was_shown(database: Database, ports: Ports) -> None:
    deploy = ask(database, ports, "web 1.2.3 production")
    with pytest.raises(Conflict, match="Nothing was approved"):
        _decide(database, ports, deploy.id or 0, "U0BOB", version="1.2.4")
    with database.read_session() as session:
        assert session.exec(select(DeployApproval)).all() == []


def test_concurrent_final_approvals_start_exactly_one_run(database: Database, ports: Ports) -> None:
    deploy = ask(database, ports, "web 1.2.3 production")
    deploy_id = deploy.id or 0
    outcomes = _race(
        [lambda u=u: _decide(database, ports, deploy_id, u) for u in ("U0BOB", "U0CAROL")]
    )
    assert outcomes == [None, None]
    with database.read_session() as session:
        assert session.get(Deploy, deploy_id).state == "approved"  # type: ignore[union-attr]
    assert len(_run_jobs(database)) == 1


def test_concurrent_requests_for_one_service_and_environment_store_one_deploy(
    database: Database, ports: Ports
) -> None:
    """Five people ask at once (replicas, no shared memory): the unique in-flight key lets
    one request in; every other is refused naming the deploy in flight, none fails."""
    users = ("U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0ERIN")
    outcomes = _race(
        [
            lambda u=u, n=n: ask(
                database, ports, f"web 1.2.{n} staging", user=u, delivery_key=f"slack:command:T{n}"
            )
            for n, u in enumerate(users)
        ]
    )
    assert sum(o is None for o in outcomes) == 1
    refused = [o for o in outcomes if o is not None]
    assert all(isinstance(o, DeployRefused) for o in refused), refused
    with database.read_session() as session:
        stored = session.exec(select(Deploy)).all()
    assert len(stored) == 1
    for refusal in refused:
        assert isinstance(refusal, DeployRefused)
        blockers = [c for c in refusal.verdict.blockers if isinstance(c, InFlight)]
        assert [b.deploy_id for b in blockers] == [stored[0].id]


def test_six_identical_clicks_at_once_count_once(database: Database, ports: Ports) -> None:
    deploy = ask(database, ports, "web 1.2.3 production")
    deploy_id = deploy.id or 0
    click = "slack:action:1700000000.000001:U0BOB:deploy.approve"
    outcomes = _race([lambda: _decide(database, ports, deploy_id, "U0BOB", delivery_key=click)] * 6)
    assert sum(o is None for o in outcomes) == 1
    assert all(isinstance(o, DuplicateDelivery | Conflict) for o in outcomes if o is not None)
    with database.read_session() as session:
        assert len(session.exec(select(DeployApproval)).all()) == 1


def test_a_rejection_finishes_the_request_with_its_reason(database: Database, ports: Ports) -> None:
    deploy = ask(database, ports, "web 1.2.3 production")
    rejected = _decide(
        database, ports, deploy.id or 0, "U0CAROL", decision=ApprovalDecision.reject, reason="no"
    )
    assert rejected.state == "rejected" and rejected.in_flight_key is None
    ask(database, ports, "web 1.2.4 production")  # the slot is free again


def test_an_unanswered_request_expires_after_its_ttl(
    database: Database, ports: Ports, clock: FakeClock
) -> None:
    deploy = ask(database, ports, "web 1.2.3 production")
    with database.transaction() as session:
        assert not expire(session=session, ports=ports, deploy_id=deploy.id or 0)  # too early
    clock.advance(hours=4, seconds=1)
    with database.transaction() as session:
        assert expire(session=session, ports=ports, deploy_id=deploy.id or 0)
    with database.read_session() as session:
        assert session.get(Deploy, deploy.id).state == "expired"  # type: ignore[union-attr]
        actions = [e.action for e in session.exec(select(AuditEntry))]
    assert "deploy.expired" in actions
    with pytest.raises(Conflict, match="not waiting for approval"):
        _decide(database, ports, deploy.id or 0, "U0BOB")


def test_cancel_by_the_requester_or_an_approver_but_not_someone_else(
    database: Database, ports: Ports
) -> None:
    deploy = ask(database, ports, "web 1.2.3 production")
    with database.transaction() as session, pytest.raises(PermissionDenied):
        cancel(session=session, ports=ports, deploy_id=deploy.id or 0, user="U0DAVE")
    with database.transaction() as session:
        cancelled = cancel(session=session, ports=ports, deploy_id=deploy.id or 0, user="U0BOB")
        assert (cancelled.state, cancelled.cancelled_by) == ("cancelled", "U0BOB")
    with database.transaction() as session, pytest.raises(Conflict, match="already cancelled"):
        cancel(session=session, ports=ports, deploy_id=deploy.id or 0, user="U0ALICE")


def test_lock_refuses_deploys_naming_who_and_why_until_unlocked(
    database: Database, ports: Ports
) -> None:
    with database.transaction() as session:
        lock(
            session=session,
            ports=ports,
            environment="production",
            service="web",
            reason="db migration",
            user="U0BOB",
        )
    with database.transaction() as session, pytest.raises(Conflict, match="already locked"):
        lock(
            session=session,
            ports=ports,
            environment="production",
            service="web",
            reason="again",
            user="U0CAROL",
        )
    with pytest.raises(DeployRefused) as refused:
        ask(database, ports, "web 1.2.3 production")
    (blocker,) = refused.value.verdict.blockers
    assert isinstance(blocker, Lock)
    assert (blocker.service, blocker.locked_by, blocker.reason) == ("web", "U0BOB", "db migration")
    ask(database, ports, "web 1.2.3 staging")  # only production is locked
    with database.transaction() as session:
        unlock(session=session, ports=ports, environment="production", service="web", user="U0BOB")
    with database.transaction() as session, pytest.raises(NotFound, match="not locked"):
        unlock(session=session, ports=ports, environment="production", service="web", user="U0BOB")
    ask(database, ports, "web 1.2.3 production")
