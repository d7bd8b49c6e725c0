"""The ``shipbot`` command's entry point: the CLI imported with the garbage collector paused.

Importing shipbot builds a few hundred thousand objects that live as long as the process
(SQLAlchemy, pydantic, the table models). Collecting while they were being made took
0.14 s of a 1.0 s import (docs/performance.md, fifth pass); they are frozen afterwards
instead, so later collections skip them.
"""

from __future__ import annotations

import gc


def main() -> int:
    gc.disable()
    try:
        from bot.cli import main as cli_main
    finally:
        gc.freeze()
        gc.enable()
    return cli_main()
