"""The typed answer to "what changed", stored on the deploy row as JSON (``Deploy.changes``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

LISTED = 10  # commits shown by name; the rest are counted


@dataclass(frozen=True)
class Commit:
    sha: str
    title: str  # the first line of the message
    author: str
    authored_at: datetime | None
    flagged_paths: tuple[str, ...] = ()  # files under a configured path (migrations/...)


@dataclass(frozen=True)
class ChangeSet:
    """Commits from ``base_version`` (running) to ``version`` (requested), newest first.

    ``unavailable`` says why nothing could be listed ("GitHub rate limit", "nothing
    deployed to production yet"); the deploy goes on regardless."""

    base_version: str | None
    version: str
    total: int = 0
    commits: tuple[Commit, ...] = ()  # at most LISTED
    flagged: int = 0  # commits (of all, where known) touching a flagged path
    flagged_paths: tuple[str, ...] = ()  # which configured paths were touched
    compare_url: str | None = None
    first_commit_at: datetime | None = None  # the oldest commit: DORA lead time starts here
    unavailable: str | None = None

    def to_json(self) -> dict[str, Any]:
        value = asdict(self)
        value["first_commit_at"] = _iso(self.first_commit_at)
        value["commits"] = [{**asdict(c), "authored_at": _iso(c.authored_at)} for c in self.commits]
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ChangeSet:
        commits = tuple(
            Commit(
                sha=c["sha"],
                title=c["title"],
                author=c["author"],
                authored_at=_parse(c.get("authored_at")),
                flagged_paths=tuple(c.get("flagged_paths") or ()),
            )
            for c in value.get("commits") or []
        )
        return cls(
            base_version=value.get("base_version"),
            version=value["version"],
            total=int(value.get("total") or 0),
            commits=commits,
            flagged=int(value.get("flagged") or 0),
            flagged_paths=tuple(value.get("flagged_paths") or ()),
            compare_url=value.get("compare_url"),
            first_commit_at=_parse(value.get("first_commit_at")),
            unavailable=value.get("unavailable"),
        )


def unavailable(base: str | None, version: str, reason: str) -> ChangeSet:
    return ChangeSet(base_version=base, version=version, unavailable=reason[:200])


def flagged_by(files: list[str], prefixes: list[str]) -> tuple[str, ...]:
    """The configured prefixes that ``files`` touch, in config order."""
    return tuple(p for p in prefixes if any(f.startswith(p) for f in files))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
