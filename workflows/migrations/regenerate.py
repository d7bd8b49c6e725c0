"""Regenerate the newest, not yet released migration from the models (a development tool).

    python -m workflows.migrations.regenerate

Upgrades a scratch SQLite database to the revision before ``NEWEST``, deletes the
``NEWEST`` script and autogenerates it again from every model. Run it after changing a
table that only ``NEWEST`` creates; once a release ships ``NEWEST``, add a new revision
instead and move ``NEWEST`` on.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from workflows.store.db import MIGRATIONS_DIR, Database

NEWEST = "0003"
PREVIOUS = "0002"
MESSAGE = "v0.3 schema"


def main() -> int:
    for old in (MIGRATIONS_DIR / "versions").glob(f"{NEWEST}_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as scratch:
        database = Database(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        database.upgrade(PREVIOUS)
        config = database._alembic_config()
        command.revision(config, message=MESSAGE, autogenerate=True, rev_id=NEWEST)
        database.dispose()
    for new in (MIGRATIONS_DIR / "versions").glob(f"{NEWEST}_*.py"):
        # The repository's lint rules hold for generated code too.
        for ruff in (["format"], ["check", "--fix"], ["format"]):
            subprocess.run([sys.executable, "-m", "ruff", *ruff, "-q", str(new)], check=False)
    print(f"regenerated migration {NEWEST}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
