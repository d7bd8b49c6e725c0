"""`shipbot audit verify --against-checkpoints`: the checkpoint report writes the head to
an outside anchor (a file, an S3 Object Lock bucket in moto), and cutting the log's tail
and rewinding its head row, which plain `verify` cannot see, fails against that anchor.
Both databases, both stores."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from sqlalchemy import select, text

from bot.cli import main
from tests.workflows.backends.conftest import aws_credentials, moto, moto_url
from tests.workflows.reports.test_runner import claim
from workflows import audit
from workflows.audit.chain import ENTRIES
from workflows.clock import FakeClock
from workflows.config import load_config
from workflows.reports.models import ReportRun
from workflows.reports.runner import run_report
from workflows.store.db import Database

__all__ = ["aws_credentials", "moto", "moto_url"]  # fixtures, used by name

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shipbot.yaml"
ANCHORS = {
    "file": "  anchors:\n    file: {tmp}/anchors.jsonl\n",
    "s3": "  anchors:\n    s3: {{bucket: audit-anchors, lock_mode: COMPLIANCE, retain_days: 1}}\n",
}


@pytest.fixture(params=["file", "s3"])
def configured(
    request: pytest.FixtureRequest,
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """The example config plus ``audit.anchors`` of one kind, in the environment."""
    if request.param == "s3":
        request.getfixturevalue("moto")
        boto3.client("s3").create_bucket(Bucket="audit-anchors", ObjectLockEnabledForBucket=True)
    path = tmp_path / "shipbot.yaml"
    path.write_text(
        EXAMPLE.read_text() + "\naudit:\n" + ANCHORS[request.param].format(tmp=tmp_path)
    )
    monkeypatch.setenv("SHIPBOT_CONFIG", str(path))
    monkeypatch.setenv("SHIPBOT_DATABASE_URL", database.url)
    return path


def record(database: Database, clock: FakeClock, count: int) -> None:
    for n in range(count):
        clock.advance(seconds=1)
        with database.transaction() as session:
            audit.record(session=session, clock=clock, actor="U0ALICE", action="t", target=str(n))


def checkpoint(database: Database, clock: FakeClock, config_path: Path) -> dict[str, object]:
    """Run the audit checkpoint report as the scheduler would: claim, then the job."""
    config = load_config(config_path)
    report = next(r for r in config.reports if r.kind == "audit_checkpoint")
    run_id = claim(database, clock, report)
    assert run_report(database=database, clock=clock, config=config, run_id=run_id)
    with database.read_session() as session:
        stored = session.get(ReportRun, run_id)
    assert stored is not None and stored.figures is not None
    return stored.figures


def hash_of(database: Database, seq: int) -> str:
    with database.read_session() as session:
        return session.execute(select(ENTRIES.c.hash).where(ENTRIES.c.seq == seq)).scalar_one()


def test_a_cut_tail_with_a_rewound_head_fails_against_the_checkpoint(
    database: Database, clock: FakeClock, configured: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record(database, clock, 5)
    figures = checkpoint(database, clock, configured)  # the claim's own entry is 6
    assert (figures["head_seq"], figures["verified"]) == (6, True)
    anchored_to = figures["anchored_to"]
    assert isinstance(anchored_to, list) and len(anchored_to) == 1
    where = str(anchored_to[0])
    assert figures["anchor_errors"] == []
    record(database, clock, 3)
    assert main(["audit", "verify", "--against-checkpoints"]) == 0
    out = capsys.readouterr().out
    assert "audit log intact: 9 entries" in out
    assert f"entry 6 {hash_of(database, 6)}" in out

    with database.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entries WHERE seq > 4"))
        connection.execute(
            text("UPDATE audit_head SET seq = 4, hash = :h WHERE id = 1"),
            {"h": hash_of(database, 4)},
        )
    assert main(["audit", "verify"]) == 0  # the chain alone cannot tell
    capsys.readouterr()
    assert main(["audit", "verify", "--against-checkpoints"]) == 1
    err = capsys.readouterr().err
    assert "audit log BROKEN: the anchor says entry 6" in err
    assert "ends at entry 4 (truncated?)" in err
    assert where.startswith(("file ", "s3://audit-anchors/"))


def test_a_rewritten_chain_fails_against_the_checkpoint(
    database: Database, clock: FakeClock, configured: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Cut after entry 4, then re-record: a consistent chain and head, with other hashes.
    record(database, clock, 5)
    checkpoint(database, clock, configured)
    with database.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entries WHERE seq > 4"))
        connection.execute(
            text("UPDATE audit_head SET seq = 4, hash = :h WHERE id = 1"),
            {"h": hash_of(database, 4)},
        )
    record(database, clock, 4)
    assert main(["audit", "verify"]) == 0
    assert main(["audit", "verify", "--against-checkpoints"]) == 1
    assert "entry 6's hash does not match the anchor" in capsys.readouterr().err


def test_verify_against_checkpoints_needs_a_store_and_an_anchor(
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SHIPBOT_DATABASE_URL", database.url)
    monkeypatch.setenv("SHIPBOT_CONFIG", str(EXAMPLE))
    assert main(["audit", "verify", "--against-checkpoints"]) == 2
    assert "needs audit.anchors.file or audit.anchors.s3" in capsys.readouterr().err
    config = tmp_path / "shipbot.yaml"
    config.write_text(f"audit:\n  anchors:\n    file: {tmp_path / 'none.jsonl'}\n")
    monkeypatch.setenv("SHIPBOT_CONFIG", str(config))
    assert main(["audit", "verify", "--against-checkpoints"]) == 1
    assert "holds no checkpoint yet" in capsys.readouterr().err
