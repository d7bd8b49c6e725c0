"""The ``command`` backend: run a local program (an argv, never a shell string).

``start`` launches a detached runner (:mod:`workflows.backends.command_runner`) in a run
directory ``<state_dir>/<deploy_id>/`` and returns; the runner outlives shipbot, so a
restart, or a poll from another worker on the same host, finds the run again from the
stored state. Everything about the run is in files of that directory:

``output.log``   combined stdout+stderr of the command
``exit_status``  JSON ``{"outcome", "exit_code", "detail"}``, written atomically at the end
``runner.lock``  held (``flock``) while the runner lives
``child.pid``    the command's pid, which is also its process group id
``cancel_requested``  present once a cancel was asked for

The run directory is created with ``mkdir`` (atomic), so the same deploy id can never be
started twice, even by two replicas racing on a shared ``state_dir``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from workflows.backends import command_runner as runner
from workflows.backends.base import (
    BackendError,
    BackendPorts,
    DeployTarget,
    Progress,
    Started,
    Status,
)
from workflows.backends.settings import CommandBackend
from workflows.config.types import format_duration
from workflows.redact import redact_text

TAIL_LINES = 40
TAIL_CHARS = 3000
_TAIL_WINDOW = 16 * 1024  # bytes read from the end of the log (redacted before cutting)
_DETAIL_CHARS = 160
# shipbot's own credentials are no business of a deploy script; config ``env`` may still
# pass something explicitly.
NOT_INHERITED = frozenset(
    {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SHIPBOT_DATABASE_URL"}
)


class CommandDeployBackend:
    """Runs ``config.argv`` with ``SHIPBOT_*`` variables set; see the module docstring."""

    name = "command"

    def __init__(
        self, config: CommandBackend, *, ports: BackendPorts, kill_grace: float = 5.0
    ) -> None:
        self.config = config
        self.ports = ports
        self.kill_grace = kill_grace

    # -- start ----------------------------------------------------------------------

    def environment(self, target: DeployTarget) -> dict[str, str]:
        """The command's environment: inherited, then ``extra_env``, config ``env``, and
        the ``SHIPBOT_*`` values last (a config cannot fake the version)."""
        env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
        env.update(self.ports.extra_env)
        env.update(self.config.env)
        env.update(
            {
                "SHIPBOT_SERVICE": target.service,
                "SHIPBOT_VERSION": target.version,
                "SHIPBOT_ENV": target.environment,
                "SHIPBOT_DEPLOY_ID": str(target.deploy_id),
                "SHIPBOT_REQUESTED_BY": target.requested_by,
                "SHIPBOT_REASON": target.reason,
            }
        )
        # A NUL cannot travel in an environment variable; drop it rather than fail.
        return {key: value.replace("\0", "") for key, value in env.items()}

    def _cwd(self) -> Path | None:
        if self.config.cwd is None:
            return None
        cwd = Path(self.config.cwd).expanduser().resolve()
        if not cwd.is_dir():
            raise BackendError(f"command backend: cwd {self.config.cwd!r} is not a directory")
        return cwd

    def _check_program(self, env: Mapping[str, str], cwd: Path | None) -> None:
        program = self.config.argv[0]
        if "/" in program:
            path = (cwd or Path.cwd()) / program
            found = path.is_file() and os.access(path, os.X_OK)
        else:
            found = shutil.which(program, path=env.get("PATH")) is not None
        if not found:
            raise BackendError(f"command backend: program not found or not executable: {program}")

    def start(self, target: DeployTarget) -> Started:
        cwd = self._cwd()
        env = self.environment(target)
        self._check_program(env, cwd)
        state_dir = self.ports.state_dir.expanduser().resolve()
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        run_dir = state_dir / str(target.deploy_id)
        try:
            run_dir.mkdir(mode=0o700)
        except FileExistsError:
            raise BackendError(
                f"deploy {target.deploy_id} already has a run in {run_dir}; "
                "a deploy is never started twice"
            ) from None
        spec = {
            "argv": list(self.config.argv),
            "env": env,
            "cwd": str(cwd) if cwd else None,
            "run_dir": str(run_dir),
            "timeout": self.config.timeout.total_seconds(),
            "kill_grace": self.kill_grace,
        }
        lock_fd = os.open(run_dir / runner.LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # Taken here and inherited by the runner: "runner alive" has no gap at start.
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            spec["lock_fd"] = lock_fd
            launched = subprocess.run(
                runner.runner_command("launch"),
                input=json.dumps(spec).encode(),
                capture_output=True,
                pass_fds=(lock_fd,),
                timeout=60,
                check=False,
            )
        finally:
            os.close(lock_fd)
        if launched.returncode != 0 or not launched.stdout.strip().isdigit():
            error = redact_text(launched.stderr.decode(errors="replace").strip()[-500:])
            raise BackendError(f"command backend: could not launch the runner: {error}")
        state = {"run_dir": str(run_dir), "runner_pid": int(launched.stdout)}
        return Started(state=state)

    # -- find a run after a crash ----------------------------------------------------

    def find_run(self, target: DeployTarget) -> Started | None:
        """The run directory is named by the deploy id and made before the runner is
        launched: if it exists, this deploy's run is there (``poll`` reads its outcome,
        finished or not); if not, ``start`` never got as far as launching anything."""
        run_dir = self.ports.state_dir.expanduser().resolve() / str(target.deploy_id)
        if not run_dir.is_dir():
            return None
        return Started(state={"run_dir": str(run_dir)})

    # -- poll -----------------------------------------------------------------------

    def _run_dir(self, target: DeployTarget, state: Mapping[str, Any]) -> Path:
        stored = state.get("run_dir")
        if stored:
            return Path(stored)
        return self.ports.state_dir.expanduser().resolve() / str(target.deploy_id)

    def poll(self, target: DeployTarget, state: Mapping[str, Any]) -> Progress:
        run_dir = self._run_dir(target, state)
        if not run_dir.is_dir():
            return Progress(
                status=Status.failed,
                detail=f"the run directory {run_dir} is gone; the outcome is unknown",
            )
        # Status first: once it is written the output is complete, so a tail read after
        # it is the whole tail (read before it, the last lines could be missing).
        status = read_status(run_dir)
        tail = output_tail(run_dir)
        if status is None and runner_alive(run_dir):
            return Progress(status=Status.running, detail=_last_line(tail), output_tail=tail)
        if status is None:
            # The runner may have written its status between our two looks.
            status = read_status(run_dir)
            tail = output_tail(run_dir)
        if status is None:
            return Progress(
                status=Status.failed,
                detail="the command runner stopped without recording an exit status "
                "(was the host restarted?); the command's outcome is unknown",
                output_tail=tail,
            )
        return _progress(status, tail)

    # -- cancel ---------------------------------------------------------------------

    def cancel(self, target: DeployTarget, state: Mapping[str, Any]) -> bool:
        """SIGTERM the command's process group (through the runner), SIGKILL after
        ``kill_grace`` seconds. False when the run already ended or its runner is gone."""
        run_dir = self._run_dir(target, state)
        if not run_dir.is_dir() or read_status(run_dir) is not None:
            return False
        if not runner_alive(run_dir):
            return False  # nothing left to stop; poll reports the lost runner
        (run_dir / runner.CANCEL_FILE).touch()
        runner_pid = int(state.get("runner_pid") or 0)
        child_pid = _read_pid(run_dir / runner.CHILD_PID_FILE)
        # The runner is alive, so its pid and the child's group are still the real ones.
        if child_pid:
            runner.kill_group(child_pid, signal.SIGTERM)
        if runner_pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(runner_pid, signal.SIGTERM)
        if _wait_for_status(run_dir, self.kill_grace + 2.0):
            return True
        child_pid = child_pid or _read_pid(run_dir / runner.CHILD_PID_FILE)
        if child_pid:
            runner.kill_group(child_pid, signal.SIGKILL)
        if runner_pid and runner_alive(run_dir):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(runner_pid, signal.SIGKILL)
        if read_status(run_dir) is None:
            runner.write_status(run_dir, outcome="cancelled", exit_code=None, detail="killed")
        return True


def read_status(run_dir: Path) -> dict[str, Any] | None:
    """The run's recorded end, or None while it has none."""
    try:
        value = json.loads((run_dir / runner.STATUS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # written atomically, so this is real damage
        return {"outcome": "error", "exit_code": None, "detail": f"unreadable exit status: {exc}"}
    return value if isinstance(value, dict) else None


def runner_alive(run_dir: Path) -> bool:
    """Whether the runner still holds its lock (see command_runner's module doc)."""
    try:
        fd = os.open(run_dir / runner.LOCK_FILE, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def output_tail(run_dir: Path) -> str:
    """The last ~40 lines / 3000 characters of the output, redacted."""
    path = run_dir / runner.OUTPUT_FILE
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            start = max(0, size - _TAIL_WINDOW)
            handle.seek(start)
            data = handle.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    if start > 0:
        text = text.partition("\n")[2]  # the first line was cut in the middle
    # Redact the whole window before cutting it down, so no secret is split by the cut.
    lines = redact_text(text).splitlines()[-TAIL_LINES:]
    return "\n".join(lines)[-TAIL_CHARS:]


def _last_line(tail: str) -> str:
    for line in reversed(tail.splitlines()):
        if line.strip():
            line = line.strip()
            return line if len(line) <= _DETAIL_CHARS else line[: _DETAIL_CHARS - 1] + "…"
    return "running"


def _progress(status: Mapping[str, Any], tail: str) -> Progress:
    outcome = status.get("outcome")
    code = status.get("exit_code")
    if outcome == "exited" and code == 0:
        return Progress(status=Status.succeeded, detail="exited with code 0", output_tail=tail)
    if outcome == "exited" and isinstance(code, int) and code < 0:
        detail = f"killed by signal {-code}"
    elif outcome == "exited":
        detail = f"exited with code {code}"
    elif outcome == "timed_out":
        seconds = float(status.get("timeout_seconds") or 0)
        detail = f"timed out after {format_duration(timedelta(seconds=seconds))} and was killed"
    elif outcome == "cancelled":
        return Progress(status=Status.cancelled, detail="cancelled", output_tail=tail)
    else:
        detail = redact_text(str(status.get("detail") or "the command failed"))
    return Progress(status=Status.failed, detail=detail, output_tail=tail)


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def _wait_for_status(run_dir: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if read_status(run_dir) is not None:
            return True
        time.sleep(0.05)
    return read_status(run_dir) is not None
