"""PagerDuty: who is on call (REST API v2 ``GET /oncalls``), who acknowledged a page
(``GET /incidents?incident_key=``, ``GET /users/{id}``), and paging (Events API v2
``POST /v2/enqueue``).

REST calls carry ``Authorization: Token token=<token>``; the Events API authenticates by
the routing key in the body. PagerDuty deduplicates triggers by ``dedup_key`` while the
incident it opened is unresolved, which is what makes a resent page harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from workflows.config.oncall import PagerDutyAccount
from workflows.oncall import _http
from workflows.oncall.base import (
    OnCallNow,
    OnCallPerson,
    OnCallShift,
    ProviderError,
    ScheduleConfig,
)
from workflows.redact import register_secret

NAME = "PagerDuty"
LOOK_AHEAD = timedelta(days=30)  # how far ahead "next" is looked for
PAGE_SIZE = 100
MAX_PAGES = 5
SUMMARY_CHARS = 1024  # the Events API's limit


@dataclass(frozen=True)
class Acknowledgement:
    """The state of the PagerDuty incident a page opened."""

    status: str  # triggered, acknowledged, resolved
    by: OnCallPerson | None = None
    at: datetime | None = None
    url: str | None = None


def _person(user: object) -> OnCallPerson | None:
    if not isinstance(user, dict):
        return None
    name = str(user.get("name") or user.get("summary") or user.get("id") or "someone")
    email = user.get("email")
    return OnCallPerson(name=name, email=str(email) if isinstance(email, str) else None)


def _shift(entry: object) -> tuple[str, OnCallShift] | None:
    if not isinstance(entry, dict):
        return None
    person = _person(entry.get("user"))
    if person is None:
        return None
    level = entry.get("escalation_level")
    shift = OnCallShift(
        person=person,
        start=_http.timestamp(entry.get("start")),
        end=_http.timestamp(entry.get("end")),
        level=level if isinstance(level, int) else 1,
    )
    return str((entry.get("user") or {}).get("id") or person.name), shift


def split_now_next(entries: list[tuple[str, OnCallShift]], at: datetime) -> OnCallNow:
    """Current shifts (one per person and level) and the earliest upcoming ones."""
    now: dict[tuple[str, int], OnCallShift] = {}
    upcoming: dict[tuple[str, int], OnCallShift] = {}
    for key, shift in entries:
        started = shift.start is None or shift.start <= at
        if started and (shift.end is None or at < shift.end):
            now.setdefault((key, shift.level), shift)
        elif shift.start is not None and shift.start > at:
            upcoming.setdefault((key, shift.level), shift)
    first = min((s.start for s in upcoming.values() if s.start is not None), default=None)
    following = [s for s in upcoming.values() if s.start == first]
    order = lambda shift: (shift.level, shift.person.name)  # noqa: E731
    return OnCallNow(
        now=tuple(sorted(now.values(), key=order)), next=tuple(sorted(following, key=order))
    )


class PagerDutyRest:
    """The REST API: on-call lookups and acknowledgements."""

    def __init__(self, account: PagerDutyAccount, *, timeout: timedelta) -> None:
        if account.token is None:
            raise ProviderError(NAME, "unauthorized", "oncall.pagerduty.token is not set")
        register_secret(account.token)
        self._http = _http.client(
            base_url=account.api_url,
            headers={
                "Authorization": f"Token token={account.token.get_secret_value()}",
                "Accept": "application/vnd.pagerduty+json;version=2",
            },
            timeout=timeout,
        )

    def _get(self, path: str, params: dict[str, Any] | list[tuple[str, str]]) -> dict[str, Any]:
        return _http.request_json(self._http, NAME, "GET", path, params=params)

    def who_is_on_call(self, *, target: ScheduleConfig, at: datetime) -> OnCallNow:
        if target.provider != "pagerduty":
            raise ValueError(f"not a PagerDuty schedule: {target.provider}")
        params = [
            ("since", _http.iso(at)),
            ("until", _http.iso(at + LOOK_AHEAD)),
            ("include[]", "users"),
            ("limit", str(PAGE_SIZE)),
        ]
        if target.schedule_id is not None:
            params.append(("schedule_ids[]", target.schedule_id))
        else:
            params.append(("escalation_policy_ids[]", str(target.escalation_policy_id)))
        entries: list[tuple[str, OnCallShift]] = []
        for page in range(MAX_PAGES):
            body = self._get("/oncalls", [*params, ("offset", str(page * PAGE_SIZE))])
            oncalls = body.get("oncalls")
            if not isinstance(oncalls, list):
                raise ProviderError(NAME, "bad_answer", "no oncalls list")
            entries.extend(found for found in map(_shift, oncalls) if found is not None)
            if not body.get("more"):
                break
        return split_now_next(entries, at)

    def acknowledgement(self, *, dedup_key: str) -> Acknowledgement | None:
        """The incident a trigger with ``dedup_key`` opened; None until PagerDuty has it."""
        body = self._get("/incidents", {"incident_key": dedup_key})
        incidents = body.get("incidents")
        if not isinstance(incidents, list):
            raise ProviderError(NAME, "bad_answer", "no incidents list")
        if not incidents or not isinstance(incidents[0], dict):
            return None
        incident = incidents[0]
        url = incident.get("html_url")
        acks = [a for a in incident.get("acknowledgements") or [] if isinstance(a, dict)]
        status = str(incident.get("status") or "triggered")
        if not acks:
            return Acknowledgement(status=status, url=str(url) if url else None)
        first = acks[0]
        reference = first.get("acknowledger") or {}
        by = _person(reference)
        user_id = reference.get("id") if isinstance(reference, dict) else None
        if isinstance(user_id, str) and user_id:
            user = self._get(f"/users/{user_id}", {}).get("user")
            by = _person(user) or by
        return Acknowledgement(
            status=status, by=by, at=_http.timestamp(first.get("at")), url=str(url) if url else None
        )


class PagerDutyEvents:
    """The Events API v2: one trigger per page, deduplicated by ``dedup_key``."""

    def __init__(self, account: PagerDutyAccount, *, timeout: timedelta) -> None:
        self._http = _http.client(base_url=account.events_url, headers={}, timeout=timeout)

    def trigger(self, *, routing_key: str, dedup_key: str, summary: str, source: str) -> str:
        """Send the trigger; PagerDuty's ``dedup_key`` back (the same one)."""
        register_secret(routing_key)
        body = _http.request_json(
            self._http,
            NAME,
            "POST",
            "/v2/enqueue",
            json={
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": dedup_key,
                "payload": {
                    "summary": summary[:SUMMARY_CHARS],
                    "source": source,
                    "severity": "critical",
                },
            },
        )
        return str(body.get("dedup_key") or dedup_key)
