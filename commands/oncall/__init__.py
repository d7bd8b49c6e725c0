"""The Slack side of on-call: the page and responder messages, and the on-call jobs.
The ``/incident oncall`` and ``/incident page`` sub-commands live in ``handlers`` and are
listed in ``/incident``'s spec."""

from __future__ import annotations

from sqlmodel import Session

from commands.common.seams import Registry, RenderedMessage
from commands.oncall import views
from commands.oncall.handlers import providers_for
from commands.oncall.jobs import invite_responders
from workflows.config import ShipbotConfig
from workflows.incidents.effects import view_id
from workflows.incidents.models import Incident
from workflows.oncall import paging, responders


def _page(session: Session, view_key: str) -> RenderedMessage | None:
    page_id = view_id(view_key, paging.PAGE_PREFIX)
    page = paging.get_page(session=session, page_id=page_id) if page_id else None
    if page is None:
        return None
    text, blocks = views.page_message(page)
    return RenderedMessage(text=text, blocks=blocks)


def _responders(session: Session, view_key: str) -> RenderedMessage | None:
    incident_id = view_id(view_key, responders.RESPONDERS_PREFIX)
    incident = session.get(Incident, incident_id) if incident_id else None
    if incident is None or incident.id is None:
        return None
    stored = responders.stored_responders(session=session, incident_id=incident.id)
    if not stored:
        return None
    text, blocks = views.responders_message(stored, incident.severity)
    return RenderedMessage(text=text, blocks=blocks)


def register(registry: Registry) -> None:
    deps = registry.deps
    config = deps.config if deps.config is not None else ShipbotConfig()
    providers = providers_for(config)
    registry.renderer(paging.PAGE_PREFIX, _page)
    registry.renderer(responders.RESPONDERS_PREFIX, _responders)
    registry.job(paging.PAGE, lambda context: paging.send_page(context, providers=providers))
    registry.job(paging.POLL, lambda context: paging.poll_page(context, providers=providers))
    registry.job(
        responders.LOOK_UP,
        lambda context: responders.look_up_responders(context, providers=providers),
    )
    registry.job(responders.INVITE, invite_responders(lambda: deps.client))
