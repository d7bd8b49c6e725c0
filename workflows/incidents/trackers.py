"""Issue trackers that follow-ups are filed in: GitHub issues and Jira tickets, over httpx.

A tracker only creates and finds; ``followups`` decides when. ``marker`` is a unique tag
written into each issue (a hidden comment on GitHub, a label on Jira) so a retry can find
an issue its crashed predecessor created instead of creating another one.

Failures are typed: ``TrackerError(permanent=True)`` for answers retrying cannot change
(401, 403, 404, 422: bad token, repository or project), ``permanent=False`` for the rest
(5xx, 429, timeouts). Messages never carry the token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from workflows.config.trackers import GithubTracker, JiraTracker
from workflows.redact import redact_text

_PAGES = 5
_TRANSIENT = frozenset({408, 425, 429})
HttpFactory = Callable[[], httpx.Client]


@dataclass(frozen=True)
class Ticket:
    """An issue in a tracker: its key (``acme/web#12``, ``OPS-7``) and web address."""

    key: str
    url: str


class TrackerError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(redact_text(message))
        self.message = redact_text(message)
        self.permanent = permanent


class Tracker(Protocol):
    """Where follow-ups are filed (``tracker_for`` builds the configured one)."""

    def find(self, *, marker: str) -> Ticket | None: ...

    def create(self, *, title: str, body: str, marker: str) -> Ticket: ...


def _call(name: str, send: Callable[[httpx.Client], httpx.Response], http: HttpFactory) -> Any:
    try:
        with http() as client:
            response = send(client)
    except httpx.HTTPError as error:
        message = f"{name} did not answer: {type(error).__name__}"
        raise TrackerError(message, permanent=False) from error
    if response.status_code >= 400:
        permanent = response.status_code < 500 and response.status_code not in _TRANSIENT
        detail = response.text[:300]
        raise TrackerError(
            f"{name} answered HTTP {response.status_code}: {detail}", permanent=permanent
        )
    return response.json()


def _client() -> httpx.Client:
    return httpx.Client(timeout=10.0)


@dataclass
class GithubIssues:
    config: GithubTracker
    http: HttpFactory = _client

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.config.token.get_secret_value()}",
            "Accept": "application/vnd.github+json",
        }

    def _url(self, path: str) -> str:
        return f"{self.config.api_url.rstrip('/')}/repos/{self.config.repo}{path}"

    def _ticket(self, issue: dict[str, Any]) -> Ticket:
        return Ticket(key=f"{self.config.repo}#{issue['number']}", url=str(issue["html_url"]))

    def find(self, *, marker: str) -> Ticket | None:
        params: dict[str, Any] = {"state": "all", "per_page": 100}
        if self.config.labels:
            params["labels"] = ",".join(self.config.labels)
        for page in range(1, _PAGES + 1):
            query = {**params, "page": page}
            issues = _call(
                "GitHub",
                lambda c, query=query: c.get(  # type: ignore[misc]
                    self._url("/issues"), params=query, headers=self._headers()
                ),
                self.http,
            )
            for issue in issues:
                if marker in str(issue.get("body") or ""):
                    return self._ticket(issue)
            if len(issues) < 100:
                return None
        return None

    def create(self, *, title: str, body: str, marker: str) -> Ticket:
        payload = {
            "title": title,
            "body": f"{body}\n\n<!-- {marker} -->",
            "labels": list(self.config.labels),
        }
        issue = _call(
            "GitHub",
            lambda c: c.post(self._url("/issues"), json=payload, headers=self._headers()),
            self.http,
        )
        return self._ticket(issue)


@dataclass
class JiraTickets:
    config: JiraTracker
    http: HttpFactory = _client

    def _auth(self) -> tuple[str, str]:
        return (self.config.email, self.config.token.get_secret_value())

    def _ticket(self, key: str) -> Ticket:
        return Ticket(key=key, url=f"{self.config.url.rstrip('/')}/browse/{key}")

    def find(self, *, marker: str) -> Ticket | None:
        jql = f'project = "{self.config.project}" AND labels = "{marker}"'
        found = _call(
            "Jira",
            lambda c: c.get(
                f"{self.config.url.rstrip('/')}/rest/api/2/search",
                params={"jql": jql, "fields": "summary", "maxResults": 1},
                auth=self._auth(),
            ),
            self.http,
        )
        issues = found.get("issues") or []
        return self._ticket(str(issues[0]["key"])) if issues else None

    def create(self, *, title: str, body: str, marker: str) -> Ticket:
        fields = {
            "project": {"key": self.config.project},
            "summary": title,
            "description": body,
            "issuetype": {"name": self.config.issue_type},
            "labels": [*self.config.labels, marker],
        }
        created = _call(
            "Jira",
            lambda c: c.post(
                f"{self.config.url.rstrip('/')}/rest/api/2/issue",
                json={"fields": fields},
                auth=self._auth(),
            ),
            self.http,
        )
        return self._ticket(str(created["key"]))


def tracker_for(config: GithubTracker | JiraTracker | None) -> Tracker | None:
    """The configured tracker (``incidents.tracker``), or None."""
    if isinstance(config, GithubTracker):
        return GithubIssues(config)
    if isinstance(config, JiraTracker):
        return JiraTickets(config)
    return None
