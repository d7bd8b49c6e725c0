"""The Slack steps of an incident, each a separate idempotent job: create the channel,
invite people, set the topic, pin the card, upload the postmortem draft. The card, the
announcements and the reminders are messages (``commands.incidents.messages``).

A ``SlackApiError`` these let escape becomes the job's outcome through the runtime's one
mapper (429 waits, permanent errors give up, the rest retries); only the answers that
mean something here (``name_taken``, ``already_in_channel``...) are handled below.

Creating the channel exactly once: the job stores the name it is about to try *before*
calling ``conversations.create`` and stores the channel id (with every follow-up job) in
the transaction right after Slack answers. A run that finds a name stored but no channel
may be the retry of a run that crashed between Slack's ok and that commit, so for that
name only, ``name_taken`` is checked with ``conversations.list``: an unarchived channel of
that name created by this bot (``auth.test``) and owned by no other incident is adopted.
Any other ``name_taken`` means someone else has the name: the next suffix (-2, -3, ...)
is tried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import update
from sqlmodel import col

from commands.common.reply import escape
from commands.incidents import views
from workflows.config.models import SEVERITIES, ShipbotConfig
from workflows.incidents import effects
from workflows.incidents.declare import (
    channel_owner,
    channel_ready,
    declare_from_alert,
    record_channel_name,
)
from workflows.incidents.models import Incident
from workflows.incidents.naming import MAX_SUFFIX, channel_base_name, channel_name_candidates
from workflows.incidents.postmortem import (
    postmortem_filename,
    postmortem_markdown,
)
from workflows.incidents.reminders import remind
from workflows.incidents.visibility import add_members, members
from workflows.jobs import JobContext, JobHandler, PermanentJobError, RetryLater
from workflows.views import load_message

log = logging.getLogger(__name__)

# How long the pin waits for the card's first post, and the postmortem for the channel.
PIN_PATIENCE = timedelta(hours=1)
CHANNEL_PATIENCE = timedelta(days=1)
# Invite errors about one person that should not stop the others being invited.
_PER_USER_ERRORS = frozenset(
    {"user_not_found", "cant_invite_self", "cant_invite", "user_is_restricted", "ura_max_channels"}
)
_LIST_PAGES = 50


def _code(error: SlackApiError) -> str:
    return str(error.response.get("error") or "")


def _incident_id(context: JobContext) -> int:
    try:
        return int(context.job.payload["incident_id"])
    except (KeyError, TypeError, ValueError) as error:
        raise PermanentJobError(f"job {context.job.id} has no incident_id") from error


def _load(context: JobContext) -> Incident | None:
    with context.database.read_session() as session:
        return session.get(Incident, _incident_id(context))


class IncidentSlackJobs:
    """The handlers of the incident jobs that call Slack."""

    def __init__(self, *, client_factory: Callable[[], WebClient], config: ShipbotConfig) -> None:
        self.client = client_factory
        self.config = config

    def handlers(self) -> dict[str, JobHandler]:
        return {
            effects.CREATE_CHANNEL: self.create_channel,
            effects.INVITE: self.invite,
            effects.SET_TOPIC: self.set_topic,
            effects.PIN_CARD: self.pin_card,
            effects.POSTMORTEM: self.postmortem,
            effects.REMIND: lambda context: remind(context, config=self.config),
            effects.DECLARE_FROM_ALERT: lambda context: declare_from_alert(
                context, config=self.config
            ),
        }

    # -- the channel ---------------------------------------------------------------------

    def create_channel(self, context: JobContext) -> None:
        incident = _load(context)
        if incident is None or incident.channel_id is not None:
            return
        assert incident.id is not None
        base = channel_base_name(
            prefix=self.config.incidents.channel_prefix,
            declared_at=incident.declared_at,
            title=incident.title,
        )
        candidates = channel_name_candidates(base)
        attempted = incident.channel_name
        start = candidates.index(attempted) if attempted in candidates else 0
        client = self.client()
        for position, name in enumerate(candidates[start:]):
            sent_before = position == 0 and name == attempted
            if not sent_before:
                with context.database.transaction() as session:
                    if not record_channel_name(session=session, incident_id=incident.id, name=name):
                        return  # another run stored the channel meanwhile
            try:
                response = client.conversations_create(name=name, is_private=incident.private)
            except SlackApiError as error:
                if _code(error) != "name_taken":
                    raise
                found = self._own_channel(client, context, incident, name) if sent_before else None
                if found is None:
                    continue
                channel_id = found
            else:
                channel_id = str(response["channel"]["id"])
            with context.database.transaction() as session:
                channel_ready(
                    session=session,
                    clock=context.clock,
                    config=self.config,
                    incident_id=incident.id,
                    channel_id=channel_id,
                    channel_name=name,
                )
            log.info("incident %s has channel #%s (%s)", incident.id, name, channel_id)
            return
        raise PermanentJobError(f"channel names {base} to {base}-{MAX_SUFFIX} are all taken")

    def _own_channel(
        self, client: WebClient, context: JobContext, incident: Incident, name: str
    ) -> str | None:
        """The channel ``name`` if an earlier run of this job created it, else None."""
        bot_user = str(client.auth_test()["user_id"])
        for channel in self._channels(client, private=incident.private):
            if channel.get("name") != name:
                continue
            if channel.get("creator") != bot_user:
                return None  # someone else's channel took the name first
            with context.database.read_session() as session:
                owner = channel_owner(session=session, channel_id=str(channel["id"]))
            return str(channel["id"]) if owner in (None, incident.id) else None
        return None

    def _channels(self, client: WebClient, *, private: bool) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        types = "private_channel" if private else "public_channel"
        for _ in range(_LIST_PAGES):
            response = client.conversations_list(
                types=types, exclude_archived=True, limit=1000, cursor=cursor
            )
            yield from response.get("channels") or []
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return

    # -- people, topic, pin -------------------------------------------------------------

    def _people(self, client: WebClient, context: JobContext, incident: Incident) -> list[str]:
        """Declarer, role holders, the stored members (``/incident invite``) and the
        severity's responders (user groups expanded)."""
        assert incident.id is not None
        named = [incident.declared_by, incident.commander, incident.comms, incident.scribe]
        users = {user for user in named if user and user[:1] in ("U", "W")}
        with context.database.read_session() as session:
            users |= members(session=session, incident_id=incident.id)
        severity = incident.severity if incident.severity in SEVERITIES else "SEV4"
        policy = self.config.incidents.severity(severity)
        principals = self.config.principals(policy.responders)
        users |= principals.users
        for usergroup in sorted(principals.usergroups):
            users.update(client.usergroups_users_list(usergroup=usergroup).get("users") or [])
        return sorted(users)

    def invite(self, context: JobContext) -> None:
        incident = _load(context)
        if incident is None or incident.channel_id is None:
            return
        client = self.client()
        users = self._people(client, context, incident)
        if not users:
            return
        with context.database.transaction() as session:
            # Whoever is invited may see a private incident (workflows.incidents.visibility).
            add_members(
                session=session,
                clock=context.clock,
                incident_id=_incident_id(context),
                users=users,
                added_by="shipbot",
            )
        try:
            client.conversations_invite(channel=incident.channel_id, users=users, force=True)
        except SlackApiError as error:
            code = _code(error)
            if code == "already_in_channel":
                return
            if code not in _PER_USER_ERRORS or len(users) == 1:
                raise
            self._invite_one_by_one(client, incident.channel_id, users)

    def _invite_one_by_one(self, client: WebClient, channel: str, users: list[str]) -> None:
        for user in users:
            try:
                client.conversations_invite(channel=channel, users=[user])
            except SlackApiError as error:
                code = _code(error)
                if code != "already_in_channel" and code not in _PER_USER_ERRORS:
                    raise
                if code != "already_in_channel":
                    log.warning("could not invite %s to %s: %s", user, channel, code)

    def set_topic(self, context: JobContext) -> None:
        incident = _load(context)
        if incident is None or incident.channel_id is None:
            return
        self.client().conversations_setTopic(
            channel=incident.channel_id, topic=views.topic(incident)
        )

    def pin_card(self, context: JobContext) -> None:
        """Pin the card once its first post has a ``ts`` (the render job cannot pin)."""
        view_key = effects.card_view_key(_incident_id(context))
        message = load_message(database=context.database, view_key=view_key)
        if message is None or message.ts is None:
            if context.clock.now() - context.job.created_at > PIN_PATIENCE:
                raise PermanentJobError(f"{view_key} was never posted; nothing to pin")
            raise RetryLater(timedelta(seconds=1), reason=f"{view_key} is not posted yet")
        try:
            self.client().pins_add(channel=message.channel, timestamp=message.ts)
        except SlackApiError as error:
            if _code(error) != "already_pinned":
                raise

    # -- postmortem -----------------------------------------------------------------------

    def postmortem(self, context: JobContext) -> None:
        """Upload the draft once. A crash between Slack's ok and storing the file id can
        upload a second copy on retry (Slack has no idempotent upload)."""
        incident = _load(context)
        if incident is None or incident.postmortem_file_id is not None:
            return
        if incident.channel_id is None:
            if context.clock.now() - context.job.created_at > CHANNEL_PATIENCE:
                raise PermanentJobError(f"incident {incident.id} never got a channel")
            raise RetryLater(timedelta(seconds=30), reason="the incident channel is not ready")
        assert incident.id is not None
        with context.database.read_session() as session:
            markdown = postmortem_markdown(
                session=session, config=self.config, incident_id=incident.id
            )
        response = self.client().files_upload_v2(
            channel=incident.channel_id,
            content=markdown,
            filename=postmortem_filename(incident),
            title=f"Postmortem draft: {escape(incident.title)}",
            initial_comment="Here is a postmortem draft from the incident record.",
        )
        uploaded = response.get("file") or (response.get("files") or [{}])[0]
        with context.database.transaction() as session:
            session.exec(
                update(Incident)
                .where(col(Incident.id) == incident.id, col(Incident.postmortem_file_id).is_(None))
                .values(postmortem_file_id=str(uploaded.get("id", "")))
            )
            stored = session.get(Incident, incident.id)
            if stored is not None:
                effects.render_card(session=session, clock=context.clock, incident=stored)
