"""Write ``v0_2_chain.jsonl``: an audit chain as shipbot 0.2 (commit f5e6ad7) stored it.

Run it against that commit's code, not this tree's, so the rows are what 0.2 wrote:

    git worktree add --detach /tmp/shipbot-0.2 f5e6ad7
    PYTHONPATH=/tmp/shipbot-0.2 .venv/bin/python \\
        tests/workflows/audit_data/make_v0_2_chain.py tests/workflows/audit_data/v0_2_chain.jsonl

It records entries through 0.2's own ``audit.record`` into a fresh SQLite database, then
dumps every stored column as the database holds it (params as the text 0.2's ORM wrote),
plus the head row last. ``test_audit_compat.py`` loads the file into both databases.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from workflows import audit
from workflows.clock import FakeClock
from workflows.store.db import Database

assert Path(audit.__file__).name == "audit.py", "run this against 0.2's workflows/audit.py"

FAKE_TOKEN = "xox" + "b-1234567890-0987654321-AbCdEfGhIjKl"  # split: not a real token
ENTRIES = [
    {
        "actor": "U0BOB",
        "action": "deploy.request",
        "target": "api/production",
        "params": {"service": "api", "version": "1.2.3", "reason": "fix: ünïcode ✓ 😀"},
    },
    {
        "actor": "U0CAROL",
        "action": "deploy.approve",
        "target": "api/production",
        "params": {"ratio": 0.1, "big": 10**18, "tags": ("a", "b"), "none": None, "yes": True},
        "channel": "C0DEPLOY",
        "message_ts": "1700000000.000100",
    },
    {
        "actor": 'Zoë, "the" approver',
        "action": "incident.note",
        "target": "incident:7",
        "params": {
            "text": 'line1\nline2\ttab \\ back "quote" \x01 \u2028',
            "nested": {"z": [1, {"y": 2}], "a": []},
        },
    },
    {
        "actor": "scheduler",
        "action": "report.run",
        "target": "report:weekly",
        "params": {
            "fire_time": datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
            7: "int key",
            "d": Decimal("1.50"),
        },
    },
    {
        "actor": "U0BOB",
        "action": "deploy.request",
        "target": f"api?token={FAKE_TOKEN}",
        "params": {"bot_token": "hidden", "float": 1e-07, "neg": -0.0},
        "outcome": "error: boom",
    },
]


def main(out: Path) -> None:
    clock = FakeClock(datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC))
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "v02.db"
        database = Database(f"sqlite:///{path}")
        database.upgrade()
        for round_ in range(4):  # 20 entries over several transactions
            with database.transaction() as session:
                for entry in ENTRIES:
                    clock.advance(seconds=1 + round_ / 1_000_000)
                    audit.record(session=session, clock=clock, **entry)
        database.dispose()
        connection = sqlite3.connect(path)
        connection.row_factory = sqlite3.Row
        rows = [dict(r) for r in connection.execute("SELECT * FROM audit_entries ORDER BY seq")]
        head = dict(connection.execute("SELECT * FROM audit_head").fetchone())
        connection.close()
    with out.open("w") as file:
        for row in rows:
            file.write(
                json.dumps({"table": "audit_entries", "row": row}, ensure_ascii=False) + "\n"
            )
        file.write(json.dumps({"table": "audit_head", "row": head}) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
