"""Asking the right provider who is on call, with provider trouble turned into an answer.

``Providers`` builds one client per configured provider (lazily: a config without
PagerDuty never needs its token). ``ask`` never raises for provider trouble: the answer
carries the reason instead, so a command can still reply and a declare never fails.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from workflows.config.models import ShipbotConfig
from workflows.errors import NotFound
from workflows.oncall.base import (
    OnCallNow,
    OnCallPerson,
    OnCallProvider,
    OnCallShift,
    ProviderError,
    ScheduleConfig,
)
from workflows.oncall.opsgenie import Opsgenie
from workflows.oncall.pagerduty import NAME as PAGERDUTY
from workflows.oncall.pagerduty import PagerDutyEvents, PagerDutyRest
from workflows.oncall.static import StaticRotations

log = logging.getLogger(__name__)
MAX_SCHEDULES = 10  # ``oncall`` without a target asks at most this many, side by side
PROVIDER_NAMES = {"pagerduty": "PagerDuty", "opsgenie": "Opsgenie", "static": "The rotation"}


@dataclass(frozen=True)
class ScheduleAnswer:
    """Who is on call for one schedule, or why that is not known."""

    schedule: str
    provider: str
    oncall: OnCallNow | None = None
    error: str | None = None

    def slack_users(self) -> list[str]:
        """The Slack users on call now (those shipbot can map), sorted."""
        shifts = self.oncall.now if self.oncall else ()
        return sorted({s.person.slack_user for s in shifts if s.person.slack_user})


class Providers:
    """The provider clients of one config; safe to share between threads."""

    def __init__(self, config: ShipbotConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._built: dict[str, OnCallProvider] = {}

    def provider(self, schedule: ScheduleConfig) -> OnCallProvider:
        return self._named(schedule.provider)

    def _named(self, provider: str) -> OnCallProvider:
        with self._lock:
            if provider not in self._built:
                self._built[provider] = self._build(provider)
            return self._built[provider]

    def _build(self, provider: str) -> OnCallProvider:
        oncall = self.config.oncall
        if provider == "pagerduty" and oncall.pagerduty is not None:
            return PagerDutyRest(oncall.pagerduty, timeout=oncall.timeout)
        if provider == "opsgenie" and oncall.opsgenie is not None:
            return Opsgenie(oncall.opsgenie, timeout=oncall.timeout)
        if provider == "static":
            return StaticRotations()
        raise ProviderError(provider, "refused", f"oncall.{provider} is not configured")

    def pagerduty_rest(self) -> PagerDutyRest:
        provider = self._named("pagerduty")
        assert isinstance(provider, PagerDutyRest)
        return provider

    def pagerduty_events(self) -> PagerDutyEvents:
        account = self.config.oncall.pagerduty
        if account is None:
            raise ProviderError(PAGERDUTY, "refused", "oncall.pagerduty is not configured")
        return PagerDutyEvents(account, timeout=self.config.oncall.timeout)


def schedule_for(config: ShipbotConfig, name: str) -> str:
    """The schedule a service or schedule ``name`` means; ``NotFound`` naming the choices."""
    oncall = config.oncall
    if name in oncall.schedules:
        return name
    if name in oncall.services:
        return oncall.services[name]
    known = sorted({*oncall.schedules, *oncall.services})
    raise NotFound(
        f"no on-call schedule for {name!r}",
        hint=f"Known: {', '.join(known)}." if known else "No on-call schedules are configured.",
    )


def slack_user_for(config: ShipbotConfig, person: OnCallPerson) -> str | None:
    """The person's Slack user id: known already, or by their email in ``users``."""
    if person.slack_user or not person.email:
        return person.slack_user
    wanted = person.email.lower()
    return next(
        (uid for uid, user in config.users.items() if (user.email or "").lower() == wanted), None
    )


def _known_to_slack(config: ShipbotConfig, found: OnCallNow) -> OnCallNow:
    """People with an email in ``users`` get their Slack user id."""

    def mapped(shifts: tuple[OnCallShift, ...]) -> tuple[OnCallShift, ...]:
        return tuple(
            replace(
                shift, person=replace(shift.person, slack_user=slack_user_for(config, shift.person))
            )
            for shift in shifts
        )

    return OnCallNow(now=mapped(found.now), next=mapped(found.next))


def ask(*, providers: Providers, schedule: str, at: datetime) -> ScheduleAnswer:
    """Who is on call for ``schedule`` (a configured name) at ``at``; never raises for
    provider trouble."""
    config = providers.config
    target = config.oncall.schedules[schedule]
    try:
        found = providers.provider(target).who_is_on_call(target=target, at=at)
    except ProviderError as error:
        log.warning("on-call lookup for %s failed: %s", schedule, error.message)
        return ScheduleAnswer(schedule=schedule, provider=target.provider, error=error.message)
    return ScheduleAnswer(
        schedule=schedule, provider=target.provider, oncall=_known_to_slack(config, found)
    )


def ask_many(
    *,
    providers: Providers,
    schedules: list[str],
    at: datetime,
    within: timedelta | None = None,
) -> list[ScheduleAnswer]:
    """``ask`` for several schedules side by side. With ``within``, a schedule whose
    provider has not answered by then (several requests, each bounded by the timeout,
    can add up) is answered "did not answer in time" and left to finish on its own."""
    chosen = schedules[:MAX_SCHEDULES]
    if not chosen:
        return []
    pool = ThreadPoolExecutor(max_workers=len(chosen), thread_name_prefix="oncall")
    try:
        futures = [pool.submit(ask, providers=providers, schedule=name, at=at) for name in chosen]
        wait(futures, timeout=within.total_seconds() if within else None)
        return [
            future.result() if future.done() else _late(providers, name)
            for name, future in zip(chosen, futures, strict=True)
        ]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _late(providers: Providers, schedule: str) -> ScheduleAnswer:
    provider = providers.config.oncall.schedules[schedule].provider
    error = ProviderError(PROVIDER_NAMES.get(provider, provider), "timeout")
    return ScheduleAnswer(schedule=schedule, provider=provider, error=error.message)
