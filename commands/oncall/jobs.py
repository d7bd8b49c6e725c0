"""The Slack step of on-call responders: invite the people the lookup stored.

Each person is invited on their own, so one who cannot be invited (deactivated, a guest)
does not keep the others out; ``already_in_channel`` is success (a rerun, or the person
was invited as a responder already)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from workflows.incidents.models import Incident
from workflows.jobs import JobContext, PermanentJobError
from workflows.oncall.responders import users_to_invite

log = logging.getLogger(__name__)
_SKIP = frozenset(
    {
        "already_in_channel",
        "user_not_found",
        "cant_invite_self",
        "cant_invite",
        "user_is_restricted",
        "ura_max_channels",
    }
)


def invite_responders(client: Callable[[], WebClient]) -> Callable[[JobContext], None]:
    def handler(context: JobContext) -> None:
        try:
            incident_id = int(context.job.payload["incident_id"])
        except (KeyError, TypeError, ValueError) as error:
            raise PermanentJobError(f"job {context.job.id} has no incident_id") from error
        with context.database.read_session() as session:
            incident = session.get(Incident, incident_id)
            users = users_to_invite(session=session, incident_id=incident_id)
        if incident is None or incident.channel_id is None:
            return
        for user in users:
            try:
                client().conversations_invite(channel=incident.channel_id, users=[user])
            except SlackApiError as error:
                code = str(error.response.get("error") or "")
                if code not in _SKIP:
                    raise
                if code != "already_in_channel":
                    log.warning("could not invite on-call %s to %s: %s", user, incident_id, code)

    return handler
