"""Listeners with a real durable effect, registered through the app's public seam
(`extra_registrars`), to prove the exactly-once and error paths end to end."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from sqlmodel import Session

from bot.deps import Deps
from commands.common.seams import RenderedMessage
from workflows import audit
from workflows.delivery import claim_delivery
from workflows.errors import PermissionDenied
from workflows.views import request_render


def record_click(deps: Deps, *, actor: str, key: str, target: str) -> None:
    with deps.database.transaction() as session:
        claim_delivery(session=session, clock=deps.clock, key=key, source="slack")
        audit.record(
            session=session, clock=deps.clock, actor=actor, action="test.click", target=target
        )


def register_test_listeners(app: App, deps: Deps) -> None:
    @app.action("count_me")
    def count_me(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        ack()
        record_click(
            deps,
            actor=body["user"]["id"],
            key=context["delivery_key"],
            target=body["actions"][0]["value"],
        )

    @app.action("set_status")
    def set_status(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        """A stored object changes and its message is re-rendered (rule 3)."""
        ack()
        status = body["actions"][0]["value"]
        with deps.database.transaction() as session:
            claim_delivery(
                session=session, clock=deps.clock, key=context["delivery_key"], source="slack"
            )
            audit.record(
                session=session,
                clock=deps.clock,
                actor=body["user"]["id"],
                action="test.status",
                target="widget",
                params={"status": status},
            )
            request_render(
                session=session, clock=deps.clock, view_key="widget:1", channel="C0DEPLOYS"
            )
        deps.wake_worker()

    @app.action("explode")
    def explode(ack: Ack) -> None:
        ack()
        raise RuntimeError("database password is hunter2-secret")

    @app.action("forbidden")
    def forbidden(ack: Ack) -> None:
        ack()
        raise PermissionDenied(
            "Only the sre group may approve production deploys.", hint="Ask in #sre."
        )

    @app.event("app_mention")
    def mention(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
        record_click(deps, actor=event["user"], key=context["delivery_key"], target="mention")


def render_widget(session: Session, view_key: str) -> RenderedMessage:
    """The widget's message, built only from stored state: its latest audited status."""
    (latest,) = audit.entries(session=session, action="test.status", target="widget", limit=1)
    status = latest.params["status"]
    return RenderedMessage(
        text=f"widget is {status}",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": f"*widget* is {status}"}}],
    )
