"""Import time and memory of the Kubernetes client libraries shipbot could use.

Each candidate is imported in a fresh interpreter (``--runs`` times; the median is
printed) next to a baseline of ``httpx`` alone, which shipbot imports anyway. Printed:
import milliseconds, peak RSS in MiB, modules loaded, and the ratios to the baseline.
A library that is not installed in this interpreter is reported as such.

    .venv/bin/python bench/kube_clients.py [--runs 5]

To compare all three, install them into a scratch venv and run it with that python
(docs/backends.md has the figures measured this way).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CANDIDATES = {
    "httpx (baseline)": ["httpx"],
    "lightkube": ["lightkube", "lightkube.resources.apps_v1", "lightkube.generic_resource"],
    "kubernetes": ["kubernetes.client", "kubernetes.config"],
    "kr8s": ["kr8s", "kr8s.objects"],
}
PROBE = """
import importlib, json, resource, sys, time
start = time.perf_counter()
for name in sys.argv[1:]:
    importlib.import_module(name)
elapsed = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"ms": elapsed * 1000, "rss": rss, "modules": len(sys.modules)}))
"""


def measure(modules: list[str], runs: int) -> dict[str, float] | None:
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            return None
        samples.append(json.loads(done.stdout))
    return {key: statistics.median(s[key] for s in samples) for key in ("ms", "rss", "modules")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    base = measure(CANDIDATES["httpx (baseline)"], runs)
    assert base is not None, "httpx must be importable"
    print(
        f"{'library':<18}{'import ms':>10}{'RSS MiB':>9}{'modules':>9}{'ms/base':>9}{'RSS/base':>9}"
    )
    for name, modules in CANDIDATES.items():
        figures = base if modules == CANDIDATES["httpx (baseline)"] else measure(modules, runs)
        if figures is None:
            print(f"{name:<18}  not installed in {sys.executable}")
            continue
        print(
            f"{name:<18}{figures['ms']:>10.0f}{figures['rss']:>9.1f}{figures['modules']:>9.0f}"
            f"{figures['ms'] / base['ms']:>9.2f}{figures['rss'] / base['rss']:>9.2f}"
        )


if __name__ == "__main__":
    main()
