"""Ranges checked in worker processes that import only what hashing needs.

``verify`` starts ``python -m workflows.audit.workers`` per worker, the job (the
database's ``(dialect, dsn)`` and that worker's ranges) in an environment variable (not
the command line, where ``ps`` would show a password), and reads the results as JSON from
its stdout. Not ``multiprocessing``: its spawned children re-run the parent's main module
(``shipbot``'s CLI, the whole bot) before they start, which cost more CPU than checking a
hundred thousand entries; these children import ``ranges``, ``canon`` and the driver.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workflows.audit.ranges import Problem, RangeResult, check_range_at

JOB_VARIABLE = "SHIPBOT_AUDIT_RANGES"
_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding ``workflows``


def _decoded(raw: dict[str, Any]) -> RangeResult:
    problem = raw.pop("problem")
    return RangeResult(**raw, problem=None if problem is None else Problem(**problem))


def run(target: tuple[str, str], ranges: list[tuple[int, int]], workers: int) -> list[RangeResult]:
    """``check_range_at`` of every range, ``workers`` processes at once, in range order."""
    shares = [ranges[index::workers] for index in range(workers)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_ROOT, env.get("PYTHONPATH")]))
    started = []
    for share in shares:
        if share:
            env[JOB_VARIABLE] = json.dumps({"target": target, "ranges": share})
            process = subprocess.Popen(
                [sys.executable, "-m", __name__],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            started.append((share, process))
    found: dict[tuple[int, int], RangeResult] = {}
    for share, process in started:
        out, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(
                f"an audit verify worker failed ({process.returncode}): "
                f"{err.decode(errors='replace').strip()[-2000:]}"
            )
        for span, raw in zip(share, json.loads(out), strict=True):
            found[span] = _decoded(raw)
    return [found[span] for span in ranges]


def main() -> None:
    job = json.loads(os.environ[JOB_VARIABLE])
    dialect, dsn = job["target"]
    results = [asdict(check_range_at((dialect, dsn), lo, hi)) for lo, hi in job["ranges"]]
    sys.stdout.write(json.dumps(results))


if __name__ == "__main__":
    main()
