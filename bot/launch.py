"""The ``shipbot`` command's entry point: the CLI imported with the garbage collector paused.

Importing shipbot builds a few hundred thousand objects that live as long as the process
(SQLAlchemy, pydantic, the table models, the config). The collector scanned them some two
dozen times while they were being made, a seventh of the import's time; they are frozen
afterwards instead, so collections while serving requests skip them too.
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
