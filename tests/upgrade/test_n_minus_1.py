"""Expand/contract, tested: the previous release's code keeps working on this release's
schema, so two releases can run side by side during a rolling upgrade.

The previous release is 0.2.0 (commit ``PREVIOUS_COMMIT``, migrations 0001-0002). Its
``workflows`` package is extracted from git and runs a fixed workload of its own store
functions (previous_release_workload.py) in a separate process: on its own schema (the
workload is sound), with 0.2.0 data upgraded to this release's head, and after
``shipbot db downgrade`` (the way back). This release's ``audit verify`` then checks the
chain both releases wrote. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import make_database
from workflows import audit
from workflows.store.db import Database

PREVIOUS_COMMIT = "f5e6ad7"  # 0.2.0
PREVIOUS_HEAD = "0002"
REPO = Path(__file__).resolve().parents[2]
WORKLOAD = Path(__file__).with_name("previous_release_workload.py")


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, check=False)


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 0.2.0 tree's ``workflows`` package and example config, from git."""
    if _git("cat-file", "-e", f"{PREVIOUS_COMMIT}^{{commit}}").returncode != 0:
        pytest.skip(f"needs the git history with {PREVIOUS_COMMIT} (0.2.0): not a git clone")
    archive = _git("archive", "--format=tar", PREVIOUS_COMMIT, "workflows", "examples")
    assert archive.returncode == 0, archive.stderr
    root = tmp_path_factory.mktemp("shipbot-0.2.0")
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(root, filter="data")
    return root


def run_previous(root: Path, database: Database, tag: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONSAFEPATH": "1"}
    done = subprocess.run(
        [sys.executable, str(WORKLOAD), str(root), database.url,
         str(root / "examples" / "shipbot.yaml"), tag],
        cwd=root, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, f"0.2.0 code failed ({tag}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def previous_schema(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database migrated only as far as 0.2.0 went."""
    yield from make_database(request.param, tmp_path, revision=PREVIOUS_HEAD)


def _sqlite_schema(url: str) -> list[tuple[str, str]]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        return connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
        ).fetchall()


def test_released_migrations_still_build_the_schema_they_shipped_with(
    previous_release: Path, tmp_path: Path
) -> None:
    # The schema 0.2.0 runs on is what its own migrations made. This tree's 0001-0002 may
    # be touched (imports, types) but must build exactly that schema, table by table.
    shipped = f"sqlite:///{tmp_path / 'shipped.db'}"
    done = subprocess.run(
        [sys.executable, "-c",
         "import sys; from workflows.store.db import Database; Database(sys.argv[1]).upgrade()",
         shipped],
        cwd=previous_release, env={**os.environ, "PYTHONPATH": str(previous_release),
                                   "PYTHONSAFEPATH": "1"},
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    ours = Database(f"sqlite:///{tmp_path / 'ours.db'}")
    ours.upgrade(PREVIOUS_HEAD)
    ours.dispose()
    schema = _sqlite_schema(shipped)
    assert any(name == "deploys" for name, _ in schema)  # 0.2.0's tables are there
    assert _sqlite_schema(ours.url) == schema


def test_previous_release_keeps_working_on_the_upgraded_schema(
    previous_release: Path, previous_schema: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = previous_schema
    assert "ok" in run_previous(previous_release, database, "on-0.2.0-schema")

    database.upgrade()  # what the `shipbot db upgrade` Job does before the rollout
    assert database.migrations_current()
    assert "ok" in run_previous(previous_release, database, "beside-0.3.0")
    with database.read_session() as session:
        report = audit.verify(session=session, expected_head=None)
    assert report.ok, report.problem  # one chain, written by both releases

    monkeypatch.setenv("SHIPBOT_DATABASE_URL", database.url)
    assert main(["db", "downgrade", "--yes"]) == 0
    assert database.current_revision() != database.head_revision()
    assert "ok" in run_previous(previous_release, database, "after-rollback")
    assert main(["db", "upgrade"]) == 0
    assert database.migrations_current()
