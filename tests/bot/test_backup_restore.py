"""docs/operations.md's backup procedure on SQLite: the anchor taken before the backup
verifies the restored database; an anchor taken after it reports the lost entries."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from tests.bot.test_cli import _activity
from workflows.clock import FakeClock
from workflows.store.db import Database


def _anchor(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["audit", "verify"]) == 0
    seq, digest = re.search(r"head (\d+) ([0-9a-f]{64})", capsys.readouterr().out).groups()  # type: ignore[union-attr]
    return f"{seq}:{digest}"


def test_the_anchor_kept_with_a_backup_verifies_the_restore(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live, backup = tmp_path / "shipbot.db", tmp_path / "backup.db"
    database = Database(f"sqlite:///{live}")
    database.upgrade()
    monkeypatch.setenv("SHIPBOT_DATABASE_URL", database.url)
    _activity(database, clock, count=3)

    anchor_with_backup = _anchor(capsys)  # first the anchor, then the copy (it contains it)
    with sqlite3.connect(live) as source, sqlite3.connect(backup) as target:
        source.backup(target)
    _activity(database, clock, count=2)
    later_anchor = _anchor(capsys)  # e.g. the next audit checkpoint posted to Slack
    database.dispose()

    with sqlite3.connect(backup) as source, sqlite3.connect(live) as target:
        source.backup(target)  # restore
    assert main(["audit", "verify", "--expect-head", anchor_with_backup]) == 0
    assert main(["audit", "verify", "--expect-head", later_anchor]) == 1
    assert "truncated?" in capsys.readouterr().err
