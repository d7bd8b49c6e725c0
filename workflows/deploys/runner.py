"""Running an approved deploy on its backend: the ``deploy.run`` job.

The job is re-entrant: every run loads the deploy, does one step and asks to come back
(``RetryLater``) until the deploy has finished. Starting is guarded so it happens at most
once: the row moves ``approved -> running`` (phase ``starting``) and commits *before* the
backend is called. A crash after that commit and before the backend's answer is stored
is never retried blindly: the backend is asked what it started (``FindsRuns``) and the
deploy goes on from that answer; only when it cannot tell does the deploy fail with a
message asking a person to look.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlmodel import Session

from workflows import audit
from workflows.backends.base import (
    BackendError,
    DeployBackend,
    DeployTarget,
    Progress,
    Started,
    Status,
)
from workflows.changes.github_deployments import enqueue_status
from workflows.deploys import queries
from workflows.deploys import views as deploy_views
from workflows.deploys.models import SHIPBOT_SOURCE, Deploy, DeployKind, DeployState
from workflows.deploys.recovery import find_started_run
from workflows.deploys.requests import DeployAsk, Ports, request_deploy
from workflows.deploys.transitions import locked_deploy, transition
from workflows.errors import UserError
from workflows.jobs import JobContext, RetryLater, backoff, enqueue
from workflows.redact import redact_text
from workflows.store.db import Database

log = logging.getLogger("shipbot.deploys")

OUTPUT_JOB = "deploy.output"
MAX_POLL_FAILURES = 30


@dataclass
class RunnerPorts:
    ports: Ports
    backend_for: Callable[[str], DeployBackend]  # service name -> its backend
    http: Callable[[], httpx.Client]  # for health checks


def target_of(deploy: Deploy) -> DeployTarget:
    assert deploy.id is not None
    return DeployTarget(
        deploy_id=deploy.id,
        service=deploy.service,
        environment=deploy.environment,
        version=deploy.version,
        requested_by=deploy.requested_by,
        reason=deploy.reason,
    )


class DeployRunner:
    def __init__(self, *, database: Database, runner: RunnerPorts) -> None:
        self.database = database
        self.runner = runner
        self.ports = runner.ports

    # -- the job ------------------------------------------------------------------------

    def handle(self, context: JobContext) -> None:
        deploy_id = int(context.job.payload["deploy_id"])
        with self.database.transaction() as session:
            deploy = queries.get_deploy(session=session, deploy_id=deploy_id)
            if deploy is None or deploy.source != SHIPBOT_SOURCE:
                return  # an external deploy is history: never started, polled or recovered
            session.expunge(deploy)
        if deploy.state == DeployState.approved:
            self._start(deploy)
            return
        if deploy.state != DeployState.running:
            return  # finished, cancelled before it started, or not approved yet
        phase = deploy.backend_state.get("phase")
        if phase == "starting":
            self._recover_start(deploy)
        elif phase == "health":
            self._health(deploy)
        else:
            self._poll(deploy)

    # -- steps --------------------------------------------------------------------------

    def _start(self, deploy: Deploy) -> None:
        now = self.ports.clock.now()
        with self.database.transaction() as session:
            row = locked_deploy(session=session, deploy_id=deploy.id or 0)
            moved = transition(
                session=session,
                deploy=row,
                expected={DeployState.approved},
                values={
                    "state": DeployState.running,
                    "started_at": now,
                    "updated_at": now,
                    "backend_state": {"phase": "starting"},
                },
            )
            if not moved:
                return
            audit.record(
                session=session,
                clock=self.ports.clock,
                actor="shipbot",
                action="deploy.started",
                target=f"deploy:{row.id}",
                params={"backend": row.backend, "version": row.version},
            )
            self._changed(session, row)
        try:
            started = self.runner.backend_for(deploy.service).start(target_of(deploy))
        except Exception as error:  # a retry might deploy twice: fail and say why instead
            detail = str(error) if isinstance(error, BackendError) else type(error).__name__
            self._finish(
                deploy, DeployState.failed, error=f"the backend did not start it: {detail}"
            )
            return
        self._store_started(deploy, started)
        raise RetryLater(self._interval(deploy), reason="poll the backend")

    def _recover_start(self, deploy: Deploy) -> None:
        """A crash came between marking the deploy started and storing the backend's
        answer: never start again, go on from what the backend says it started."""
        found = find_started_run(self.runner.backend_for(deploy.service), target_of(deploy))
        if isinstance(found, Started):
            self._store_started(deploy, found)
            raise RetryLater(timedelta(0), reason="poll the run found after a restart")
        self._finish(deploy, DeployState.failed, error=found)

    def _store_started(self, deploy: Deploy, started: Started) -> None:
        with self.database.transaction() as session:
            row = locked_deploy(session=session, deploy_id=deploy.id or 0)
            row.backend_state = {**dict(started.state), "phase": "polling", "poll_failures": 0}
            row.logs_url = started.logs_url or row.logs_url
            row.updated_at = self.ports.clock.now()
            session.add(row)
            deploy_views.show_all(session=session, clock=self.ports.clock, deploy=row)

    def _interval(self, deploy: Deploy) -> timedelta:
        return self.ports.config.services[deploy.service].deploy.poll_interval

    def _poll(self, deploy: Deploy) -> None:
        backend_config = self.ports.config.services[deploy.service].deploy
        backend = self.runner.backend_for(deploy.service)
        target = target_of(deploy)
        now = self.ports.clock.now()
        if deploy.cancel_requested:
            self._cancel(deploy, backend)
            return
        if deploy.started_at and now - deploy.started_at > backend_config.timeout:
            _best_effort_cancel(backend, target, deploy.backend_state)
            self._finish(
                deploy, DeployState.failed, error=f"timed out after {backend_config.timeout}"
            )
            return
        try:
            progress = backend.poll(target, deploy.backend_state)
        except BackendError as error:
            self._finish(deploy, DeployState.failed, error=str(error))
            return
        except Exception as error:
            failures = int(deploy.backend_state.get("poll_failures", 0)) + 1
            log.warning("deploy %s: poll failed (%s): %s", deploy.id, failures, error)
            self._update(
                deploy, {"backend_state": {**deploy.backend_state, "poll_failures": failures}}
            )
            raise RetryLater(backoff(min(failures, 8)), reason="backend poll failed") from None
        self._record_progress(deploy, progress)
        if progress.status == Status.running:
            raise RetryLater(self._interval(deploy), reason="still running")
        if (
            progress.status == Status.succeeded
            and self.ports.config.services[deploy.service].health_check
        ):
            self._update(
                deploy,
                {
                    "backend_state": {
                        **self._state(deploy, progress),
                        "phase": "health",
                        "health_attempts": 0,
                    }
                },
            )
            raise RetryLater(0, reason="health check")
        state = {
            Status.succeeded: DeployState.succeeded,
            Status.cancelled: DeployState.cancelled,
        }.get(progress.status, DeployState.failed)
        self._finish(deploy, state, error=progress.detail if state == DeployState.failed else None)

    def _state(self, deploy: Deploy, progress: Progress) -> dict[str, Any]:
        state = dict(progress.state) if progress.state is not None else dict(deploy.backend_state)
        return {**state, "phase": "polling", "poll_failures": 0, "detail": progress.detail}

    def _record_progress(self, deploy: Deploy, progress: Progress) -> None:
        values: dict[str, Any] = {"backend_state": self._state(deploy, progress)}
        if progress.logs_url:
            values["logs_url"] = progress.logs_url
        if progress.output_tail is not None:
            values["output_tail"] = redact_text(progress.output_tail)
        if progress.commit_at is not None:
            values["commit_at"] = progress.commit_at
        changed = progress.detail != deploy.backend_state.get("detail") or (
            progress.logs_url and progress.logs_url != deploy.logs_url
        )
        self._update(deploy, values, render=bool(changed))
        deploy.backend_state = values["backend_state"]

    def _cancel(self, deploy: Deploy, backend: DeployBackend) -> None:
        target = target_of(deploy)
        try:
            stopped = backend.cancel(target, deploy.backend_state)
        except Exception as error:
            log.warning("deploy %s: cancel failed: %s", deploy.id, error)
            stopped = False
        if stopped:
            self._finish(deploy, DeployState.cancelled)
            return
        self._update(
            deploy,
            {
                "cancel_requested": False,
                "backend_state": {
                    **deploy.backend_state,
                    "detail": f"{deploy.backend} cannot cancel a running deploy; it carries on",
                },
            },
        )
        raise RetryLater(self._interval(deploy), reason="cancel not possible; keep polling")

    def _health(self, deploy: Deploy) -> None:
        check = self.ports.config.services[deploy.service].health_check
        assert check is not None
        attempts = int(deploy.backend_state.get("health_attempts", 0)) + 1
        try:
            with self.runner.http() as client:
                status = client.get(check.url, timeout=10).status_code
            healthy = status == check.expected_status
            seen = f"HTTP {status}"
        except httpx.HTTPError as error:
            healthy, seen = False, type(error).__name__
        now = self.ports.clock.now()
        started = datetime.fromisoformat(
            deploy.backend_state.get("health_started") or now.isoformat()
        )
        if healthy:
            self._update(deploy, {"health": "passed"}, render=False)
            self._finish(deploy, DeployState.succeeded)
            return
        if attempts <= check.retries and now - started < check.deadline:
            self._update(
                deploy,
                {
                    "backend_state": {
                        **deploy.backend_state,
                        "health_attempts": attempts,
                        "health_started": started.isoformat(),
                        "detail": f"health check {attempts}: {seen}",
                    }
                },
            )
            raise RetryLater(check.interval, reason="health check retry")
        self._update(deploy, {"health": "failed"}, render=False)
        self._finish(
            deploy,
            DeployState.failed,
            error=f"health check failed ({seen} from {check.url}, "
            f"expected {check.expected_status})",
            rollback=True,
        )

    # -- writes -------------------------------------------------------------------------

    def _update(self, deploy: Deploy, values: Mapping[str, Any], *, render: bool = True) -> None:
        with self.database.transaction() as session:
            row = locked_deploy(session=session, deploy_id=deploy.id or 0)
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = self.ports.clock.now()
            session.add(row)
            if render:
                deploy_views.show_all(session=session, clock=self.ports.clock, deploy=row)

    def _changed(self, session: Any, deploy: Deploy) -> None:  # re-render, tell GitHub
        ports = self.ports
        deploy_views.show_all(session=session, clock=ports.clock, deploy=deploy)
        enqueue_status(session=session, clock=ports.clock, config=ports.config, deploy=deploy)

    def _finish(
        self,
        deploy: Deploy,
        state: DeployState,
        *,
        error: str | None = None,
        rollback: bool = False,
    ) -> None:
        now = self.ports.clock.now()
        with self.database.transaction() as session:
            row = locked_deploy(session=session, deploy_id=deploy.id or 0)
            superseded = queries.current_release(
                session=session, service=row.service, environment=row.environment
            )
            moved = transition(
                session=session,
                deploy=row,
                expected={DeployState.running, DeployState.approved},
                values={
                    "state": state,
                    "finished_at": now,
                    "updated_at": now,
                    "error": redact_text(error) if error else None,
                },
            )
            if not moved:
                return
            audit.record(
                session=session,
                clock=self.ports.clock,
                actor="shipbot",
                action=f"deploy.{state}",
                target=f"deploy:{row.id}",
                params={"version": row.version, "error": row.error, "health": row.health},
                outcome="ok" if state == DeployState.succeeded else state,
            )
            if state == DeployState.succeeded and row.rollback_of is not None:
                replaced = locked_deploy(session=session, deploy_id=row.rollback_of)
                if transition(
                    session=session,
                    deploy=replaced,
                    expected={DeployState.succeeded},
                    values={"state": DeployState.rolled_back, "updated_at": now},
                ):
                    self._changed(session, replaced)
            self._changed(session, row)
            if state == DeployState.succeeded and superseded is not None:
                # Its card loses its Roll back button: it no longer shows what runs there.
                deploy_views.show_all(session=session, clock=self.ports.clock, deploy=superseded)
            if row.output_tail:
                enqueue(
                    session=session,
                    clock=self.ports.clock,
                    kind=OUTPUT_JOB,
                    payload={"deploy_id": row.id},
                    idempotency_key=f"deploy:{row.id}:output",
                )
            if rollback:
                self._auto_rollback(session, row)

    def _auto_rollback(self, session: Session, failed: Deploy) -> None:
        current = queries.current_release(
            session=session, service=failed.service, environment=failed.environment
        )
        version = current.version if current else None
        if version is None or version == failed.version:
            log.warning("deploy %s: no earlier good version to roll back to", failed.id)
            return
        try:
            with session.begin_nested():
                request_deploy(
                    session=session,
                    ports=self.ports,
                    ask=DeployAsk(
                        service=failed.service,
                        environment=failed.environment,
                        version=version,
                        user="shipbot",
                        reason=f"automatic rollback: deploy #{failed.id} failed its health check",
                        kind=DeployKind.auto_rollback,
                        rollback_of=failed.id,
                        channel=failed.channel,
                    ),
                )
        except UserError as refused:  # a lock or a deploy in flight: people must decide
            log.warning("deploy %s: automatic rollback refused: %s", failed.id, refused.message)


def _best_effort_cancel(
    backend: DeployBackend, target: DeployTarget, state: Mapping[str, Any]
) -> None:
    try:
        backend.cancel(target, state)
    except Exception:
        log.warning("deploy %s: cancel after timeout failed", target.deploy_id, exc_info=True)
