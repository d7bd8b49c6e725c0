"""``/incident oncall [service|schedule]`` and ``/incident page <service|schedule> <message>``.

``oncall`` is a read: it asks the provider while Slack waits, bounded by
``oncall.timeout`` per request (2 s by default) and ``ANSWER_WITHIN`` in all, side by
side for several schedules, and answers with the reason when a provider does not
answer. Nothing is written. ``page`` writes the page and its job; the trigger is sent
by the worker.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from commands.common.reply import Reply, SlashCommand, escape
from commands.common.seams import Deps
from commands.incidents.flow import by, change, checked, config_of
from commands.oncall import views
from workflows.config.models import ShipbotConfig
from workflows.errors import UserError
from workflows.incidents import queries
from workflows.oncall.lookup import Providers, ask_many, schedule_for
from workflows.oncall.paging import PageRequest, dedup_key, request_page

# Slack wants the ack within 3 s; what is not known by then is answered as not known.
ANSWER_WITHIN = timedelta(seconds=2.5)
_providers: dict[int, tuple[ShipbotConfig, Providers]] = {}
_lock = threading.Lock()


def providers_for(config: ShipbotConfig) -> Providers:
    """One set of provider clients per loaded config (kept with it)."""
    with _lock:
        found = _providers.get(id(config))
        if found is None or found[0] is not config:
            found = (config, Providers(config))
            _providers[id(config)] = found
        return found[1]


def _service_of_channel(deps: Deps, channel_id: str) -> str | None:
    with deps.database.read_session() as session:
        incident = queries.incident_for_channel(session=session, channel_id=channel_id)
    return incident.service if incident is not None else None


def oncall(command: SlashCommand, deps: Deps, rest: str) -> Reply:
    config = config_of(deps)
    words = rest.split()
    asked_for = words[0] if words else _service_of_channel(deps, command.channel_id)
    if words:
        schedules = [schedule_for(config, words[0])]
    elif asked_for is not None and asked_for in config.oncall.services:
        schedules = [config.oncall.services[asked_for]]
    else:
        asked_for, schedules = None, sorted(config.oncall.schedules)
    answers = ask_many(
        providers=providers_for(config),
        schedules=schedules,
        at=deps.clock.now(),
        within=ANSWER_WITHIN,
    )
    text, blocks = views.oncall_answer(answers, asked_for=asked_for)
    return Reply(text=text, blocks=blocks)


def page(command: SlashCommand, deps: Deps, incident_id: int, rest: str) -> Reply:
    words = rest.split(maxsplit=1)
    if len(words) < 2:
        raise UserError(
            "Whom to page, and what to say?", hint="`/incident page <service|schedule> <message>`"
        )
    target, message = words
    config = config_of(deps)
    try:
        request: PageRequest = change(
            deps,
            request_page,
            **checked(deps),
            incident_id=incident_id,
            target=target,
            message=message,
            **by(command),
        )
    except IntegrityError:
        # The same page asked for at the same moment by another delivery: that one stands.
        key = dedup_key(incident_id=incident_id, schedule=schedule_for(config, target))
        return Reply(text=f"This incident is being paged to {escape(target)} already ({key}).")
    schedule = escape(request.page.schedule)
    if not request.created:
        return Reply(
            text=f"Incident #{incident_id} paged *{schedule}* already "
            f"(status: {escape(request.page.status)}); PagerDuty gets one page per incident "
            "and schedule."
        )
    return Reply(text=f"Paging *{schedule}* through PagerDuty for incident #{incident_id}.")
