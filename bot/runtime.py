"""Everything one shipbot process runs, wired from settings: store, Slack client, Bolt
app, HTTP app, worker and scheduler. `serve`, `dev` and the end-to-end tests build this."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from bot import deferred
from bot.app import Registrar, build_bolt_app, build_loop_lane
from bot.audit_metrics import watch_audit
from bot.deps import Deps
from bot.hooks import build_hook_routes
from bot.http import InFlight, ReadinessCheck, build_http_app
from bot.logging_setup import redact_all_records
from bot.metrics import Metrics
from bot.scheduler import build_scheduler, schedule_reports
from bot.sender import make_render_handler
from bot.settings import Settings
from bot.slack_client import make_client
from bot.wiring import wire_domains
from bot.worker import Worker
from commands.common.directory import SlackDirectory
from commands.shipbot.handlers import shipbot_version
from workflows.clock import Clock, SystemClock
from workflows.config import ShipbotConfig
from workflows.jobs import counts_by_state
from workflows.store.db import Database

log = logging.getLogger("shipbot.runtime")


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        config: ShipbotConfig | None = None,
        clock: Clock | None = None,
        database: Database | None = None,
        extra_registrars: Iterable[Registrar] = (),
        upgrade_sqlite: bool = True,
    ) -> None:
        token, signing_secret = settings.require_http_credentials()
        redact_all_records()  # the output boundary for logs, whoever configured handlers
        self.settings = settings
        self.clock = clock or SystemClock()
        self.metrics = Metrics(version=shipbot_version())
        self.database = self._open_database(database, upgrade_sqlite=upgrade_sqlite)
        # Socket mode adds its check once connected (bot/socket_mode.py).
        self.readiness_checks: list[ReadinessCheck] = []
        self.client = make_client(token=token, base_url=settings.api_url, metrics=self.metrics)
        self.deps = self._build_deps(token=token, config=config)
        self.wiring = wire_domains(deps=self.deps, state_dir=Path(settings.state_dir))
        self.renderers = self.wiring.renderers
        self.acks_in_flight = InFlight()
        self.worker = self._build_worker()
        self.deps.worker = self.worker
        self.metrics.watch_jobs(self._job_counts)
        self.bolt = build_bolt_app(
            self.wiring,
            signing_secret=signing_secret,
            extra_registrars=extra_registrars,
        )
        self.http = build_http_app(
            bolt_app=self.bolt,
            signing_secret=signing_secret,
            database=self.database,
            metrics=self.metrics,
            extra_routes=build_hook_routes(self.deps, in_flight=self.acks_in_flight),
            readiness_checks=self.readiness_checks,
            threads=settings.http_threads,
            in_flight=self.acks_in_flight,
            loop_lane=build_loop_lane(self.bolt, self.wiring),
        )
        self.scheduler = build_scheduler(database=self.database, clock=self.clock)
        schedule_reports(self.scheduler, self.deps)
        self._worker_running = False

    def _open_database(self, database: Database | None, *, upgrade_sqlite: bool) -> Database:
        """The store, watched for audit metrics; an embedded SQLite file kept current."""
        database = database or Database(self.settings.database_url)
        self._unwatch_audit = watch_audit(database.engine, self.metrics.domain)
        if upgrade_sqlite and not database.is_postgres:
            # An embedded SQLite file belongs to this one process: keep it current.
            database.upgrade_if_behind()
        return database

    def _build_deps(self, *, token: str, config: ShipbotConfig | None) -> Deps:
        deps = Deps(
            database=self.database,
            clock=self.clock,
            client=self.client,
            metrics=self.metrics,
            config=config,
            defer_writes=self.settings.ack_mode == "deferred",
        )
        # Its own client with a 2 s timeout: a user-group lookup happens on the ack path,
        # and Slack wants the ack within 3 s.
        deps.directory = SlackDirectory(
            make_client(
                token=token, base_url=self.settings.api_url, metrics=self.metrics, timeout=2
            ),
            clock=self.clock,
        )
        return deps

    def _build_worker(self) -> Worker:
        """The job worker: the render job plus every domain's Slack jobs."""
        return Worker(
            self.database,
            clock=self.clock,
            handlers={
                "render": make_render_handler(
                    client_factory=lambda: self.client, registry=self.renderers
                ),
                **self.wiring.job_handlers,
                deferred.COMMAND_JOB: deferred.command_job(
                    handlers=self.wiring.commands, deps=self.deps
                ),
                deferred.ACTION_JOB: deferred.action_job(
                    handlers=self.wiring.deferrable_actions, deps=self.deps
                ),
            },
            threads=self.settings.worker_threads,
            on_job_finished=self.metrics.on_job_finished,
            acks_in_flight=self.acks_in_flight,
        )

    def _job_counts(self) -> dict[str, int]:
        try:
            with self.database.read_session() as session:
                return counts_by_state(session=session)
        except Exception:  # a scrape during a database outage still shows the other metrics
            log.warning("could not count jobs for /metrics", exc_info=True)
            return {}

    def start_background(self, *, worker: bool = True, scheduler: bool = True) -> None:
        if worker:
            self.worker.start()
            self._worker_running = True
        if scheduler:
            self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._worker_running:
            self.worker.stop(timeout=10)
            self._worker_running = False
        self._unwatch_audit()
        self.database.dispose()
