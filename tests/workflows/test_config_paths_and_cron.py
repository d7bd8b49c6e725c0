"""Config that behaves like other tools' config: relative paths are relative to the config
file, wherever `shipbot serve` was started, and cron reads as crontab reads it."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workflows.config import CommandBackend, cron_trigger, load_config
from workflows.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
CONFIG = """
channels: {deploys: C0DEPLOYS}
environments: {staging: {order: 1}}
services:
  web:
    deploy: {backend: command, argv: ["sh", "scripts/deploy.sh"]%s}
"""


def _write(folder: Path, extra: str = "") -> Path:
    (folder / "scripts").mkdir(parents=True, exist_ok=True)
    (folder / "scripts" / "deploy.sh").write_text("echo deployed from $(pwd)\n")
    path = folder / "shipbot.yaml"
    path.write_text(CONFIG % extra)
    return path


def _command(path: Path) -> CommandBackend:
    backend = load_config(path, environ={}).services["web"].deploy
    assert isinstance(backend, CommandBackend)
    return backend


def test_the_command_runs_in_the_config_files_folder_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _write(tmp_path / "etc" / "shipbot")
    monkeypatch.chdir(tmp_path)  # started somewhere else entirely
    backend = _command(config.relative_to(tmp_path))
    assert backend.cwd == str(tmp_path / "etc" / "shipbot")
    ran = subprocess.run(backend.argv, cwd=backend.cwd, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == f"deployed from {tmp_path / 'etc' / 'shipbot'}\n"


def test_a_relative_cwd_is_relative_to_the_config_file(tmp_path: Path) -> None:
    folder = tmp_path / "conf"
    (folder / "deploy" / "scripts").mkdir(parents=True)
    (folder / "deploy" / "scripts" / "deploy.sh").write_text("true\n")
    assert _command(_write(folder, ", cwd: deploy")).cwd == str(folder / "deploy")


def test_an_absolute_cwd_stays_as_written(tmp_path: Path) -> None:
    assert _command(_write(tmp_path, f", cwd: {tmp_path}/x")).cwd == f"{tmp_path}/x"


def test_serve_started_elsewhere_deploys_with_the_example_config(tmp_path: Path) -> None:
    # The example's argv ("sh rollout.sh") names a file beside the config; run from /tmp,
    # as SHIPBOT_CONFIG=/etc/... would, the command still finds it.
    backend = load_config(REPO / "examples" / "shipbot.yaml", environ={}).services["web"].deploy
    assert isinstance(backend, CommandBackend)
    env = {**os.environ, "SHIPBOT_ROLLOUT_SECONDS": "0", "SHIPBOT_VERSION": "1.0.0"}
    ran = subprocess.run(backend.argv, cwd=backend.cwd, env=env, capture_output=True)
    assert ran.returncode == 0, ran.stderr


SUNDAY = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _days(expr: str, count: int = 7) -> list[str]:
    trigger = cron_trigger(expr)
    fired, previous, now = [], None, SUNDAY
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, now)
        fired.append(previous.strftime("%a"))
        now = previous + timedelta(seconds=1)
    return fired


@pytest.mark.parametrize(
    ("expr", "days"),
    [
        ("0 9 * * 1", ["Mon"] * 3),
        ("0 9 * * 0", ["Sun"] * 3),
        ("0 9 * * 7", ["Sun"] * 3),
        ("0 9 * * 1-5", ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]),
        ("0 9 * * 5-7", ["Fri", "Sat", "Sun", "Fri"]),
        ("0 9 * * 0,6", ["Sat", "Sun", "Sat"]),
        ("0 9 * * */2", ["Tue", "Thu", "Sat", "Sun", "Tue"]),
        ("0 9 * * MON-FRI", ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]),
        ("0 9 * * sun", ["Sun"] * 2),
    ],
)
def test_day_of_week_means_what_crontab_means(expr: str, days: list[str]) -> None:
    assert _days(expr, len(days)) == days


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("0 9 * * 8", "'8' is not a day of week"),
        ("0 9 * * 5-2", "'5-2' runs backwards"),
        ("0 9 1 * 1", "day 1 of the month OR on 1; write two entries"),
        ("0 9 * * 1/0", "bad step"),
    ],
)
def test_what_crontab_would_not_accept_or_would_read_differently_is_refused(
    expr: str, problem: str
) -> None:
    with pytest.raises(ValueError, match="invalid cron expression") as refused:
        cron_trigger(expr)
    assert problem in str(refused.value)


def test_a_config_with_a_numeric_weekday_loads(tmp_path: Path) -> None:
    path = tmp_path / "shipbot.yaml"
    path.write_text(
        "channels: {deploys: C0DEPLOYS}\n"
        "reports:\n  - {name: weekly, kind: dora, cron: '0 9 * * 1', channel: deploys}\n"
    )
    (report,) = load_config(path, environ={}).reports
    fire = report.trigger().get_next_fire_time(None, SUNDAY)
    assert fire is not None and fire.strftime("%a %H:%M") == "Mon 09:00"
    path.write_text(path.read_text().replace("'0 9 * * 1'", "'0 9 * * 9'"))
    with pytest.raises(ConfigError, match=r"reports\.0\.cron"):
        load_config(path, environ={})
