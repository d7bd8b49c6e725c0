"""Plugs the alert flow into a shipbot process (see ``bot.wiring``): the ``/hooks/<source>``
routes, the renderer of alert group messages (``alert-group:<id>``) and the job that
confirms SNS subscriptions. The ``incident.declare_from_alert`` jobs it enqueues are
handled by the incident flow."""

from __future__ import annotations

from sqlmodel import Session

from bot.hooks import build_hook_routes, https_get
from bot.sender import RenderedMessage
from bot.wiring import Wiring
from commands.alerts.views import render_alert_group
from workflows.alerts.groups import GROUP_VIEW_PREFIX, get_group, group_id_of_view
from workflows.alerts.sns import CONFIRM_JOB_KIND, make_confirm_handler


def render_alert_group_message(session: Session, view_key: str) -> RenderedMessage | None:
    """The message of ``alert-group:<id>`` from the stored group; None if it is gone."""
    group_id = group_id_of_view(view_key)
    group = get_group(session=session, group_id=group_id) if group_id is not None else None
    if group is None:
        return None
    text, blocks = render_alert_group(group)
    return RenderedMessage(text=text, blocks=blocks)


def wire(wiring: Wiring) -> None:
    wiring.routes.extend(build_hook_routes(wiring.deps))
    wiring.renderers.register(GROUP_VIEW_PREFIX, render_alert_group_message)
    wiring.handle_jobs(CONFIRM_JOB_KIND, make_confirm_handler(https_get))
