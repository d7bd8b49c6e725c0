"""The audit checkpoint: the audit chain's head, posted where the database cannot reach.

The head (``seq`` and ``hash``) is taken when the fire time is claimed, from the audit
entry that records the claim itself (``claims.claim_run``), so the checkpoint anchors its
own entry too and later entries do not change what it posts. ``shipbot audit verify
--expect-head SEQ:HASH`` checks the chain against a posted head.

When the job runs it also verifies the whole chain (``audit.verify``: ranges in worker
processes), against the previous checkpoint's anchor too, and says whether it held: an
entry edited, deleted or rewritten since shows up in the channel, not only when someone
runs ``audit verify``. (Verifying only from the previous anchor on would be cheaper but
would miss an edit of an older entry.) When the chain held, ``write_anchors`` appends the
head to the anchor stores of ``audit.anchors`` in the config (a file, an S3 Object Lock
bucket), which ``shipbot audit verify --against-checkpoints`` reads back; a chain that
does not verify is not anchored, so a checkpoint never vouches for a tampered head.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import func, select
from sqlmodel import Session, col

from workflows import audit
from workflows.audit.anchors import Anchor, AnchorError, AnchorStore
from workflows.reports.models import ReportRun
from workflows.store.models import AuditEntry, AuditHead


class AuditCheckpoint(TypedDict):
    as_of: str
    head_seq: int
    head_hash: str
    entries: int
    previous_seq: int | None
    previous_hash: str | None
    verified: bool
    problem: str | None
    anchored_to: list[str]
    anchor_errors: list[str]


def current_anchor(*, session: Session) -> dict[str, Any]:
    """The head as it is now (for a dry run, which claims nothing)."""
    head = session.execute(
        select(col(AuditHead.seq), col(AuditHead.hash)).where(col(AuditHead.id) == 1)
    ).first()
    if head is None:
        return {"anchor_seq": 0, "anchor_hash": audit.GENESIS_HASH}
    return {"anchor_seq": int(head.seq), "anchor_hash": str(head.hash)}


def _previous_anchor(
    session: Session, report_name: str, before: datetime
) -> tuple[int, str] | None:
    query = (
        select(ReportRun)
        .where(
            col(ReportRun.report_name) == report_name,
            col(ReportRun.fire_time) < before,
            col(ReportRun.kind) == "audit_checkpoint",
        )
        .order_by(col(ReportRun.fire_time).desc())
        .limit(1)
    )
    previous = session.execute(query).scalars().first()
    if previous is None or "anchor_seq" not in previous.params:
        return None
    return int(previous.params["anchor_seq"]), str(previous.params["anchor_hash"])


def compute(
    *, session: Session, report_name: str, as_of: datetime, params: dict[str, Any]
) -> AuditCheckpoint:
    """The checkpoint of the anchor in ``params`` (``anchor_seq``/``anchor_hash``)."""
    anchor_seq, anchor_hash = int(params["anchor_seq"]), str(params["anchor_hash"])
    entries = session.execute(
        select(func.count()).select_from(AuditEntry).where(col(AuditEntry.seq) <= anchor_seq)
    ).scalar_one()
    previous = _previous_anchor(session, report_name, as_of)
    report = audit.verify(session=session, expected_head=previous)
    return AuditCheckpoint(
        as_of=as_of.isoformat(),
        head_seq=anchor_seq,
        head_hash=anchor_hash,
        entries=int(entries),
        previous_seq=previous[0] if previous else None,
        previous_hash=previous[1] if previous else None,
        verified=report.ok,
        problem=report.problem,
        anchored_to=[],
        anchor_errors=[],
    )


def write_anchors(
    *, figures: dict[str, Any], stores: Sequence[AnchorStore], report_name: str
) -> dict[str, Any]:
    """``figures`` with the head appended to every store (when the chain verified):
    ``anchored_to`` names where it went, ``anchor_errors`` what failed, for the message."""
    if not stores or not figures.get("verified"):
        return figures
    anchor = Anchor(
        seq=int(figures["head_seq"]),
        hash=str(figures["head_hash"]),
        taken_at=str(figures["as_of"]),
        report=report_name,
    )
    written, errors = [], []
    for store in stores:
        try:
            written.append(store.append(anchor))
        except AnchorError as exc:
            errors.append(str(exc))
    return {**figures, "anchored_to": written, "anchor_errors": errors}
