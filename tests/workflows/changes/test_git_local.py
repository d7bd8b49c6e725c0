"""What changed, from a real git repository made in the test."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.fakes.git_repo import GitRepo
from workflows.changes.git_local import git_changes
from workflows.config.sources import GitSource


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "web")
    repo.commit("Initial", files={"app.py": "v1"}, author="Alice Ng", date="2026-01-01T10:00:00Z")
    repo.tag("v1.0.0")
    return repo


def _source(repo: GitRepo, **extra: object) -> GitSource:
    return GitSource(git=str(repo.path), **extra)  # type: ignore[arg-type]


def test_lists_commits_newest_first_flags_migrations_and_dates_the_first(repo: GitRepo) -> None:
    repo.commit(
        "Add orders table\n\nlong body",
        files={"migrations/0002.sql": "create"},
        author="Bob Li",
        date="2026-01-02T09:00:00Z",
    )
    repo.commit(
        "Fix checkout <script> & co",
        files={"app.py": "v2"},
        author="Carol Diaz",
        date="2026-01-03T09:30:00Z",
    )
    repo.tag("v1.1.0")
    changes = git_changes(
        _source(repo, compare_url="https://git.example/web/compare/{from}...{to}"),
        base="1.0.0",
        version="1.1.0",
    )
    assert changes.unavailable is None
    assert changes.total == 2
    assert [(c.title, c.author) for c in changes.commits] == [
        ("Fix checkout <script> & co", "Carol Diaz"),
        ("Add orders table", "Bob Li"),
    ]
    assert [c.flagged_paths for c in changes.commits] == [(), ("migrations/",)]
    assert (changes.flagged, changes.flagged_paths) == (1, ("migrations/",))
    assert changes.first_commit_at == datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    assert changes.compare_url == "https://git.example/web/compare/v1.0.0...v1.1.0"


def test_at_most_ten_are_listed_and_all_are_counted(repo: GitRepo) -> None:
    for number in range(12):
        repo.commit(
            f"Change {number}",
            files={"app.py": str(number)},
            author="Dana Oh",
            date=f"2026-01-02T09:{number:02d}:00Z",
        )
    repo.tag("v2.0.0")
    changes = git_changes(_source(repo), base="1.0.0", version="2.0.0")
    assert changes.total == 12 and len(changes.commits) == 10
    assert changes.commits[0].title == "Change 11"
    assert changes.first_commit_at == datetime(2026, 1, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("version", ["9.9.9", "--output=/tmp/pwned", "1.0.0..HEAD"])
def test_unknown_or_hostile_versions_are_unavailable_not_run(
    repo: GitRepo, version: str, tmp_path: Path
) -> None:
    changes = git_changes(_source(repo, tag_pattern="{version}"), base="v1.0.0", version=version)
    assert changes.unavailable is not None and changes.unavailable.startswith("git: ")
    assert changes.commits == ()
    assert not Path("/tmp/pwned").exists()


def test_a_missing_repository_is_a_reason_not_an_error(tmp_path: Path) -> None:
    changes = git_changes(GitSource(git=str(tmp_path / "nope")), base="1.0.0", version="1.1.0")
    assert changes.unavailable == f"git: v1.0.0 not found in {tmp_path / 'nope'}"
