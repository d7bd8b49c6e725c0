"""The detached process that runs one ``command`` deploy, so the deploy outlives shipbot.

Internal; started by :mod:`workflows.backends.command` as::

    python -I .../workflows/backends/command_runner.py launch    # spec (JSON) on stdin

It is run by path in isolated mode (``-I``), not with ``-m``: it needs only the standard
library, so it starts in a tenth of the time it would take to import the ``workflows``
package, and ``PYTHONPATH``/``PYTHON*`` variables meant for the command cannot change it.

``launch`` starts ``run`` in a new session (its own process group, no terminal), prints
its pid and exits at once, so the runner is nobody's child in shipbot and is never left a
zombie there. ``run`` starts the command in a process group of its own, with combined
stdout+stderr appended to ``<run_dir>/output.log``, and when it ends writes
``<run_dir>/exit_status`` atomically (JSON, see :func:`write_status`). On SIGTERM (a
cancel) or when ``timeout`` passes it sends SIGTERM to the command's process group, then
SIGKILL after ``kill_grace`` seconds.

The spec travels on stdin rather than argv or a file: the argv and environment (which may
hold credentials) never show in ``ps`` and never touch the disk.

While the runner lives it holds an exclusive ``flock`` on ``<run_dir>/runner.lock``
(inherited from the backend's ``start``, so it is held without a gap). A poller that can
take that lock knows the runner is gone, whatever happened to its pid: the kernel drops
the lock when the process dies, and a reboot drops every lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RUNNER_PATH = os.path.abspath(__file__)
OUTPUT_FILE = "output.log"
STATUS_FILE = "exit_status"
CHILD_PID_FILE = "child.pid"
CANCEL_FILE = "cancel_requested"
LOCK_FILE = "runner.lock"
RUNNER_LOG = "runner.log"

_TICK = 0.1  # how often the runner looks at its child, the clock and the cancel flag


def runner_command(mode: str) -> list[str]:
    """The argv that starts this module in ``mode`` (``launch`` or ``run``)."""
    return [sys.executable, "-I", RUNNER_PATH, mode]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so a reader sees the old file or the whole new one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def write_status(
    run_dir: Path, *, outcome: str, exit_code: int | None, detail: str = "", **extra: Any
) -> None:
    """Record how the run ended: ``outcome`` is ``exited``, ``timed_out``, ``cancelled`` or
    ``error`` (the command could not be started)."""
    payload = {"outcome": outcome, "exit_code": exit_code, "detail": detail, **extra}
    write_atomic(run_dir / STATUS_FILE, json.dumps(payload, sort_keys=True) + "\n")


def kill_group(pgid: int, sig: signal.Signals) -> None:
    """Signal a whole process group; a group that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _launch(spec_bytes: bytes) -> int:
    spec = json.loads(spec_bytes)
    run_dir = Path(spec["run_dir"])
    with open(run_dir / RUNNER_LOG, "ab") as runner_log:
        runner = subprocess.Popen(
            runner_command("run"),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=runner_log,
            start_new_session=True,
            pass_fds=(int(spec["lock_fd"]),),
        )
    assert runner.stdin is not None
    runner.stdin.write(spec_bytes)
    runner.stdin.close()
    print(runner.pid, flush=True)
    return 0


class _Runner:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.run_dir = Path(spec["run_dir"])
        self.argv: list[str] = list(spec["argv"])
        self.env: dict[str, str] = dict(spec["env"])
        self.cwd: str | None = spec.get("cwd")
        self.timeout = float(spec["timeout"])
        self.kill_grace = float(spec["kill_grace"])
        # Keep the inherited lock descriptor open for our whole life (see module doc).
        self.lock_fd = int(spec["lock_fd"])
        self.cancelled = False

    def _on_sigterm(self, signum: int, frame: object) -> None:
        # Only set a flag: the main loop does the killing (no work in a signal handler).
        self.cancelled = True

    def _cancel_requested(self) -> bool:
        return self.cancelled or (self.run_dir / CANCEL_FILE).exists()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_sigterm)
        if self._cancel_requested():
            write_status(self.run_dir, outcome="cancelled", exit_code=None, detail="cancelled")
            return 0
        with open(self.run_dir / OUTPUT_FILE, "ab", buffering=0) as output:
            try:
                child = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    cwd=self.cwd,
                    env=self.env,
                    start_new_session=True,
                )
            except OSError as exc:
                message = f"could not start {self.argv[0]!r}: {exc.strerror or exc}"
                output.write(f"shipbot: {message}\n".encode())
                write_status(self.run_dir, outcome="error", exit_code=None, detail=message)
                return 0
            write_atomic(self.run_dir / CHILD_PID_FILE, f"{child.pid}\n")
            code, reason = self._supervise(child)
            if reason:
                # Stragglers that ignored SIGTERM (a backgrounded step) go too.
                kill_group(child.pid, signal.SIGKILL)
        if reason == "timed_out":
            write_status(
                self.run_dir,
                outcome="timed_out",
                exit_code=code,
                detail="timed out",
                timeout_seconds=self.timeout,
            )
        elif reason == "cancelled" and code != 0:
            write_status(self.run_dir, outcome="cancelled", exit_code=code, detail="cancelled")
        else:
            write_status(self.run_dir, outcome="exited", exit_code=code)
        return 0

    def _supervise(self, child: subprocess.Popen[bytes]) -> tuple[int, str]:
        """Wait for the child; stop its group on timeout or cancel. -> (code, reason)."""
        deadline = time.monotonic() + self.timeout
        reason = ""
        kill_at: float | None = None
        while True:
            try:
                code = child.wait(timeout=_TICK)
            except subprocess.TimeoutExpired:
                pass
            else:
                # A cancel may have killed the child before this loop saw the request.
                if not reason and self._cancel_requested():
                    reason = "cancelled"
                return code, reason
            now = time.monotonic()
            if not reason and self._cancel_requested():
                reason = "cancelled"
            elif not reason and now >= deadline:
                reason = "timed_out"
            if reason and kill_at is None:
                kill_group(child.pid, signal.SIGTERM)
                kill_at = now + self.kill_grace
            elif kill_at is not None and now >= kill_at:
                kill_group(child.pid, signal.SIGKILL)


def main(args: list[str]) -> int:
    if args == ["launch"]:
        return _launch(sys.stdin.buffer.read())
    if args == ["run"]:
        return _Runner(json.loads(sys.stdin.buffer.read())).run()
    print(f"usage: python -I {RUNNER_PATH} launch|run  (spec on stdin)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
