"""The jobs of what happens after an incident: archiving its channel (a Slack call), the
warning before (a message, see ``messages``), and filing follow-ups in the tracker.

Archiving is checked against the stored schedule just before Slack is asked (a reopened
incident's archive job does nothing) and stored after; ``already_archived`` counts as done,
so a retry after a crash between the two stores it without a second archive."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from workflows.config.models import ShipbotConfig
from workflows.incidents import effects
from workflows.incidents.aftercare import (
    archive_payload,
    record_archived,
    still_due,
    warn_before_archive,
)
from workflows.incidents.followups import file_follow_up
from workflows.incidents.trackers import Tracker, tracker_for
from workflows.jobs import JobContext, JobHandler

log = logging.getLogger(__name__)


class AftercareJobs:
    def __init__(
        self,
        *,
        client_factory: Callable[[], WebClient],
        config: ShipbotConfig,
        tracker_factory: Callable[[], Tracker | None] | None = None,
    ) -> None:
        self.client = client_factory
        self.config = config
        self.tracker = tracker_factory or (lambda: tracker_for(config.incidents.tracker))

    def handlers(self) -> dict[str, JobHandler]:
        return {
            effects.ARCHIVE_WARNING: warn_before_archive,
            effects.ARCHIVE: self.archive,
            effects.FOLLOW_UP: lambda context: file_follow_up(context, tracker=self.tracker),
        }

    def archive(self, context: JobContext) -> None:
        incident_id, due = archive_payload(context)
        with context.database.read_session() as session:
            incident = still_due(session=session, incident_id=incident_id, due=due)
        if incident is None or incident.channel_id is None:
            return
        try:
            self.client().conversations_archive(channel=incident.channel_id)
        except SlackApiError as error:
            if str(error.response.get("error") or "") != "already_archived":
                raise
        with context.database.transaction() as session:
            record_archived(session=session, clock=context.clock, incident_id=incident_id, due=due)
        log.info("archived the channel %s of incident %s", incident.channel_id, incident_id)
