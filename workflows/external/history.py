"""Past deploys read from GitHub's Deployments API and Argo CD's application history,
page by page, for `shipbot import deploys` (workflows.external.importer).

GitHub: ``GET /repos/{repo}/deployments?per_page=100``, newest first, following the
``Link`` header's ``next``; each deployment's state is its newest status. A 403 or 429
that says the rate limit ran out (``x-ratelimit-remaining: 0``, ``x-ratelimit-reset``,
``retry-after``) waits until the reset and tries again, up to ``max_wait``.
Argo CD: ``GET /api/v1/applications/{app}``, its ``status.history`` (one page per app).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.config.hooks import ArgocdHooks, GithubHooks
from workflows.deploys.models import DeployState
from workflows.external.argocd import sync_event
from workflows.external.common import text, timestamp
from workflows.external.deploys import ExternalDeploy
from workflows.external.github import deployment_event
from workflows.redact import register_secret

_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
STATUS_READERS = 4
_LAST_PAGE = re.compile(r'<[^>]*[?&]page=(\d+)[^>]*>;\s*rel="last"')


class ImportFailed(RuntimeError):
    """The source cannot be read now (the checkpoint keeps what was done)."""


@dataclass(frozen=True)
class Page:
    deploys: list[ExternalDeploy]  # those to record, oldest cut off at ``since`` already
    skipped: int  # read but not a deploy to record (shipbot's own, no status, unmapped)
    next_cursor: str | None  # None: this was the last page
    pages_total: int | None = None  # when the source says (GitHub's rel="last")
    reached_since: bool = False  # the page went back past ``since``: stop after it
    known: int = 0  # finished deploys recorded before: not asked about again


Known = Callable[[list[str]], set[str]]
"""Which of these external ids are recorded and finished already (nothing to ask)."""


class HistorySource(Protocol):
    def page(self, cursor: str, known: Known) -> Page:
        """The page at ``cursor`` ("" = the first)."""
        ...


@dataclass
class RateLimited:
    """Waiting out GitHub's rate limit: ``sleep`` is injected (tests pass a recorder)."""

    clock: Clock
    sleep: Callable[[float], None]
    max_wait: float = 900.0

    def wait_seconds(self, response: httpx.Response) -> float | None:
        """How long to wait before retrying, or None if this is not a rate limit answer."""
        if response.status_code not in (403, 429):
            return None
        retry_after = response.headers.get("retry-after", "")
        if retry_after.isascii() and retry_after.isdigit():
            return float(retry_after)
        reset = response.headers.get("x-ratelimit-reset", "")
        if (
            response.headers.get("x-ratelimit-remaining") == "0"
            and reset.isascii()
            and reset.isdigit()
        ):
            return max(0.0, int(reset) - self.clock.now().timestamp()) + 1.0
        return 60.0 if response.status_code == 429 else None

    def get(self, client: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
        waited = 0.0
        while True:
            response = client.get(url, **kwargs)
            wait = self.wait_seconds(response)
            if wait is None:
                return response
            if waited + wait > self.max_wait:
                raise ImportFailed(
                    f"rate limited for {wait:.0f}s more; run the import again later "
                    "(it goes on from its checkpoint)"
                )
            self.sleep(wait)
            waited += wait


class GithubHistory:
    def __init__(
        self,
        *,
        config: ShipbotConfig,
        hooks: GithubHooks,
        service: str,
        repository: str,
        since: datetime,
        http: httpx.Client,
        limiter: RateLimited,
    ) -> None:
        self.config, self.hooks, self.service, self.since = config, hooks, service, since
        self.http, self.limiter = http, limiter
        self.first = f"{str(hooks.api_url).rstrip('/')}/repos/{repository}/deployments?per_page=100"
        self.headers = {"Accept": "application/vnd.github+json", "User-Agent": "shipbot"}
        if hooks.token is not None:
            register_secret(hooks.token)
            self.headers["Authorization"] = f"Bearer {hooks.token.get_secret_value()}"

    def _json(self, url: str, **params: Any) -> tuple[Any, httpx.Response]:
        response = self.limiter.get(self.http, url, headers=self.headers, params=params or None)
        if response.status_code != 200:
            raise ImportFailed(f"GitHub answered HTTP {response.status_code} for {url}")
        return response.json(), response

    def _deploy(self, deployment: Any) -> ExternalDeploy | None:
        if not isinstance(deployment, Mapping):
            return None
        url = f"{self.first.split('?')[0]}/{text(deployment, 'id')}/statuses"
        statuses, _ = self._json(url, per_page=1)
        if not isinstance(statuses, list) or not statuses:
            return None
        newest = statuses[0]
        state = text(newest, "state")
        state = "success" if state == "inactive" else state  # it ran, then was replaced
        return deployment_event(
            self.config,
            self.hooks,
            self.service,
            deployment,
            state,
            url=text(newest, "target_url") or text(newest, "log_url"),
            finished=text(newest, "created_at"),
        )

    def page(self, cursor: str, known: Known) -> Page:
        items, response = self._json(cursor or self.first)
        if not isinstance(items, list):
            raise ImportFailed("GitHub's deployments answer is not a list")
        wanted: list[Any] = []
        reached = False
        for item in items:
            created = timestamp(text(item, "created_at"))
            if created is not None and created < self.since:
                reached = True  # newest first: everything after this is older still
                break
            wanted.append(item)
        # A finished deploy recorded before costs no request (GitHub's hourly budget).
        done = known([text(item, "id") for item in wanted])
        wanted = [item for item in wanted if text(item, "id") not in done]
        # Each deployment's state is one more request: a few at a time.
        with ThreadPoolExecutor(max_workers=STATUS_READERS) as pool:
            found = list(pool.map(self._deploy, wanted))
        deploys = [deploy for deploy in found if deploy is not None]
        skipped = len(found) - len(deploys)
        link = response.headers.get("link", "")
        following = _NEXT.search(link)
        last = _LAST_PAGE.search(link)
        return Page(
            deploys=deploys,
            skipped=skipped,
            next_cursor=following.group(1) if following and not reached else None,
            pages_total=int(last.group(1)) if last else None,
            reached_since=reached,
            known=len(done),
        )


class ArgocdHistory:
    """Every application mapped to the service; the cursor is the index of the next one."""

    def __init__(
        self,
        *,
        config: ShipbotConfig,
        hooks: ArgocdHooks,
        service: str,
        since: datetime,
        http: httpx.Client,
    ) -> None:
        if hooks.api_url is None:
            raise ImportFailed("hooks.argocd.api_url is needed to import from Argo CD")
        self.config, self.service, self.since, self.http = config, service, since, http
        self.apps = sorted(config.services[service].argocd_applications)
        self.api = str(hooks.api_url).rstrip("/")
        self.headers = {"Accept": "application/json"}
        if hooks.token is not None:
            register_secret(hooks.token)
            self.headers["Authorization"] = f"Bearer {hooks.token.get_secret_value()}"

    def page(self, cursor: str, known: Known) -> Page:
        index = int(cursor) if cursor.isdigit() else 0
        if index >= len(self.apps):
            return Page(deploys=[], skipped=0, next_cursor=None, pages_total=len(self.apps))
        app = self.apps[index]
        response = self.http.get(f"{self.api}/api/v1/applications/{app}", headers=self.headers)
        if response.status_code != 200:
            raise ImportFailed(f"Argo CD answered HTTP {response.status_code} for {app}")
        history = response.json().get("status", {}).get("history") or []
        deploys: list[ExternalDeploy] = []
        for entry in history if isinstance(history, list) else []:
            started = text(entry, "deployStartedAt") or text(entry, "deployedAt")
            at = timestamp(started)
            if at is None or at < self.since:
                continue
            found = sync_event(
                self.config,
                app=app,
                revision=text(entry, "revision"),
                started=started,
                state=DeployState.succeeded,
                actor=text(entry, "initiatedBy", "username"),
                finished=text(entry, "deployedAt"),
            )
            if found is not None:
                deploys.append(found)
        more = index + 1 < len(self.apps)
        return Page(
            deploys=deploys,
            skipped=0,
            next_cursor=str(index + 1) if more else None,
            pages_total=len(self.apps),
        )
