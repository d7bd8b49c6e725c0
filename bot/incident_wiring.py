"""Plugs the incident flow into a shipbot process (see ``bot.wiring``).

The Slack steps of an incident are separate idempotent jobs: create the channel, invite
people, set the topic, pin the card, upload the postmortem draft. The card, the
announcements and the reminders are views rendered by the sender (``bot.sender``).

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

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import update
from sqlmodel import Session, col

from bot.deps import Deps
from bot.listeners import on_action, on_submission
from bot.sender import PERMANENT_ERRORS, RenderedMessage, RendererRegistry
from bot.wiring import Wiring
from commands.incidents import handlers as commands
from commands.incidents import views
from workflows.config.models import SEVERITIES, ShipbotConfig
from workflows.incidents import effects, queries
from workflows.incidents.declare import (
    channel_owner,
    channel_ready,
    declare_from_alert,
    record_channel_name,
)
from workflows.incidents.models import Incident
from workflows.incidents.naming import MAX_SUFFIX, channel_base_name, channel_name_candidates
from workflows.incidents.postmortem import (
    format_duration,
    postmortem_filename,
    postmortem_markdown,
)
from workflows.incidents.reminders import remind, snooze_of, update_every
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


def _failure(error: SlackApiError) -> Exception:
    """What a job raises for a Slack error: 429 waits, permanent errors give up, the rest
    is retried with backoff."""
    code = _code(error)
    if error.response.status_code == 429 or code == "ratelimited":
        retry_after = str(error.response.headers.get("Retry-After", "1"))
        seconds = int(retry_after) if retry_after.isdigit() else 1
        return RetryLater(timedelta(seconds=max(seconds, 1)), reason="Slack rate limit")
    if code in PERMANENT_ERRORS or code.startswith("invalid_name"):
        return PermanentJobError(f"Slack refused: {code}")
    return error


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
                response = client.conversations_create(name=name)
            except SlackApiError as error:
                if _code(error) != "name_taken":
                    raise _failure(error) from error
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
        for channel in self._public_channels(client):
            if channel.get("name") != name:
                continue
            if channel.get("creator") != bot_user:
                return None  # someone else's channel took the name first
            with context.database.read_session() as session:
                owner = channel_owner(session=session, channel_id=str(channel["id"]))
            return str(channel["id"]) if owner in (None, incident.id) else None
        return None

    def _public_channels(self, client: WebClient) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        for _ in range(_LIST_PAGES):
            response = client.conversations_list(
                types="public_channel", exclude_archived=True, limit=1000, cursor=cursor
            )
            yield from response.get("channels") or []
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return

    # -- people, topic, pin -------------------------------------------------------------

    def _people(self, client: WebClient, incident: Incident) -> list[str]:
        """Declarer, role holders and the severity's responders (user groups expanded)."""
        named = [incident.declared_by, incident.commander, incident.comms, incident.scribe]
        users = {user for user in named if user and user[:1] in ("U", "W")}
        severity = incident.severity if incident.severity in SEVERITIES else "SEV4"
        policy = self.config.incidents.severity(severity)  # type: ignore[arg-type]
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
        users = self._people(client, incident)
        if not users:
            return
        try:
            client.conversations_invite(channel=incident.channel_id, users=users, force=True)
        except SlackApiError as error:
            code = _code(error)
            if code == "already_in_channel":
                return
            if code not in _PER_USER_ERRORS or len(users) == 1:
                raise _failure(error) from error
            self._invite_one_by_one(client, incident.channel_id, users)

    def _invite_one_by_one(self, client: WebClient, channel: str, users: list[str]) -> None:
        for user in users:
            try:
                client.conversations_invite(channel=channel, users=[user])
            except SlackApiError as error:
                code = _code(error)
                if code != "already_in_channel" and code not in _PER_USER_ERRORS:
                    raise _failure(error) from error
                if code != "already_in_channel":
                    log.warning("could not invite %s to %s: %s", user, channel, code)

    def set_topic(self, context: JobContext) -> None:
        incident = _load(context)
        if incident is None or incident.channel_id is None:
            return
        try:
            self.client().conversations_setTopic(
                channel=incident.channel_id, topic=views.topic(incident)
            )
        except SlackApiError as error:
            raise _failure(error) from error

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
                raise _failure(error) from error

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
        try:
            response = self.client().files_upload_v2(
                channel=incident.channel_id,
                content=markdown,
                filename=postmortem_filename(incident),
                title=f"Postmortem draft: {incident.title}",
                initial_comment="Here is a postmortem draft from the incident record.",
            )
        except SlackApiError as error:
            raise _failure(error) from error
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


# --- renderers -------------------------------------------------------------------------


def make_renderers(config: ShipbotConfig) -> dict[str, Callable[[Session, str], Any]]:
    """The renderer of each incident view-key prefix."""

    def card(session: Session, view_key: str) -> RenderedMessage | None:
        incident_id = effects.view_id(view_key, effects.CARD_PREFIX)
        incident = session.get(Incident, incident_id) if incident_id else None
        if incident is None or incident.id is None:
            return None
        events = queries.timeline(session=session, incident_id=incident.id)
        deploys = queries.deploys_before(session=session, incident=incident)
        text, blocks = views.card(incident, events, deploys)
        return RenderedMessage(text=text, blocks=blocks)

    def announcement(session: Session, view_key: str) -> RenderedMessage | None:
        event_id = effects.view_id(view_key, effects.ANNOUNCE_PREFIX)
        event = queries.get_event(session=session, event_id=event_id) if event_id else None
        incident = session.get(Incident, event.incident_id) if event else None
        if event is None or incident is None:
            return None
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

    return {
        effects.CARD_PREFIX: card,
        effects.ANNOUNCE_PREFIX: announcement,
        effects.REMINDER_PREFIX: reminder,
    }


def register_renderers(registry: RendererRegistry, config: ShipbotConfig) -> None:
    for prefix, renderer in make_renderers(config).items():
        registry.register(prefix, renderer)


def register_listeners(app: App, deps: Deps) -> None:
    """The card's buttons, the reminder's Snooze and the four modals."""
    on_action(app, deps, views.OPEN_STATUS, commands.open_status)
    on_action(app, deps, views.OPEN_ASSIGN, commands.open_assign)
    on_action(app, deps, views.OPEN_RESOLVE, commands.open_resolve)
    on_action(app, deps, views.SNOOZE_ACTION, commands.snooze)
    on_submission(app, deps, views.DECLARE_MODAL, commands.submit_declare)
    on_submission(app, deps, views.STATUS_MODAL, commands.submit_status)
    on_submission(app, deps, views.ASSIGN_MODAL, commands.submit_assign)
    on_submission(app, deps, views.RESOLVE_MODAL, commands.submit_resolve)


def wire(wiring: Wiring) -> None:
    """Job handlers, renderers and Bolt listeners of the incident flow."""
    deps = wiring.deps
    config = deps.config if deps.config is not None else ShipbotConfig()
    jobs = IncidentSlackJobs(client_factory=lambda: deps.client, config=config)
    for kind, handler in jobs.handlers().items():
        wiring.handle_jobs(kind, handler)
    register_renderers(wiring.renderers, config)
    wiring.registrars.append(register_listeners)
