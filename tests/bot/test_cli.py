"""The `shipbot` command line, in process (fast) for everything but the servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.cli import main
from workflows import audit
from workflows.clock import FakeClock
from workflows.store.db import Database

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shipbot.yaml"


@pytest.fixture
def use_database(database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("SHIPBOT_DATABASE_URL", database.url)
    return database


def test_check_config_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(EXAMPLE)]) == 0
    assert "ok (1 service, 2 environments, 3 groups, 3 reports)" in capsys.readouterr().out


def test_check_config_names_the_bad_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("backend: command", "backend: ecss"))
    assert main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "services.web.deploy.backend: unknown backend 'ecss' (expected one of" in err


def test_check_config_reads_shipbot_config_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIPBOT_CONFIG", str(tmp_path / "missing.yaml"))
    assert main(["check-config"]) == 1
    assert "missing.yaml" in capsys.readouterr().err


def test_config_schema_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "services" in schema["properties"]


def test_db_upgrade_and_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIPBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    assert main(["db", "current"]) == 1  # nothing applied yet
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "current"]) == 0
    assert "(newest)" in capsys.readouterr().out


def _activity(database: Database, clock: FakeClock, count: int = 5) -> None:
    for n in range(count):
        with database.transaction() as session:
            audit.record(
                session=session,
                clock=clock,
                actor="U0ALICE",
                action="test.action",
                target=f"thing-{n}",
                params={"n": n},
            )
        clock.advance(seconds=1)


def test_audit_verify_passes_then_fails_after_a_hand_edit(
    use_database: Database, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    _activity(use_database, clock)
    assert main(["audit", "verify"]) == 0
    assert "audit log intact: 5 entries" in capsys.readouterr().out
    with use_database.engine.begin() as connection:
        connection.execute(text("UPDATE audit_entries SET actor = 'U0EVE' WHERE seq = 3"))
    assert main(["audit", "verify"]) == 1
    assert "entry 3" in capsys.readouterr().err


def test_audit_verify_checks_an_outside_anchor(
    use_database: Database, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    _activity(use_database, clock)
    with use_database.session() as session:
        report = audit.verify(session=session)
    assert main(["audit", "verify", "--expect-head", f"{report.head_seq}:{report.head_hash}"]) == 0
    assert main(["audit", "verify", "--expect-head", f"{report.head_seq}:{'0' * 64}"]) == 1
    assert main(["audit", "verify", "--expect-head", "nonsense"]) == 2


def test_audit_export_jsonl_to_a_file(
    use_database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    _activity(use_database, clock, count=3)
    out = tmp_path / "audit.jsonl"
    assert main(["audit", "export", "--format", "jsonl", "-o", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["target"] for row in rows] == ["thing-0", "thing-1", "thing-2"]
    assert all(len(row["hash"]) == 64 for row in rows)


def test_jobs_list_shows_jobs(
    use_database: Database, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from workflows.jobs import enqueue

    assert main(["jobs", "list"]) == 0
    assert "no jobs" in capsys.readouterr().out
    with use_database.transaction() as session:
        enqueue(
            session=session,
            clock=clock,
            kind="render",
            payload={"view_key": "x"},
            idempotency_key="render:x:1",
        )
    assert main(["jobs", "list", "--state", "pending"]) == 0
    assert "render" in capsys.readouterr().out


def test_serve_without_credentials_says_which_are_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN" in err and "SLACK_SIGNING_SECRET" in err


def test_socket_mode_without_app_token_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("SHIPBOT_CONFIG", str(EXAMPLE))
    assert main(["serve", "--socket-mode"]) == 2
    assert "SLACK_APP_TOKEN" in capsys.readouterr().err
