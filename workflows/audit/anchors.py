"""Outside anchors: the chain's head written where someone with database access cannot
rewrite it, and read back by ``shipbot audit verify --against-checkpoints``.

A hash chain alone cannot tell a log cut short (and its head row rewound) from a shorter
log, nor a chain rewritten and re-hashed from some entry on: anyone who can write the
database can recompute every hash. A head kept elsewhere can: the chain must still
contain that entry with that hash.

Two places, both append-only by construction:

- ``file``: JSON lines appended to a local file (``chattr +a`` or a WORM mount makes it
  append-only for the operating system too);
- ``s3``: one object per anchor in a bucket with S3 Object Lock, keyed by sequence number
  and hash, so a new anchor never replaces an old one and a locked one cannot be deleted
  or overwritten until its retention ends.

Reading takes the anchor with the highest sequence number. Adding a bogus later anchor
only makes verification fail; two anchors for one entry that disagree fail too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

_HEX = frozenset("0123456789abcdef")


class AnchorError(RuntimeError):
    """An anchor store cannot be read or written, or holds something that is no anchor."""


class S3AnchorConfig(BaseModel):
    """Anchors as objects in an S3 bucket created with Object Lock enabled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: str = Field(min_length=3, max_length=63)
    prefix: str = Field(default="shipbot/audit-anchors/", description="Key prefix.")
    region: str | None = Field(default=None, description="Default: the AWS environment's.")
    lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] | None = Field(
        default=None,
        description="Retention set on each object; omit to rely on the bucket's default.",
    )
    retain_days: int | None = Field(default=None, ge=1, le=36_500)

    @model_validator(mode="after")
    def _mode_and_days_together(self) -> S3AnchorConfig:
        if (self.lock_mode is None) != (self.retain_days is None):
            raise ValueError("lock_mode and retain_days go together: set both or neither")
        return self


class AnchorsConfig(BaseModel):
    """Where the audit checkpoint report also writes the head (any or all of them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: Path | None = Field(default=None, description="Append-only JSON lines file.")
    s3: S3AnchorConfig | None = None


class AuditConfig(BaseModel):
    """The ``audit`` section of the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    anchors: AnchorsConfig = Field(default_factory=AnchorsConfig)


@dataclass(frozen=True)
class Anchor:
    """The chain's head at ``taken_at``: entry ``seq`` has hash ``hash``."""

    seq: int
    hash: str
    taken_at: str
    report: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {"seq": self.seq, "hash": self.hash, "taken_at": self.taken_at, "report": self.report},
            sort_keys=True,
        )

    @classmethod
    def parse(cls, text: str, *, where: str) -> Anchor:
        try:
            data = json.loads(text)
            anchor = cls(int(data["seq"]), str(data["hash"]), str(data.get("taken_at", "")))
        except (ValueError, TypeError, KeyError) as exc:
            raise AnchorError(f"{where} is not an audit anchor: {exc}") from exc
        if anchor.seq < 0 or len(anchor.hash) != 64 or not set(anchor.hash) <= _HEX:
            raise AnchorError(f"{where} is not an audit anchor: bad seq or hash")
        return cls(anchor.seq, anchor.hash, anchor.taken_at, str(data.get("report", "")))


def newest(anchors: list[tuple[Anchor, str]], *, store: str) -> Anchor | None:
    """The anchor with the highest ``seq``; two for that entry must agree."""
    if not anchors:
        return None
    top = max(anchor.seq for anchor, _ in anchors)
    found = {anchor.hash: where for anchor, where in anchors if anchor.seq == top}
    if len(found) > 1:
        raise AnchorError(
            f"{store} holds anchors for entry {top} with different hashes "
            f"({', '.join(sorted(found.values()))}): someone wrote a false one"
        )
    return next(anchor for anchor, _ in anchors if anchor.seq == top)


class S3Client(Protocol):
    """The calls ``S3Anchors`` makes on a boto3 S3 client."""

    def put_object(self, **kwargs: Any) -> Any: ...

    def get_paginator(self, operation_name: str) -> Any: ...


class AnchorStore(Protocol):
    """A place outside the database where anchors are appended and read back."""

    def describe(self) -> str: ...

    def append(self, anchor: Anchor) -> str:
        """Write ``anchor``; where it went (for the checkpoint message)."""
        ...

    def latest(self) -> Anchor | None:
        """The anchor with the highest ``seq``, or None when there is none yet."""
        ...


class FileAnchors:
    """Anchors as JSON lines appended (and fsynced) to one file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        return f"file {self.path}"

    def append(self, anchor: Anchor) -> str:
        try:
            with self.path.open("a", encoding="utf-8") as file:
                file.write(anchor.to_json() + "\n")
                file.flush()
                os.fsync(file.fileno())
        except OSError as exc:
            raise AnchorError(f"cannot append to {self.path}: {exc}") from exc
        return self.describe()

    def latest(self) -> Anchor | None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AnchorError(f"cannot read {self.path}: {exc}") from exc
        where = [f"{self.path} line {n}" for n in range(1, len(lines) + 1)]
        anchors = [
            (Anchor.parse(line, where=place), place)
            for line, place in zip(lines, where, strict=True)
            if line.strip()
        ]
        return newest(anchors, store=self.describe())


class S3Anchors:
    """Anchors as objects ``<prefix><seq, 20 digits>-<hash>.json`` in an Object Lock bucket.

    The key carries the anchor, so reading lists keys (no object is fetched) and a retry
    writes the same key with the same body."""

    def __init__(self, config: S3AnchorConfig, *, client: S3Client | None = None) -> None:
        self.config = config
        if client is None:
            import boto3

            client = boto3.client("s3", region_name=config.region)
        self.client: S3Client = client

    def describe(self) -> str:
        return f"s3://{self.config.bucket}/{self.config.prefix}"

    def append(self, anchor: Anchor) -> str:
        key = f"{self.config.prefix}{anchor.seq:020d}-{anchor.hash}.json"
        extra: dict[str, Any] = {}
        if self.config.lock_mode is not None and self.config.retain_days is not None:
            until = datetime.now(UTC) + timedelta(days=self.config.retain_days)
            extra = {"ObjectLockMode": self.config.lock_mode, "ObjectLockRetainUntilDate": until}
        try:
            self.client.put_object(
                Bucket=self.config.bucket,
                Key=key,
                Body=anchor.to_json().encode("utf-8"),
                ContentType="application/json",
                ChecksumAlgorithm="SHA256",
                **extra,
            )
        except Exception as exc:  # botocore's errors share no base worth naming here
            raise AnchorError(f"cannot write s3://{self.config.bucket}/{key}: {exc}") from exc
        return f"s3://{self.config.bucket}/{key}"

    def latest(self) -> Anchor | None:
        anchors: list[tuple[Anchor, str]] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.config.bucket, Prefix=self.config.prefix
            )
            keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        except Exception as exc:
            raise AnchorError(f"cannot list {self.describe()}: {exc}") from exc
        for key in keys:
            name = key[len(self.config.prefix) :].removesuffix(".json")
            seq, _, digest = name.partition("-")
            where = f"s3://{self.config.bucket}/{key}"
            text = json.dumps({"seq": seq, "hash": digest})
            anchors.append((Anchor.parse(text, where=where), where))
        return newest(anchors, store=self.describe())


def anchor_stores(config: AnchorsConfig, *, s3_client: S3Client | None = None) -> list[AnchorStore]:
    """The stores ``config`` names, in a fixed order (file, then S3)."""
    stores: list[AnchorStore] = []
    if config.file is not None:
        stores.append(FileAnchors(config.file))
    if config.s3 is not None:
        stores.append(S3Anchors(config.s3, client=s3_client))
    return stores
