"""Anchor stores: an append-only file and an S3 Object Lock bucket (moto), read back as
the newest anchor, refusing what is not one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from pydantic import ValidationError

from tests.workflows.backends.conftest import aws_credentials, moto, moto_url
from workflows.audit.anchors import (
    Anchor,
    AnchorError,
    AnchorsConfig,
    FileAnchors,
    S3AnchorConfig,
    S3Anchors,
    anchor_stores,
)
from workflows.config import parse_config

__all__ = ["aws_credentials", "moto", "moto_url"]  # fixtures, used by name

A5 = Anchor(seq=5, hash="a" * 64, taken_at="2026-01-05T00:30:00+00:00", report="audit-checkpoint")
A9 = Anchor(seq=9, hash="b" * 64, taken_at="2026-01-06T00:30:00+00:00", report="audit-checkpoint")


def test_file_anchors_append_lines_and_read_the_highest(tmp_path: Path) -> None:
    store = FileAnchors(tmp_path / "anchors.jsonl")
    assert store.latest() is None
    assert store.append(A9) == f"file {tmp_path / 'anchors.jsonl'}"
    store.append(A5)  # an older head written later (a retried job) does not win
    store.append(A9)  # nor does a duplicate conflict
    assert store.latest() == A9
    assert len((tmp_path / "anchors.jsonl").read_text().splitlines()) == 3


def test_file_anchors_refuse_garbage_and_disagreement(tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    store = FileAnchors(path)
    store.append(A9)
    with path.open("a") as file:
        file.write('{"seq": 9, "hash": "' + "c" * 64 + '"}\n')
    with pytest.raises(AnchorError, match="anchors for entry 9 with different hashes"):
        store.latest()
    path.write_text(A5.to_json() + "\nnot json\n")
    with pytest.raises(AnchorError, match="line 2 is not an audit anchor"):
        store.latest()
    path.write_text('{"seq": 5, "hash": "short"}\n')
    with pytest.raises(AnchorError, match="bad seq or hash"):
        store.latest()


def test_a_file_that_cannot_be_written_is_an_anchor_error(tmp_path: Path) -> None:
    with pytest.raises(AnchorError, match="cannot append"):
        FileAnchors(tmp_path / "missing-dir" / "anchors.jsonl").append(A5)


def locked_bucket(name: str) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)


def test_s3_anchors_are_locked_objects_read_back_from_their_keys(moto: str) -> None:
    locked_bucket("anchors")
    config = S3AnchorConfig(
        bucket="anchors", prefix="prod/", lock_mode="COMPLIANCE", retain_days=30
    )
    store = S3Anchors(config)
    assert store.latest() is None
    where = store.append(A5)
    assert where == f"s3://anchors/prod/{5:020d}-{'a' * 64}.json"
    store.append(A9)
    assert store.latest() == Anchor(seq=9, hash="b" * 64, taken_at="")
    s3 = boto3.client("s3")
    key = f"prod/{9:020d}-{'b' * 64}.json"
    head = s3.head_object(Bucket="anchors", Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC)
    # Locked: the version cannot be deleted, so the newest anchor cannot be taken away.
    with pytest.raises(ClientError):
        s3.delete_object(Bucket="anchors", Key=key, VersionId=head["VersionId"])
    # A false anchor added for the same entry is noticed, not believed.
    s3.put_object(Bucket="anchors", Key=f"prod/{9:020d}-{'c' * 64}.json", Body=b"{}")
    with pytest.raises(AnchorError, match="different hashes"):
        store.latest()


def test_s3_errors_are_anchor_errors(moto: str) -> None:
    store = S3Anchors(S3AnchorConfig(bucket="no-such-bucket"))
    with pytest.raises(AnchorError, match="cannot write s3://no-such-bucket/"):
        store.append(A5)
    with pytest.raises(AnchorError, match="cannot list"):
        store.latest()


def test_the_config_names_the_stores(tmp_path: Path) -> None:
    config = parse_config(
        f"""
audit:
  anchors:
    file: {tmp_path / "anchors.jsonl"}
    s3: {{bucket: audit-anchors, prefix: shipbot/, lock_mode: GOVERNANCE, retain_days: 365}}
"""
    )
    assert config.audit.anchors.s3 is not None
    assert config.audit.anchors.s3.retain_days == 365
    stores = anchor_stores(config.audit.anchors, s3_client=boto3.client("s3", "us-east-1"))
    assert [store.describe() for store in stores] == [
        f"file {tmp_path / 'anchors.jsonl'}",
        "s3://audit-anchors/shipbot/",
    ]
    assert anchor_stores(AnchorsConfig()) == []
    with pytest.raises(ValidationError, match="lock_mode and retain_days go together"):
        S3AnchorConfig(bucket="audit-anchors", lock_mode="COMPLIANCE")
