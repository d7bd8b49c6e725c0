"""A loopback fake of Opsgenie's who-is-on-call API (``flat=true``), on real HTTP:
``GET /v2/schedules/{id}/on-calls`` and ``GET /v2/schedules/{id}/next-on-calls``,
``Authorization: GenieKey <key>``. Any other request lands in ``unexpected``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tests.workflows.backends.http_fake import FakeHttpServer, Recorded, Reply, ServedFake


@dataclass
class FakeOpsgenie(ServedFake):
    api_key: str = "genie-key-0123456789"
    on_call: dict[str, list[str]] = field(default_factory=dict)  # schedule id -> usernames
    next_on_call: dict[str, list[str]] = field(default_factory=dict)
    unexpected: list[Recorded] = field(default_factory=list)
    fail_with: Reply | None = None
    server: FakeHttpServer = field(default_factory=FakeHttpServer)

    def start(self) -> FakeOpsgenie:
        self.server.add("GET", r"/.*", self._unexpected)
        self.server.add("GET", r"/v2/schedules/(?P<id>[^/]+)/on-calls", self._now)
        self.server.add("GET", r"/v2/schedules/(?P<id>[^/]+)/next-on-calls", self._next)
        self.server.start()
        return self

    def _unexpected(self, request: Recorded, match: re.Match[str]) -> Reply:
        self.unexpected.append(request)
        return Reply(404, {"message": "Not Found"})

    def _guard(self, request: Recorded, schedule: str) -> Reply | None:
        if self.fail_with is not None:
            return self.fail_with
        if request.headers.get("authorization") != f"GenieKey {self.api_key}":
            return Reply(401, {"message": "Could not authenticate", "took": 0.0})
        if request.query.get("flat") != ["true"] or schedule not in self.on_call:
            self.unexpected.append(request)
            return Reply(404, {"message": "Schedule not found"})
        return None

    def _now(self, request: Recorded, match: re.Match[str]) -> Reply:
        refused = self._guard(request, match["id"])
        if refused:
            return refused
        data = {"_parent": {"id": match["id"]}, "onCallRecipients": self.on_call[match["id"]]}
        return Reply(200, {"data": data, "took": 0.01, "requestId": "r1"})

    def _next(self, request: Recorded, match: re.Match[str]) -> Reply:
        refused = self._guard(request, match["id"])
        if refused:
            return refused
        upcoming = self.next_on_call.get(match["id"], [])
        data = {
            "_parent": {"id": match["id"]},
            "exactNextOnCallRecipients": upcoming,
            "nextOnCallRecipients": upcoming,
        }
        return Reply(200, {"data": data, "took": 0.01, "requestId": "r2"})
