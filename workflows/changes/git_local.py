"""Commits between two refs of a local git repository, with ``git log`` (argv, no shell).

Refs come from versions people typed, so each is checked with ``git rev-parse --verify
--end-of-options`` before use: a version can never become a git option.
"""

from __future__ import annotations

import os
import subprocess
from datetime import datetime

from workflows.changes.model import LISTED, ChangeSet, Commit, flagged_by, unavailable
from workflows.config.sources import GitSource

TIMEOUT_SECONDS = 10
_SEP = "\x1f"
_START = "\x1e"


class GitError(RuntimeError):
    pass


def _git(path: str, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", path, *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GitError(type(error).__name__) from None
    if done.returncode != 0:
        raise GitError(
            done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "git failed"
        )
    return done.stdout


def _resolve(path: str, ref: str) -> str:
    try:
        return _git(
            path, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
        ).strip()
    except GitError:
        raise GitError(f"{ref} not found in {path}") from None


def git_changes(source: GitSource, *, base: str, version: str) -> ChangeSet:
    base_ref, head_ref = source.ref(base), source.ref(version)
    try:
        old, new = _resolve(source.git, base_ref), _resolve(source.git, head_ref)
        log = _git(
            source.git,
            "log",
            f"--format={_START}%H{_SEP}%an{_SEP}%aI{_SEP}%s",
            "--name-only",
            f"{old}..{new}",
        )
    except GitError as error:
        return unavailable(base, version, f"git: {error}")
    commits = []
    for chunk in log.split(_START)[1:]:
        header, _, files = chunk.partition("\n")
        sha, author, when, title = header.split(_SEP, 3)
        paths = [f for f in files.splitlines() if f.strip()]
        commits.append(
            Commit(
                sha=sha,
                title=title,
                author=author,
                authored_at=datetime.fromisoformat(when),
                flagged_paths=flagged_by(paths, source.flag_paths),
            )
        )
    compare = None
    if source.compare_url:
        compare = source.compare_url.replace("{from}", base_ref).replace("{to}", head_ref)
    touched = [p for p in source.flag_paths if any(p in c.flagged_paths for c in commits)]
    return ChangeSet(
        base_version=base,
        version=version,
        total=len(commits),
        commits=tuple(commits[:LISTED]),  # git log lists newest first
        flagged=sum(1 for c in commits if c.flagged_paths),
        flagged_paths=tuple(touched),
        compare_url=compare,
        first_commit_at=commits[-1].authored_at if commits else None,
    )
