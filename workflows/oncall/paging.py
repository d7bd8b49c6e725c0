"""Paging (the ``page`` subcommand): one PagerDuty trigger per (incident, schedule),
then who acknowledged.

Exactly once, three times over: the Slack delivery is claimed with the page; the page row
is unique by ``dedup_key`` (``shipbot-incident-<id>-<schedule>``), so the same command
again finds the page already sent; and PagerDuty itself folds any resend of a trigger
with that ``dedup_key`` (a job retried after a crash) into the same incident.

Who acknowledged is learnt by polling ``GET /incidents?incident_key=<dedup_key>`` every
``oncall.pagerduty.poll_every`` for up to ``ACK_PATIENCE`` (a REST token is needed; the
alerts ``pagerduty`` webhook is not used for this, since it needs PagerDuty configured
to send it and arrives with PagerDuty's incident id, not our key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from workflows import audit
from workflows.clock import Clock
from workflows.config.models import ShipbotConfig
from workflows.delivery import claim_delivery
from workflows.deploys.directory import Directory
from workflows.errors import UserError
from workflows.incidents.models import Incident
from workflows.incidents.permissions import check_change
from workflows.incidents.queries import append_event, require_incident
from workflows.incidents.reminders import SYSTEM_ACTOR
from workflows.jobs import JobContext, PermanentJobError, RetryLater, enqueue
from workflows.oncall.base import OnCallPerson, ProviderError
from workflows.oncall.lookup import Providers, schedule_for, slack_user_for
from workflows.oncall.models import OnCallPage
from workflows.views import request_render

PAGE = "oncall.page"
POLL = "oncall.page_poll"
PAGE_PREFIX = "oncall-page:"
SEND_PATIENCE = timedelta(minutes=15)  # keep resending a trigger PagerDuty did not take
ACK_PATIENCE = timedelta(hours=2)  # stop asking who acknowledged after this
RETRY_SEND = timedelta(seconds=20)
MAX_MESSAGE = 900
_TRANSIENT = ("timeout", "unreachable", "server_error")


@dataclass(frozen=True)
class PageRequest:
    page: OnCallPage
    created: bool  # False: this incident paged this schedule before


def page_view_key(page_id: int) -> str:
    return f"{PAGE_PREFIX}{page_id}"


def dedup_key(*, incident_id: int, schedule: str) -> str:
    return f"shipbot-incident-{incident_id}-{schedule}"


def _existing(session: Session, key: str) -> OnCallPage | None:
    return session.exec(select(OnCallPage).where(col(OnCallPage.dedup_key) == key)).first()


def pageable_schedule(config: ShipbotConfig, target: str) -> str:
    """The schedule ``target`` (a service or schedule) names, if it can be paged."""
    schedule = schedule_for(config, target)
    settings = config.oncall.schedules[schedule]
    if settings.provider != "pagerduty" or settings.routing_key is None:
        raise UserError(
            f"Schedule {schedule!r} cannot be paged: only a PagerDuty schedule with a "
            "routing_key can."
        )
    return schedule


def request_page(
    *,
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    directory: Directory,
    actor: str,
    incident_id: int,
    target: str,
    message: str,
    delivery_key: str = "",
    channel: str | None = None,
) -> PageRequest:
    """Record a page of ``target`` (a service or schedule) for an incident; the trigger
    is a job. Whoever may post its status updates may page."""
    if delivery_key:
        claim_delivery(session=session, clock=clock, key=delivery_key, source="slack")
    incident = require_incident(session=session, incident_id=incident_id)
    check_change(
        config=config, directory=directory, incident=incident, actor=actor, change="status"
    )
    schedule = pageable_schedule(config, target)
    text = " ".join(message.split())[:MAX_MESSAGE]
    if not text:
        raise UserError("What should the page say?")
    key = dedup_key(incident_id=incident_id, schedule=schedule)
    found = _existing(session, key)
    if found is not None:
        return PageRequest(page=found, created=False)
    now = clock.now()
    page = OnCallPage(
        incident_id=incident_id,
        schedule=schedule,
        dedup_key=key,
        message=text,
        requested_by=actor,
        channel=incident.channel_id or channel,
        requested_at=now,
        updated_at=now,
    )
    _store(session, clock, incident, page)
    audit.record(
        session=session,
        clock=clock,
        actor=actor,
        action="oncall.page",
        target=f"incident:{incident_id}",
        params={"schedule": schedule, "message": text, "dedup_key": key},
        channel=channel,
    )
    return PageRequest(page=page, created=True)


def _store(session: Session, clock: Clock, incident: Incident, page: OnCallPage) -> None:
    """The page, its timeline line, its job and its message, in the caller's transaction."""
    session.add(page)
    session.flush()
    assert page.id is not None
    append_event(
        session=session,
        incident=incident,
        at=page.requested_at,
        actor=page.requested_by,
        kind="page",
        text=page.message,
        data={"schedule": page.schedule, "page_id": page.id},
    )
    enqueue(
        session=session,
        clock=clock,
        kind=PAGE,
        payload={"page_id": page.id},
        idempotency_key=f"oncall:page:{page.id}",
    )
    _render(session, clock, page)


def _render(session: Session, clock: Clock, page: OnCallPage) -> None:
    if page.channel is not None and page.id is not None:
        request_render(
            session=session, clock=clock, view_key=page_view_key(page.id), channel=page.channel
        )


def _load(context: JobContext) -> OnCallPage | None:
    try:
        page_id = int(context.job.payload["page_id"])
    except (KeyError, TypeError, ValueError) as error:
        raise PermanentJobError(f"job {context.job.id} has no page_id") from error
    with context.database.read_session() as session:
        return session.get(OnCallPage, page_id)


def _move(context: JobContext, page: OnCallPage, *, expected: str, **values: object) -> bool:
    """``UPDATE ... WHERE status = :expected``, then re-render; False if it moved already."""
    with context.database.transaction() as session:
        moved = session.exec(
            update(OnCallPage)
            .where(col(OnCallPage.id) == page.id, col(OnCallPage.status) == expected)
            .values(updated_at=context.clock.now(), **values)
        )
        if moved.rowcount != 1:
            return False
        stored = session.get(OnCallPage, page.id)
        assert stored is not None
        session.refresh(stored)
        _render(session, context.clock, stored)
        if values.get("status") == "triggered":
            enqueue(
                session=session,
                clock=context.clock,
                kind=POLL,
                payload={"page_id": page.id},
                idempotency_key=f"oncall:page:{page.id}:poll",
            )
        if values.get("status") == "acknowledged":
            incident = require_incident(session=session, incident_id=stored.incident_id)
            append_event(
                session=session,
                incident=incident,
                at=context.clock.now(),
                actor=SYSTEM_ACTOR,
                kind="page_acknowledged",
                text=str(values.get("acknowledged_by_name") or ""),
                data={"schedule": stored.schedule, "page_id": page.id},
            )
    return True


def send_page(context: JobContext, *, providers: Providers) -> None:
    """Handler of ``oncall.page``: send the trigger (once the page is stored)."""
    page = _load(context)
    if page is None or page.status != "sending":
        return
    config = providers.config
    settings = config.oncall.schedules.get(page.schedule)
    if settings is None or settings.provider != "pagerduty" or settings.routing_key is None:
        _move(context, page, expected="sending", status="failed", error="no routing key")
        return
    try:
        providers.pagerduty_events().trigger(
            routing_key=settings.routing_key.get_secret_value(),
            dedup_key=page.dedup_key,
            summary=f"Incident #{page.incident_id}: {page.message}",
            source="shipbot",
        )
    except ProviderError as error:
        waited = context.clock.now() - context.job.created_at
        if error.trouble in _TRANSIENT and waited < SEND_PATIENCE:
            raise RetryLater(RETRY_SEND, reason=error.message) from None
        _move(context, page, expected="sending", status="failed", error=error.message)
        return
    _move(context, page, expected="sending", status="triggered", sent_at=context.clock.now())


def _acknowledger(config: ShipbotConfig, person: OnCallPerson | None) -> dict[str, object]:
    if person is None:
        return {"acknowledged_by_name": None, "acknowledged_by_user": None}
    return {
        "acknowledged_by_name": person.name,
        "acknowledged_by_user": slack_user_for(config, person),
    }


def poll_page(context: JobContext, *, providers: Providers) -> None:
    """Handler of ``oncall.page_poll``: ask PagerDuty who acknowledged, until someone did,
    it was resolved, or ``ACK_PATIENCE`` ran out."""
    page = _load(context)
    config = providers.config
    account = config.oncall.pagerduty
    if page is None or page.status != "triggered" or account is None or account.token is None:
        return
    try:
        found = providers.pagerduty_rest().acknowledgement(dedup_key=page.dedup_key)
    except ProviderError:
        found = None  # asked again below
    if found is not None and found.status in ("acknowledged", "resolved"):
        status = "acknowledged" if found.by is not None else found.status
        _move(
            context,
            page,
            expected="triggered",
            status=status,
            acknowledged_at=found.at or context.clock.now(),
            pagerduty_url=found.url,
            **_acknowledger(config, found.by),
        )
        return
    if context.clock.now() - (page.sent_at or page.requested_at) > ACK_PATIENCE:
        return
    raise RetryLater(account.poll_every, reason="not acknowledged yet")


def get_page(*, session: Session, page_id: int) -> OnCallPage | None:
    return session.get(OnCallPage, page_id)
