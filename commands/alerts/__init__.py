"""The Slack side of alerts: one message per alert group, kept current. The webhooks
themselves are HTTP routes of the runtime (``bot.hooks``); the
``incident.declare_from_alert`` jobs they enqueue belong to the incidents domain."""

from __future__ import annotations

from sqlmodel import Session

from commands.alerts.views import render_alert_group
from commands.common.seams import Registry, RenderedMessage
from workflows.alerts.groups import GROUP_VIEW_PREFIX, get_group, group_id_of_view
from workflows.alerts.sns import CONFIRM_JOB_KIND, https_get, make_confirm_handler


def render_alert_group_message(session: Session, view_key: str) -> RenderedMessage | None:
    """The message of ``alert-group:<id>`` from the stored group; None if it is gone."""
    group_id = group_id_of_view(view_key)
    group = get_group(session=session, group_id=group_id) if group_id is not None else None
    if group is None:
        return None
    text, blocks = render_alert_group(group)
    return RenderedMessage(text=text, blocks=blocks)


def register(registry: Registry) -> None:
    registry.renderer(GROUP_VIEW_PREFIX, render_alert_group_message)
    registry.job(CONFIRM_JOB_KIND, make_confirm_handler(https_get))
