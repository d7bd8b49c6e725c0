"""The Slack side of incidents: ``/incident``, the card's buttons and forms, the
incident's messages and the jobs that create and tend its channel."""

from __future__ import annotations

from commands.common.seams import Registry
from commands.incidents import actions, events, handlers, messages, views
from commands.incidents.aftercare_jobs import AftercareJobs
from commands.incidents.slack_jobs import IncidentSlackJobs
from workflows.config import ShipbotConfig


def register(registry: Registry) -> None:
    registry.command("/incident", handlers.SPEC.dispatch, deferrable=handlers.deferrable)
    registry.event(events.MEMBER_JOINED, events.joined)
    registry.action(views.OPEN_STATUS, actions.open_status)
    registry.action(views.OPEN_ASSIGN, actions.open_assign)
    registry.action(views.OPEN_RESOLVE, actions.open_resolve)
    registry.action(views.SNOOZE_ACTION, actions.snooze)
    registry.submission(views.DECLARE_MODAL, actions.submit_declare)
    registry.submission(views.STATUS_MODAL, actions.submit_status)
    registry.submission(views.ASSIGN_MODAL, actions.submit_assign)
    registry.submission(views.RESOLVE_MODAL, actions.submit_resolve)
    registry.action(views.OPEN_FOLLOW_UP, actions.open_follow_up)
    registry.submission(views.FOLLOW_UP_MODAL, actions.submit_follow_ups)
    deps = registry.deps
    config = deps.config if deps.config is not None else ShipbotConfig()
    for prefix, render in messages.renderers(config).items():
        registry.renderer(prefix, render)
    jobs = IncidentSlackJobs(client_factory=lambda: deps.client, config=config)
    aftercare = AftercareJobs(client_factory=lambda: deps.client, config=config)
    for kind, handler in {**jobs.handlers(), **aftercare.handlers()}.items():
        registry.job(kind, handler)
