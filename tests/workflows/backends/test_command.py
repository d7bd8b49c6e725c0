"""The command backend, through real detached runner processes and examples/rollout.sh."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.backends.helpers import make_target, poll_until_done, stored
from workflows.backends import BackendError, BackendPorts, Status, build_backend
from workflows.backends.command import CommandDeployBackend, runner_alive
from workflows.backends.settings import CommandBackend
from workflows.redact import register_secret

ROOT = Path(__file__).resolve().parents[3]
ROLLOUT = ["sh", str(ROOT / "examples" / "rollout.sh")]

MakeBackend = Callable[..., CommandDeployBackend]


def _group_gone(pgid: int) -> bool:
    """No live (non-zombie) process left in the group; a killed orphan stays a zombie
    until init reaps it, which is none of the backend's business."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        return False
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return False
    return True


def _wait(condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture
def make_backend(state_dir: Path) -> Iterator[MakeBackend]:
    """Builds command backends on one state dir; kills anything still running at the end."""

    def make(argv: list[str] | None = None, **config: Any) -> CommandDeployBackend:
        model = CommandBackend(backend="command", argv=argv or ROLLOUT, **config)
        ports = BackendPorts(state_dir=state_dir, extra_env={"SHIPBOT_ROLLOUT_SECONDS": "0"})
        backend = build_backend(model, ports=ports)
        assert isinstance(backend, CommandDeployBackend)
        backend.kill_grace = 1.0
        return backend

    yield make
    if state_dir.is_dir():
        for run_dir in state_dir.iterdir():
            child = run_dir / "child.pid"
            if runner_alive(run_dir) and child.exists():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(int(child.read_text()), signal.SIGKILL)


def test_rollout_runs_detached_and_succeeds(make_backend: MakeBackend) -> None:
    backend = make_backend()
    target = make_target(version="1.2.3")

    started = backend.start(target)
    progress = poll_until_done(backend, target, stored(started.state))

    assert progress.status is Status.succeeded
    assert progress.detail == "exited with code 0"
    assert "web 1.2.3 is live in production" in (progress.output_tail or "")
    assert Path(started.state["run_dir"], "exit_status").is_file()


def test_failing_rollout_reports_exit_code_and_output(make_backend: MakeBackend) -> None:
    backend = make_backend()
    target = make_target(version="0.0.0-fail")

    progress = poll_until_done(backend, target, stored(backend.start(target).state))

    assert progress.status is Status.failed
    assert progress.detail == "exited with code 1"
    assert "failed its readiness check in production" in (progress.output_tail or "")


def test_a_new_backend_object_finds_the_run_after_a_restart(
    make_backend: MakeBackend, state_dir: Path
) -> None:
    target = make_target(version="2.0.0")
    state = stored(make_backend().start(target).state)

    # shipbot restarted: a brand-new backend, only the stored state and the state dir.
    after_restart = make_backend()
    progress = poll_until_done(after_restart, target, state)

    assert progress.status is Status.succeeded
    assert "web 2.0.0 is live" in (progress.output_tail or "")
    assert Path(state["run_dir"]).parent == state_dir.resolve()


def test_the_same_deploy_is_never_started_twice(make_backend: MakeBackend) -> None:
    target = make_target(deploy_id=11)
    state = make_backend().start(target).state

    with pytest.raises(BackendError, match="already has a run"):
        make_backend().start(target)
    assert poll_until_done(make_backend(), target, state).status is Status.succeeded


def test_timeout_kills_the_process_group(make_backend: MakeBackend) -> None:
    backend = make_backend(["sh", "-c", "echo started; sleep 30 & wait"], timeout="1s")
    target = make_target()
    state = stored(backend.start(target).state)

    progress = poll_until_done(backend, target, state)

    assert progress.status is Status.failed
    assert progress.detail == "timed out after 1s and was killed"
    assert "started" in (progress.output_tail or "")
    pgid = int(Path(state["run_dir"], "child.pid").read_text())
    _wait(lambda: _group_gone(pgid))  # the backgrounded sleep went with its group


def test_cancel_stops_the_command(make_backend: MakeBackend) -> None:
    backend = make_backend(["sh", "-c", "echo waiting; sleep 30 & wait"])
    target = make_target()
    state = stored(backend.start(target).state)
    _wait(lambda: "waiting" in (backend.poll(target, state).output_tail or ""))

    assert backend.cancel(target, state) is True

    progress = backend.poll(target, state)
    assert progress.status is Status.cancelled
    pgid = int(Path(state["run_dir"], "child.pid").read_text())
    _wait(lambda: _group_gone(pgid))
    # A finished run has nothing left to stop.
    assert backend.cancel(target, state) is False


def test_output_tail_is_redacted(make_backend: MakeBackend) -> None:
    secret = "hunter2-" + "q7v" * 4
    register_secret(secret)
    backend = make_backend(
        ["sh", "-c", 'echo "connecting with $DEPLOY_PASSPHRASE_VALUE"'],
        env={"DEPLOY_PASSPHRASE_VALUE": secret},
    )
    target = make_target()

    progress = poll_until_done(backend, target, backend.start(target).state)

    assert progress.status is Status.succeeded
    assert secret not in (progress.output_tail or "")
    assert "connecting with [redacted]" in (progress.output_tail or "")


def test_output_tail_keeps_only_the_last_lines(make_backend: MakeBackend) -> None:
    backend = make_backend(
        ["sh", "-c", "i=0; while [ $i -lt 500 ]; do echo line$i; i=$((i+1)); done"]
    )
    target = make_target()

    tail = poll_until_done(backend, target, backend.start(target).state).output_tail or ""

    assert tail.splitlines() == [f"line{i}" for i in range(460, 500)]


def test_shell_metacharacters_stay_literal(make_backend: MakeBackend, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = f"1.0; touch {marker}"
    backend = make_backend(["echo", "$(touch", str(marker) + ")", ";", "touch", str(marker)])
    target = make_target(version=evil)
    assert poll_until_done(backend, target, backend.start(target).state).status is Status.succeeded

    rollout = make_backend()
    target = make_target(deploy_id=8, version=evil)
    progress = poll_until_done(rollout, target, rollout.start(target).state)

    assert progress.status is Status.succeeded
    assert f"web {evil} is live" in (progress.output_tail or "")
    assert not marker.exists()


def test_environment_and_cwd(
    make_backend: MakeBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-e2e")
    monkeypatch.setenv("INHERITED_VALUE", "from-parent")
    script = (
        'echo "$SHIPBOT_SERVICE|$SHIPBOT_VERSION|$SHIPBOT_ENV|$SHIPBOT_DEPLOY_ID|'
        '$SHIPBOT_ROLLOUT_SECONDS|$FROM_CONFIG|$INHERITED_VALUE|${SLACK_BOT_TOKEN:-unset}"; pwd'
    )
    backend = make_backend(["sh", "-c", script], env={"FROM_CONFIG": "yes"}, cwd=str(tmp_path))
    target = make_target(deploy_id=42)

    progress = poll_until_done(backend, target, backend.start(target).state)

    lines = (progress.output_tail or "").splitlines()
    assert lines[0] == "web|1.2.3|production|42|0|yes|from-parent|unset"
    assert Path(lines[1]).resolve() == tmp_path.resolve()


def test_a_runner_that_died_without_a_status_fails_clearly(make_backend: MakeBackend) -> None:
    backend = make_backend(["sh", "-c", "echo up; sleep 30 & wait"])
    target = make_target()
    state = stored(backend.start(target).state)
    _wait(lambda: Path(state["run_dir"], "child.pid").exists())
    pgid = int(Path(state["run_dir"], "child.pid").read_text())

    # What a reboot does: runner and command vanish, no exit status is written.
    os.kill(state["runner_pid"], signal.SIGKILL)
    os.killpg(pgid, signal.SIGKILL)
    _wait(lambda: not runner_alive(Path(state["run_dir"])))

    progress = backend.poll(target, state)
    assert progress.status is Status.failed
    assert "without recording an exit status" in progress.detail
    assert backend.cancel(target, state) is False


def test_a_missing_program_is_refused_before_anything_runs(
    make_backend: MakeBackend, state_dir: Path
) -> None:
    backend = make_backend(["no-such-program-shipbot"])

    with pytest.raises(BackendError, match="program not found"):
        backend.start(make_target())
    assert not (state_dir / "7").exists()
