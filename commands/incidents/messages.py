"""The renderer of each incident message, keyed by its view prefix: the pinned card,
the announcements, the update reminders and what the channel hears about its service
(deploys, locks, break-glass), each a pure function of stored state."""

from __future__ import annotations

from sqlmodel import Session

from commands.common.seams import RenderedMessage, Renderer
from commands.incidents import aftercare_views, deploy_notes, views
from workflows.config import ShipbotConfig
from workflows.incidents import effects, queries, watch
from workflows.incidents.models import Incident
from workflows.incidents.postmortem import format_duration
from workflows.incidents.reminders import snooze_of, update_every


def renderers(config: ShipbotConfig) -> dict[str, Renderer]:
    """The renderer of each incident view-key prefix."""

    def card(session: Session, view_key: str) -> RenderedMessage | None:
        incident_id = effects.view_id(view_key, effects.CARD_PREFIX)
        incident = session.get(Incident, incident_id) if incident_id else None
        if incident is None or incident.id is None:
            return None
        events = queries.timeline(session=session, incident_id=incident.id)
        deploys = queries.deploys_before(session=session, incident=incident)
        follow_ups = config.incidents.tracker is not None
        text, blocks = views.card(incident, events, deploys, follow_ups=follow_ups)
        return RenderedMessage(text=text, blocks=blocks)

    def announcement(session: Session, view_key: str) -> RenderedMessage | None:
        event_id = effects.view_id(view_key, effects.ANNOUNCE_PREFIX)
        event = queries.get_event(session=session, event_id=event_id) if event_id else None
        incident = session.get(Incident, event.incident_id) if event else None
        if event is None or incident is None or incident.private:
            return None  # a private incident is never announced
        text, blocks = views.announcement(incident, event)
        return RenderedMessage(text=text, blocks=blocks)

    def reminder(session: Session, view_key: str) -> RenderedMessage | None:
        event_id = effects.view_id(view_key, effects.REMINDER_PREFIX)
        event = queries.get_event(session=session, event_id=event_id) if event_id else None
        incident = session.get(Incident, event.incident_id) if event else None
        if event is None or incident is None:
            return None
        every = format_duration(update_every(config=config, severity=incident.severity))
        snooze = snooze_of(session=session, reminder=event)
        text, blocks = views.reminder(incident, event, snooze, every=every)
        return RenderedMessage(text=text, blocks=blocks)

    def archive_warning(session: Session, view_key: str) -> RenderedMessage | None:
        event_id = effects.view_id(view_key, effects.ARCHIVE_WARNING_PREFIX)
        event = queries.get_event(session=session, event_id=event_id) if event_id else None
        incident = session.get(Incident, event.incident_id) if event else None
        if event is None or incident is None:
            return None
        text, blocks = aftercare_views.archive_warning(incident, event)
        return RenderedMessage(text=text, blocks=blocks)

    return {
        effects.ARCHIVE_WARNING_PREFIX: archive_warning,
        effects.CARD_PREFIX: card,
        effects.ANNOUNCE_PREFIX: announcement,
        effects.REMINDER_PREFIX: reminder,
        **_service_renderers(),
    }


def _service_renderers() -> dict[str, Renderer]:
    """What an incident channel hears about its service: a deploy's message, a lock,
    unlock or break-glass note (workflows.incidents.watch)."""

    def deploy(session: Session, view_key: str) -> RenderedMessage | None:
        watched = watch.load_watched(session=session, view_key=view_key)
        if watched is None:
            return None
        text, blocks = deploy_notes.deploy_note(watched)
        return RenderedMessage(text=text, blocks=blocks)

    def note(session: Session, view_key: str) -> RenderedMessage | None:
        found = watch.load_note(session=session, view_key=view_key)
        if found is None:
            return None
        text, blocks = deploy_notes.change_note(*found)
        return RenderedMessage(text=text, blocks=blocks)

    return {watch.DEPLOY_PREFIX: deploy, watch.NOTE_PREFIX: note}
