"""Loopback fakes of the issue trackers follow-ups are filed in: GitHub's Issues API
(create, list) and Jira's REST API v2 (create, JQL search by label), on real HTTP.

Both check the credentials, keep what was created, and can be scripted to fail the next
calls (``fail_next``: a status for the next N creates) or to lose the answer of a create
that did happen (``drop_next_answer``: the issue exists, the client sees a 502, as after
a crash between the tracker's answer and shipbot's commit). ``unexpected()`` lists the
requests no route answered: a test asserts it is empty.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

from tests.workflows.backends.http_fake import FakeHttpServer, Recorded, Reply, ServedFake


@dataclass
class _Script:
    failures: list[int] = field(default_factory=list)
    drop_answers: int = 0

    def next_failure(self) -> int | None:
        return self.failures.pop(0) if self.failures else None


@dataclass
class FakeGithubIssues(ServedFake):
    repo: str = "acme/web"
    token: str = "ghp-fake-tracker-token"
    issues: list[dict[str, Any]] = field(default_factory=list)
    script: _Script = field(default_factory=_Script)
    server: FakeHttpServer = field(default_factory=FakeHttpServer)

    def start(self) -> FakeGithubIssues:
        base = f"/repos/{self.repo}/issues"
        self.server.add("POST", base, self._create)
        self.server.add("GET", base, self._list)
        self.server.start()
        return self

    def fail_next(self, status: int, *, count: int = 1) -> None:
        self.script.failures.extend([status] * count)

    def drop_next_answer(self) -> None:
        self.script.drop_answers += 1

    def unexpected(self) -> list[Recorded]:
        return [r for r in self.server.requests if not r.path.startswith(f"/repos/{self.repo}/")]

    def _refused(self, request: Recorded) -> Reply | None:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, {"message": "Bad credentials"})
        return None

    def _create(self, request: Recorded, match: re.Match[str]) -> Reply:
        refused = self._refused(request)
        if refused:
            return refused
        status = self.script.next_failure()
        if status is not None:
            return Reply(status, {"message": f"scripted {status}"})
        body = request.json()
        if not body.get("title"):
            return Reply(422, {"message": "Validation Failed"})
        number = len(self.issues) + 1
        issue = {
            "number": number,
            "title": body["title"],
            "body": body.get("body") or "",
            "labels": [{"name": name} for name in body.get("labels") or []],
            "state": "open",
            "html_url": f"https://github.example/{self.repo}/issues/{number}",
        }
        self.issues.append(issue)
        if self.script.drop_answers:
            self.script.drop_answers -= 1
            return Reply(502, {"message": "Bad gateway"})
        return Reply(201, issue)

    def _list(self, request: Recorded, match: re.Match[str]) -> Reply:
        refused = self._refused(request)
        if refused:
            return refused
        wanted = set(filter(None, (request.query.get("labels") or [""])[0].split(",")))
        page = int((request.query.get("page") or ["1"])[0])
        per_page = int((request.query.get("per_page") or ["30"])[0])
        matching = [
            i for i in reversed(self.issues) if wanted <= {label["name"] for label in i["labels"]}
        ]
        return Reply(200, matching[(page - 1) * per_page : page * per_page])


@dataclass
class FakeJira(ServedFake):
    project: str = "OPS"
    email: str = "bot@example.com"
    token: str = "jira-fake-tracker-token"
    issues: list[dict[str, Any]] = field(default_factory=list)
    script: _Script = field(default_factory=_Script)
    server: FakeHttpServer = field(default_factory=FakeHttpServer)

    def start(self) -> FakeJira:
        self.server.add("POST", "/rest/api/2/issue", self._create)
        self.server.add("GET", "/rest/api/2/search", self._search)
        self.server.start()
        return self

    def fail_next(self, status: int, *, count: int = 1) -> None:
        self.script.failures.extend([status] * count)

    def drop_next_answer(self) -> None:
        self.script.drop_answers += 1

    def unexpected(self) -> list[Recorded]:
        return [r for r in self.server.requests if not r.path.startswith("/rest/api/2/")]

    def _refused(self, request: Recorded) -> Reply | None:
        expected = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return Reply(401, {"errorMessages": ["Unauthorized"]})
        return None

    def _create(self, request: Recorded, match: re.Match[str]) -> Reply:
        refused = self._refused(request)
        if refused:
            return refused
        status = self.script.next_failure()
        if status is not None:
            return Reply(status, {"errorMessages": [f"scripted {status}"]})
        fields = request.json()["fields"]
        if fields["project"]["key"] != self.project:
            return Reply(400, {"errors": {"project": "valid project is required"}})
        key = f"{self.project}-{len(self.issues) + 1}"
        self.issues.append({"key": key, "fields": fields})
        if self.script.drop_answers:
            self.script.drop_answers -= 1
            return Reply(502, {"errorMessages": ["Bad gateway"]})
        return Reply(201, {"id": str(len(self.issues)), "key": key})

    def _search(self, request: Recorded, match: re.Match[str]) -> Reply:
        refused = self._refused(request)
        if refused:
            return refused
        jql = (request.query.get("jql") or [""])[0]
        label = re.search(r'labels = "([^"]+)"', jql)
        found = [
            {"key": i["key"]}
            for i in self.issues
            if label and label.group(1) in (i["fields"].get("labels") or [])
        ]
        return Reply(200, {"issues": found, "total": len(found)})
