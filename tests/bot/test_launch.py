"""The `shipbot` command starts through bot.launch: the CLI imported with the collector
paused, the collector on again afterwards, the start-up objects frozen."""

from __future__ import annotations

import gc
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from bot import launch


def test_the_installed_command_is_the_launcher() -> None:
    (script,) = entry_points(group="console_scripts", name="shipbot")
    assert script.value == "bot.launch:main"
    command = Path(sys.executable).with_name("shipbot")
    done = subprocess.run(
        [str(command), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout.split()[0]) == (0, "shipbot")


def test_the_collector_is_on_again_and_what_start_up_built_is_frozen(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["shipbot", "--version"])
    try:
        with pytest.raises(SystemExit) as exited:
            launch.main()
        assert exited.value.code == 0
        assert capsys.readouterr().out.startswith("shipbot ")
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this test process goes on collecting as before
