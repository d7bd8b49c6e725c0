"""Fixtures every test may use: databases (SQLite and PostgreSQL), a fake clock, a clean
environment. Fixtures of one area live in that area's conftest (tests/bot/, ...)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from workflows.clock import FakeClock
from workflows.redact import forget_secret, registered_secrets
from workflows.store.db import Database
from workflows.store.scratch import scratch_postgres

POSTGRES_URL_VAR = "SHIPBOT_TEST_POSTGRES_URL"
POSTGRES_SKIP_REASON = (
    f"{POSTGRES_URL_VAR} is not set: PostgreSQL tests need a server "
    "(CI sets it to the local one; e.g. postgresql://postgres@127.0.0.1:5432/test)"
)

# Variables a test must never inherit from the shell that runs pytest.
_SHIPBOT_ENV = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "SHIPBOT_DATABASE_URL",
    "SHIPBOT_CONFIG",
    "SHIPBOT_PORT",
    "SHIPBOT_STATE_DIR",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _SHIPBOT_ENV:
        monkeypatch.delenv(name, raising=False)
    # Secrets registered for redaction are process-wide; one test's must not mask another's.
    before = registered_secrets()
    yield
    for value in registered_secrets() - before:
        forget_secret(value)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_URL_VAR) or None


def make_database(kind: str, tmp_path: Path, revision: str = "head") -> Iterator[Database]:
    """An empty database of ``kind`` ("sqlite" or "postgres") migrated to ``revision``,
    for one test.

    PostgreSQL tests each get a schema of their own, dropped afterwards, so they can run
    side by side on one server."""
    if kind == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'shipbot.db'}")
        database.upgrade(revision)
        yield database
        database.dispose()
        return
    base = postgres_url()
    if base is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    with scratch_postgres(base, revision=revision) as database:
        yield database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The same test on SQLite and on PostgreSQL (rule 6)."""
    yield from make_database(request.param, tmp_path)


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    yield from make_database("sqlite", tmp_path)


@pytest.fixture
def postgres_database(tmp_path: Path) -> Iterator[Database]:
    yield from make_database("postgres", tmp_path)


# --- Slack fake fixtures ---
from bot.sandbox.slack.api import FakeSlackApi  # noqa: E402


@pytest.fixture(scope="session")
def slack_api_server() -> Iterator[FakeSlackApi]:
    """One loopback Slack Web API for the whole session (reset per test by ``slack``)."""
    with FakeSlackApi() as fake:
        yield fake


@pytest.fixture
def slack(slack_api_server: FakeSlackApi) -> Iterator[FakeSlackApi]:
    """The Slack fake with an empty workspace. The test fails at teardown if the app made
    calls the fake did not expect or posted blocks Slack would refuse, unless the test
    consumed them with ``slack.take_unexpected()`` / ``slack.take_invalid()``."""
    slack_api_server.reset()
    yield slack_api_server
    problems = slack_api_server.take_surprises()
    if problems:
        pytest.fail("Slack fake saw problems the test did not acknowledge:\n" + "\n".join(problems))
