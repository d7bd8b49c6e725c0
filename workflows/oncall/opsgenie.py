"""Opsgenie: who is on call for a schedule (``GET /v2/schedules/{id}/on-calls``) and who
is next (``GET /v2/schedules/{id}/next-on-calls``), both ``flat`` (usernames, which are
emails in Opsgenie), authenticated with ``Authorization: GenieKey <key>``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from workflows.config.oncall import OpsgenieAccount
from workflows.oncall import _http
from workflows.oncall.base import (
    OnCallNow,
    OnCallPerson,
    OnCallShift,
    ProviderError,
    ScheduleConfig,
)
from workflows.redact import register_secret

NAME = "Opsgenie"


def _shifts(data: dict[str, Any], *keys: str) -> tuple[OnCallShift, ...]:
    for key in keys:
        names = data.get(key)
        if isinstance(names, list):
            people = sorted({str(name) for name in names if isinstance(name, str) and name})
            return tuple(
                OnCallShift(person=OnCallPerson(name=name, email=name if "@" in name else None))
                for name in people
            )
    return ()


class Opsgenie:
    def __init__(self, account: OpsgenieAccount, *, timeout: timedelta) -> None:
        register_secret(account.api_key)
        self._http = _http.client(
            base_url=account.api_url,
            headers={"Authorization": f"GenieKey {account.api_key.get_secret_value()}"},
            timeout=timeout,
        )

    def _data(self, path: str, at: datetime) -> dict[str, Any]:
        params = {"scheduleIdentifierType": "id", "flat": "true", "date": _http.iso(at)}
        body = _http.request_json(self._http, NAME, "GET", path, params=params)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ProviderError(NAME, "bad_answer", "no data object")
        return data

    def who_is_on_call(self, *, target: ScheduleConfig, at: datetime) -> OnCallNow:
        if target.provider != "opsgenie":
            raise ValueError(f"not an Opsgenie schedule: {target.provider}")
        base = f"/v2/schedules/{quote(target.schedule_id, safe='')}"
        now = _shifts(self._data(f"{base}/on-calls", at), "onCallRecipients")
        upcoming = _shifts(
            self._data(f"{base}/next-on-calls", at),
            "exactNextOnCallRecipients",
            "nextOnCallRecipients",
        )
        return OnCallNow(now=now, next=upcoming)
