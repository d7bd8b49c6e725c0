"""What changed, from the GitHub compare and commit APIs on a loopback fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.fakes.github_api import FakeGithub
from workflows.changes.github import github_changes
from workflows.config.sources import GithubSource
from workflows.redact import redact_text

TOKEN = "ghp_" + "k3" * 18


@pytest.fixture
def github() -> Iterator[FakeGithub]:
    fake = FakeGithub(token=TOKEN).start()
    base = fake.add_commit(
        "Release 1.0.0", login="alice", date="2026-01-01T10:00:00Z", files=["app.py"]
    )
    fake.tags["v1.0.0"] = base
    fake.add_commit(
        "Add orders table",
        login="bob",
        date="2026-01-02T09:00:00Z",
        files=["migrations/0002.sql", "app.py"],
    )
    for number in range(11):
        fake.add_commit(
            f"Tweak {number}\n\nbody",
            login="carol",
            date=f"2026-01-03T09:{number:02d}:00Z",
            files=["app.py"],
        )
    fake.tags["v1.1.0"] = fake.commits[-1].sha
    yield fake
    fake.stop()


def _source(github: FakeGithub, token: str = TOKEN) -> GithubSource:
    return GithubSource(github="acme/web", api_url=github.url, token=token)  # type: ignore[arg-type]


def _http() -> httpx.Client:
    return httpx.Client(timeout=5.0)


def test_compare_lists_the_newest_ten_and_dates_the_oldest(github: FakeGithub) -> None:
    changes = github_changes(_source(github), base="1.0.0", version="1.1.0", http=_http)
    assert changes.unavailable is None
    assert changes.total == 12 and len(changes.commits) == 10
    assert changes.commits[0].title == "Tweak 10" and changes.commits[0].author == "carol"
    assert changes.first_commit_at == datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    assert changes.compare_url == "https://github.example/acme/web/compare/v1.0.0...v1.1.0"
    # The migration commit is beyond the ten listed, but the range touches migrations/.
    assert changes.flagged_paths == ("migrations/",) and changes.flagged == 0
    compare = github.server.calls("GET", "/repos/acme/web/compare/v1.0.0...v1.1.0")[0]
    assert compare.headers["authorization"] == f"Bearer {TOKEN}"
    assert compare.headers["x-github-api-version"] == "2022-11-28"
    assert redact_text(f"token {TOKEN}") == "token [redacted]"


def test_a_listed_commit_touching_migrations_is_flagged(github: FakeGithub) -> None:
    github.tags["v1.0.1"] = github.commits[2].sha
    changes = github_changes(_source(github), base="1.0.0", version="1.0.1", http=_http)
    assert [(c.title, c.flagged_paths) for c in changes.commits] == [
        ("Tweak 0", ()),
        ("Add orders table", ("migrations/",)),
    ]
    assert changes.flagged == 1


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("rate_limited", "GitHub rate limit; resets 10:00 UTC"),
        ("bad_token", "GitHub: HTTP 401 for v1.0.0...v1.1.0"),
        ("missing_tag", "GitHub: v1.0.0...v9.9.9 not found"),
    ],
)
def test_trouble_degrades_to_a_reason(github: FakeGithub, setup: str, reason: str) -> None:
    github.rate_limited = setup == "rate_limited"
    token = "ghp_" + "zz" * 18 if setup == "bad_token" else TOKEN
    version = "9.9.9" if setup == "missing_tag" else "1.1.0"
    changes = github_changes(_source(github, token), base="1.0.0", version=version, http=_http)
    assert changes.unavailable == reason
    assert changes.total == 0 and changes.first_commit_at is None


def test_an_unreachable_github_is_a_reason(github: FakeGithub) -> None:
    url = github.url
    github.stop()
    source = GithubSource(github="acme/web", api_url=url)  # type: ignore[arg-type]
    changes = github_changes(source, base="1.0.0", version="1.1.0", http=_http)
    assert changes.unavailable == "GitHub unreachable (ConnectError)"
    github.server = type(github.server)()  # the fixture stops a fresh, unstarted one
    github.server.start()
