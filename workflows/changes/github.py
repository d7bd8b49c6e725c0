"""Commits between two tags of a GitHub repository, through the REST API with httpx.

``GET /repos/{repo}/compare/{base}...{head}`` gives the commits (oldest first, up to 250),
their count and the files of the whole range; ``GET /repos/{repo}/commits/{sha}`` gives
each listed commit's files, so flags are per commit (at most ``LISTED`` such calls). Any
trouble (a rate limit, a missing tag, a timeout) becomes ``unavailable`` with the reason:
what changed is a courtesy to the approver and never holds a deploy up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from workflows.changes.model import LISTED, ChangeSet, Commit, flagged_by, unavailable
from workflows.config.sources import GithubSource
from workflows.redact import register_secret

API_VERSION = "2022-11-28"


class Unavailable(Exception):
    pass


def github_headers(source: GithubSource) -> dict[str, str]:
    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": "shipbot",
    }
    if source.token is not None:
        register_secret(source.token)
        headers["Authorization"] = f"Bearer {source.token.get_secret_value()}"
    return headers


def _reason(response: httpx.Response, what: str) -> str:
    if response.status_code in (403, 429) and (
        response.headers.get("x-ratelimit-remaining") == "0" or "retry-after" in response.headers
    ):
        reset = response.headers.get("x-ratelimit-reset")
        when = (
            f"; resets {datetime.fromtimestamp(int(reset), tz=UTC):%H:%M} UTC"
            if reset and reset.isdigit()
            else ""
        )
        return f"GitHub rate limit{when}"
    if response.status_code == 404:
        return f"GitHub: {what} not found"
    return f"GitHub: HTTP {response.status_code} for {what}"


def _get(client: httpx.Client, url: str, source: GithubSource, what: str) -> dict[str, Any]:
    try:
        response = client.get(url, headers=github_headers(source))
    except httpx.HTTPError as error:
        raise Unavailable(f"GitHub unreachable ({type(error).__name__})") from None
    if response.status_code != 200:
        raise Unavailable(_reason(response, what))
    try:
        body = response.json()
    except ValueError:
        raise Unavailable(f"GitHub: {what}: not JSON") from None
    if not isinstance(body, dict):
        raise Unavailable(f"GitHub: {what}: not an object")
    return body


def _commit(item: dict[str, Any], files: list[str], source: GithubSource) -> Commit:
    commit = item.get("commit") or {}
    author = commit.get("author") or {}
    login = (item.get("author") or {}).get("login")
    when = author.get("date")
    return Commit(
        sha=str(item.get("sha", "")),
        title=str(commit.get("message", "")).split("\n", 1)[0],
        author=str(login or author.get("name") or "unknown"),
        authored_at=datetime.fromisoformat(when.replace("Z", "+00:00")) if when else None,
        flagged_paths=flagged_by(files, source.flag_paths),
    )


def github_changes(
    source: GithubSource, *, base: str, version: str, http: Callable[[], httpx.Client]
) -> ChangeSet:
    base_ref, head_ref = source.ref(base), source.ref(version)
    api = f"{str(source.api_url).rstrip('/')}/repos/{source.github}"
    spec = f"{quote(base_ref, safe='')}...{quote(head_ref, safe='')}"
    try:
        with http() as client:
            compare = _get(client, f"{api}/compare/{spec}", source, f"{base_ref}...{head_ref}")
            items = [c for c in compare.get("commits") or [] if isinstance(c, dict)]
            newest = list(reversed(items))[:LISTED]
            listed = []
            for item in newest:
                detail = _get(
                    client,
                    f"{api}/commits/{quote(str(item.get('sha')), safe='')}",
                    source,
                    f"commit {str(item.get('sha'))[:7]}",
                )
                files = [str(f.get("filename", "")) for f in detail.get("files") or []]
                listed.append(_commit(item, files, source))
    except Unavailable as error:
        return unavailable(base, version, str(error))
    all_files = [str(f.get("filename", "")) for f in compare.get("files") or []]
    oldest = _commit(items[0], [], source) if items else None
    return ChangeSet(
        base_version=base,
        version=version,
        total=int(compare.get("total_commits") or len(items)),
        commits=tuple(listed),
        flagged=sum(1 for c in listed if c.flagged_paths),
        flagged_paths=flagged_by(all_files, source.flag_paths),
        compare_url=compare.get("html_url"),
        first_commit_at=oldest.authored_at if oldest else None,
    )
