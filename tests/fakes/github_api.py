"""A loopback fake of the GitHub REST API parts shipbot reads and writes: compare,
commits, deployments and deployment statuses, for one repository, on real HTTP.

Commits are kept oldest first with their files; tags point at commits. The compare view
answers like GitHub's (commits oldest first, ``total_commits``, ``files`` of the whole
range, ``html_url``). ``rate_limited`` makes every call answer 403 with exhausted
rate-limit headers, as GitHub does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.workflows.backends.http_fake import FakeHttpServer, Recorded, Reply, ServedFake


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeCommit:
    sha: str
    message: str
    login: str
    date: str
    files: list[str]


@dataclass
class FakeGithub(ServedFake):
    repo: str = "acme/web"
    token: str | None = None
    commits: list[FakeCommit] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    rate_limited: bool = False
    # Answer this many more requests with a rate-limit 403 (then serve normally), the way
    # GitHub does when the hour's budget runs out: x-ratelimit-reset says when it refills.
    rate_limit_next: int = 0
    rate_limit_reset: int = 1767607200
    # Once this many deployment lists were served, every later call answers 500 (a run
    # that dies mid-way); None = never.
    fail_after_pages: int | None = None
    pages_served: int = 0
    server: FakeHttpServer = field(default_factory=FakeHttpServer)

    def start(self) -> FakeGithub:
        base = f"/repos/{self.repo}"
        self.server.add(
            "GET", rf"{base}/compare/(?P<base>[^/]+)\.\.\.(?P<head>[^/]+)", self._compare
        )
        self.server.add("GET", rf"{base}/commits/(?P<sha>[0-9a-f]+)", self._commit)
        self.server.add("POST", rf"{base}/deployments", self._create_deployment)
        self.server.add("GET", rf"{base}/deployments", self._list_deployments)
        self.server.add("POST", rf"{base}/deployments/(?P<id>\d+)/statuses", self._add_status)
        self.server.add("GET", rf"{base}/deployments/(?P<id>\d+)/statuses", self._list_statuses)
        self.server.start()
        return self

    def add_commit(self, message: str, *, login: str, date: str, files: list[str]) -> str:
        sha = f"{len(self.commits) + 1:02d}" + "ab" * 19
        self.commits.append(FakeCommit(sha, message, login, date, files))
        return sha

    def seed_deployments(
        self, count: int, *, environment: str = "production", start: int = 1767225600
    ) -> None:
        """``count`` deployments made outside shipbot, one a minute from ``start`` (epoch
        seconds), each with one ``success`` status."""
        for number in range(count):
            created = _iso(start + 60 * number)
            deployment_id = len(self.deployments) + 1
            self.deployments.append(
                {
                    "id": deployment_id,
                    "ref": f"v1.{number}",
                    "sha": f"{number:040x}",
                    "environment": environment,
                    "payload": {},
                    "created_at": created,
                    "creator": {"login": "octocat"},
                    "task": "deploy",
                }
            )
            self.statuses[deployment_id] = [
                {"id": 10_000 + deployment_id, "state": "success", "created_at": created}
            ]

    def _guard(self, request: Recorded) -> Reply | None:
        if self.fail_after_pages is not None and self.pages_served >= self.fail_after_pages:
            return Reply(500, {"message": "fake GitHub is down (fail_after_pages)"})
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return Reply(
                403,
                {"message": "API rate limit exceeded"},
                headers={
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": str(self.rate_limit_reset),
                },
            )
        if self.rate_limited:
            return Reply(
                403,
                {"message": "API rate limit exceeded"},
                headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1767607200"},
            )
        if self.token and request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, {"message": "Bad credentials"})
        return None

    def _index(self, ref: str) -> int | None:
        sha = self.tags.get(ref, ref)
        return next((i for i, c in enumerate(self.commits) if c.sha == sha), None)

    def _json(self, commit: FakeCommit, *, files: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "sha": commit.sha,
            "html_url": f"https://github.example/{self.repo}/commit/{commit.sha}",
            "commit": {
                "message": commit.message,
                "author": {"name": commit.login.title(), "date": commit.date},
            },
            "author": {"login": commit.login},
        }
        if files:
            body["files"] = [{"filename": f} for f in commit.files]
        return body

    def _compare(self, request: Recorded, match: re.Match[str]) -> Reply:
        refused = self._guard(request)
        if refused:
            return refused
        start, end = self._index(match["base"]), self._index(match["head"])
        if start is None or end is None:
            return Reply(404, {"message": "Not Found"})
        span = self.commits[start + 1 : end + 1]
        return Reply(
            200,
            {
                "html_url": f"https://github.example/{self.repo}/compare/{match['base']}...{match['head']}",
                "status": "ahead",
                "ahead_by": len(span),
                "total_commits": len(span),
                "commits": [self._json(c, files=False) for c in span],
                "files": [{"filename": f} for c in span for f in c.files],
            },
        )

    def _commit(self, request: Recorded, match: re.Match[str]) -> Reply:
        refused = self._guard(request)
        if refused:
            return refused
        index = self._index(match["sha"])
        if index is None:
            return Reply(422, {"message": "No commit found"})
        return Reply(200, self._json(self.commits[index], files=True))

    def _create_deployment(self, request: Recorded, match: re.Match[str]) -> Reply:
        refused = self._guard(request)
        if refused:
            return refused
        body = request.json()
        deployment = {
            "id": len(self.deployments) + 1,
            "ref": body["ref"],
            "environment": body.get("environment"),
            "payload": body.get("payload"),
            "description": body.get("description"),
            "task": body.get("task", "deploy"),
        }
        self.deployments.append(deployment)
        self.statuses[deployment["id"]] = []
        return Reply(201, deployment)

    def _list_deployments(self, request: Recorded, match: re.Match[str]) -> Reply:
        refused = self._guard(request)
        if refused:
            return refused
        environment = (request.query.get("environment") or [""])[0] or None
        ref = (request.query.get("ref") or [""])[0] or None
        found = [
            d
            for d in self.deployments
            if environment in (None, d["environment"]) and ref in (None, d["ref"])
        ]
        found.reverse()  # newest first, as GitHub lists them
        if "page" not in request.query and len(found) <= 100:
            return Reply(200, found)
        return self._paged(request, found)

    def _paged(self, request: Recorded, found: list[dict[str, Any]]) -> Reply:
        """One page of ``found`` and GitHub's ``Link`` header (next and last)."""
        per_page = min(100, int((request.query.get("per_page") or ["30"])[0]))
        page = int((request.query.get("page") or ["1"])[0])
        last = max(1, -(-len(found) // per_page))
        base = f"{self.url}{request.path}?per_page={per_page}"
        links = [f'<{base}&page={last}>; rel="last"']
        if page < last:
            links.insert(0, f'<{base}&page={page + 1}>; rel="next"')
        self.pages_served += 1
        chunk = found[(page - 1) * per_page : page * per_page]
        return Reply(200, chunk, headers={"Link": ", ".join(links)})

    def _add_status(self, request: Recorded, match: re.Match[str]) -> Reply:
        refused = self._guard(request)
        if refused:
            return refused
        deployment_id = int(match["id"])
        if deployment_id not in self.statuses:
            return Reply(404, {"message": "Not Found"})
        status = {"id": 100 + sum(map(len, self.statuses.values())), **request.json()}
        self.statuses[deployment_id].append(status)
        return Reply(201, status)

    def _list_statuses(self, request: Recorded, match: re.Match[str]) -> Reply:
        refused = self._guard(request)
        if refused:
            return refused
        statuses = self.statuses.get(int(match["id"]))
        if statuses is None:
            return Reply(404, {"message": "Not Found"})
        newest_first = list(reversed(statuses))  # as GitHub lists them
        per_page = int((request.query.get("per_page") or ["30"])[0])
        return Reply(200, newest_first[:per_page])
