"""How each flow plugs into a shipbot process, without editing the runtime.

Every flow has one ``bot/<flow>_wiring.py`` with ``wire(wiring: Wiring) -> None`` that
adds its job handlers, renderers, Bolt listeners, HTTP routes and scheduled jobs.
``Runtime`` calls each ``wire`` in ``FLOWS`` before it builds the worker, the Bolt app,
the HTTP app and the scheduler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from starlette.routing import BaseRoute

from bot.app import Registrar
from bot.deps import Deps
from bot.sender import RendererRegistry
from workflows.jobs import JobHandler


@dataclass
class Wiring:
    deps: Deps
    renderers: RendererRegistry
    state_dir: Path
    job_handlers: dict[str, JobHandler] = field(default_factory=dict)
    registrars: list[Registrar] = field(default_factory=list)
    routes: list[BaseRoute] = field(default_factory=list)
    schedules: list[Callable[[BackgroundScheduler], None]] = field(default_factory=list)

    def handle_jobs(self, kind: str, handler: JobHandler) -> None:
        if kind in self.job_handlers:
            raise ValueError(f"a handler for job kind {kind!r} is already wired")
        self.job_handlers[kind] = handler


def flows() -> list[Callable[[Wiring], None]]:
    """The ``wire`` function of every flow, in a fixed order."""
    from bot import alert_wiring, deploy_wiring, incident_wiring, report_wiring

    return [deploy_wiring.wire, incident_wiring.wire, alert_wiring.wire, report_wiring.wire]
