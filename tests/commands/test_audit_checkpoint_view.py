"""The audit checkpoint message says where the head was anchored, or why it was not."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import Block

from commands.reports.views import render_run

FIGURES = {
    "as_of": "2026-01-06T00:30:00+00:00",
    "head_seq": 6,
    "head_hash": "a" * 64,
    "entries": 6,
    "previous_seq": None,
    "previous_hash": None,
    "verified": True,
    "problem": None,
}
META = {
    "name": "audit-checkpoint",
    "kind": "audit_checkpoint",
    "trigger": "scheduled",
    "requested_by": "scheduler",
    "fire_time": "2026-01-06T00:30:00+00:00",
    "timezone": "UTC",
}


def rendered(figures: dict[str, object]) -> str:
    _, blocks = render_run(META, figures)
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
    return json.dumps(blocks)


def test_the_message_names_the_anchors_and_the_failures() -> None:
    text = rendered(
        {
            **FIGURES,
            "anchored_to": ["s3://audit-anchors/shipbot/00000000000000000006-aaaa.json"],
            "anchor_errors": ["cannot append to /x <!channel>: Permission denied"],
        }
    )
    assert "Anchored to `s3://audit-anchors/shipbot/00000000000000000006-aaaa.json`" in text
    assert ":warning: Not anchored: cannot append to /x &lt;!channel&gt;" in text
    assert "<!channel>" not in text


def test_checkpoints_stored_before_anchors_existed_still_render() -> None:
    text = rendered(FIGURES)
    assert "anchored" not in text.lower()
    assert "--expect-head 6:" + "a" * 64 in text
