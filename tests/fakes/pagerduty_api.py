"""A loopback fake of the PagerDuty parts shipbot uses, on real HTTP: the REST API v2
(``GET /oncalls``, ``GET /incidents?incident_key=``, ``GET /users/{id}``) and the Events
API v2 (``POST /v2/enqueue``), served from one base URL.

Shifts are scripted per schedule or escalation policy; a trigger opens an incident
unless one with its ``dedup_key`` is open (as PagerDuty deduplicates), and
``acknowledge`` makes a user acknowledge it. Any request no route expects is kept in
``unexpected`` (and answered 404); ``fail_with`` scripts every answer (401, 500, a delay).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.workflows.backends.http_fake import FakeHttpServer, Recorded, Reply, ServedFake


@dataclass
class FakeShift:
    user_id: str
    start: str | None
    end: str | None
    level: int = 1


@dataclass
class FakePagerDuty(ServedFake):
    token: str = "pd-rest-token-0123456789"
    routing_keys: tuple[str, ...] = ("pd-routing-key-web-0123456789",)
    users: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> {name, email}
    shifts: dict[str, list[FakeShift]] = field(default_factory=dict)  # schedule/EP id
    incidents: list[dict[str, Any]] = field(default_factory=list)
    unexpected: list[Recorded] = field(default_factory=list)
    fail_with: Reply | None = None
    server: FakeHttpServer = field(default_factory=FakeHttpServer)

    def start(self) -> FakePagerDuty:
        self.server.add("GET", r"/.*", self._unexpected)
        self.server.add("POST", r"/.*", self._unexpected)
        self.server.add("GET", r"/oncalls", self._oncalls)
        self.server.add("GET", r"/incidents", self._incidents)
        self.server.add("GET", r"/users/(?P<id>\w+)", self._user)
        self.server.add("POST", r"/v2/enqueue", self._enqueue)
        self.server.start()
        return self

    def triggers(self) -> list[Recorded]:
        return self.server.calls("POST", "/v2/enqueue")

    def acknowledge(self, dedup_key: str, user_id: str, at: str = "2026-01-05T10:02:00Z") -> None:
        for incident in self.incidents:
            if incident["incident_key"] == dedup_key:
                incident["status"] = "acknowledged"
                incident["acknowledgements"] = [
                    {
                        "at": at,
                        "acknowledger": {
                            "id": user_id,
                            "type": "user_reference",
                            "summary": self.users[user_id]["name"],
                        },
                    }
                ]

    def _unexpected(self, request: Recorded, match: re.Match[str]) -> Reply:
        self.unexpected.append(request)
        return Reply(404, {"error": {"message": "Not Found", "code": 2100}})

    def _guard(self, request: Recorded) -> Reply | None:
        if self.fail_with is not None:
            return self.fail_with
        if request.headers.get("authorization") != f"Token token={self.token}":
            return Reply(401, {"error": {"message": "Unauthorized", "code": 2006}})
        return None

    def _user_json(self, user_id: str) -> dict[str, Any]:
        user = self.users[user_id]
        return {"id": user_id, "type": "user", "summary": user["name"], **user}

    def _oncalls(self, request: Recorded, match: re.Match[str]) -> Reply:
        refused = self._guard(request)
        if refused:
            return refused
        ids = request.query.get("schedule_ids[]", []) + request.query.get(
            "escalation_policy_ids[]", []
        )
        include_users = "users" in request.query.get("include[]", [])
        found = []
        for target in ids:
            for shift in self.shifts.get(target, []):
                user = (
                    self._user_json(shift.user_id)
                    if include_users
                    else {"id": shift.user_id, "type": "user_reference"}
                )
                found.append(
                    {
                        "user": user,
                        "schedule": {"id": target, "type": "schedule_reference"},
                        "escalation_level": shift.level,
                        "start": shift.start,
                        "end": shift.end,
                    }
                )
        return Reply(200, {"oncalls": found, "limit": 100, "offset": 0, "more": False})

    def _incidents(self, request: Recorded, match: re.Match[str]) -> Reply:
        refused = self._guard(request)
        if refused:
            return refused
        key = (request.query.get("incident_key") or [""])[0]
        found = [i for i in self.incidents if i["incident_key"] == key]
        return Reply(200, {"incidents": found, "limit": 25, "offset": 0, "more": False})

    def _user(self, request: Recorded, match: re.Match[str]) -> Reply:
        refused = self._guard(request)
        if refused:
            return refused
        if match["id"] not in self.users:
            return Reply(404, {"error": {"message": "Not Found", "code": 2100}})
        return Reply(200, {"user": self._user_json(match["id"])})

    def _enqueue(self, request: Recorded, match: re.Match[str]) -> Reply:
        if self.fail_with is not None:
            return self.fail_with
        body = request.json()
        if body.get("routing_key") not in self.routing_keys:
            return Reply(400, {"status": "invalid event", "message": "Invalid routing key"})
        if body.get("event_action") != "trigger" or not body.get("payload", {}).get("summary"):
            return Reply(400, {"status": "invalid event", "message": "Event object is invalid"})
        key = body.get("dedup_key") or f"generated-{len(self.incidents)}"
        open_ones = [
            i for i in self.incidents if i["incident_key"] == key and i["status"] != "resolved"
        ]
        if not open_ones:
            number = f"Q{len(self.incidents) + 1:05d}"
            self.incidents.append(
                {
                    "id": number,
                    "incident_key": key,
                    "status": "triggered",
                    "title": body["payload"]["summary"],
                    "html_url": f"https://acme.pagerduty.example/incidents/{number}",
                    "acknowledgements": [],
                }
            )
        return Reply(202, {"status": "success", "message": "Event processed", "dedup_key": key})
