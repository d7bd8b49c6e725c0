"""The emulator's ``sandbox`` extra (websockets): the bot runs without it, and
`shipbot dev` without it says how to install it. Each check runs in a fresh interpreter
where ``import websockets`` fails, as it does in a production install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
WITHOUT_WEBSOCKETS = "import sys; sys.modules['websockets'] = None\n"


def _run_without_websockets(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_WEBSOCKETS + code, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_bot_imports_nothing_from_the_extra() -> None:
    modules = [
        "bot.cli",
        "bot.http",
        "bot.runtime",
        "bot.worker",
        "bot.sender",
        "slack_bolt.adapter.socket_mode",  # what `serve --socket-mode` connects with
    ]
    imports = "\n".join(f"import {module}" for module in modules)
    ran = _run_without_websockets(imports + "\nprint('imported')")
    assert (ran.returncode, ran.stdout.strip()) == (0, "imported"), ran.stderr


def test_shipbot_dev_without_the_extra_says_how_to_install_it() -> None:
    ran = _run_without_websockets(
        "from bot.cli import main\nsys.exit(main(sys.argv[1:]))",
        "dev",
        "--port",
        "0",
        "--web-port",
        "0",
    )
    assert ran.returncode == 2, ran.stderr
    assert "pip install 'shipbot[sandbox]'" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert ran.stdout == ""  # nothing started, so no URL was printed
