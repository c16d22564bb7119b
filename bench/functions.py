"""User-function sandbox benchmark: what a trivial run costs, against a bare Python start.

    .venv/bin/python bench/functions.py                 # 200 runs of each kind
    .venv/bin/python bench/functions.py --runs 50

Measured in the same process, interleaved so that machine noise hits all kinds alike:

- baseline: ``python -c pass`` started and waited for (subprocess.run);
- pool, spaced: a trivial function (``def run(ctx): return 1``) through
  ``UserFunction.run_once``, the pool given time to get its children ready between runs,
  as scheduled chronos are;
- pool, back-to-back: the same runs with no pause, so the pool refills while runs go on;
- no pool: FUNCTION_POOL_SIZE=0, a child started for each run (the floor without a pool).

A run's time covers everything the worker spends on it: taking a child, sending the
job, the child compiling and running the code, reading the answer, killing the child and
topping the pool up again. Prints p50/p95 of each, and the overhead of each run kind
against the baseline (difference of the p50s, and of the p95s). Target: pool, spaced p50
of a trivial run at most 30 ms.

Needs no database: the function is never saved, and a trivial run touches no state.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronoflow.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from functions import sandbox  # noqa: E402
from functions.models import UserFunction  # noqa: E402

TRIVIAL = "def run(ctx):\n    return 1\n"
TARGET_P50_MS = 30.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def python_pass() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def trivial_run(function: UserFunction) -> None:
    report = function.run_once()
    if not report.ok or report.value != 1:
        raise SystemExit(f"the trivial run failed: {report.error_text}")


def measure(runs: int) -> dict[str, list[float]]:
    function = UserFunction(name="bench", code=TRIVIAL, timeout_ms=5000, max_memory_mb=256)
    samples: dict[str, list[float]] = {"baseline: python -c pass": [], "pool, spaced": [],
                                       "pool, back-to-back": [], "no pool": []}
    pool_size = settings.FUNCTION_POOL_SIZE or 2
    for _ in range(runs):
        samples["baseline: python -c pass"].append(timed(python_pass))
        settings.FUNCTION_POOL_SIZE = pool_size
        sandbox.warm(wait=True)
        samples["pool, spaced"].append(timed(lambda: trivial_run(function)))
        samples["pool, back-to-back"].append(timed(lambda: trivial_run(function)))
        settings.FUNCTION_POOL_SIZE = 0
        sandbox.POOL.close()
        samples["no pool"].append(timed(lambda: trivial_run(function)))
    settings.FUNCTION_POOL_SIZE = pool_size
    sandbox.POOL.close()
    return samples


def report(samples: dict[str, list[float]]) -> bool:
    base = samples["baseline: python -c pass"]
    base50, base95 = percentile(base, 50), percentile(base, 95)
    print(f"{'kind':28} {'p50 ms':>8} {'p95 ms':>8} {'mean':>8}   overhead vs baseline p50 / p95")
    for kind, values in samples.items():
        p50, p95 = percentile(values, 50), percentile(values, 95)
        overhead = "" if values is base else f"{p50 - base50:+8.1f} / {p95 - base95:+.1f} ms"
        print(f"{kind:28} {p50:8.1f} {p95:8.1f} {statistics.mean(values):8.1f}   {overhead}")
    spaced50 = percentile(samples["pool, spaced"], 50)
    ok = spaced50 <= TARGET_P50_MS
    print(f"\ntarget: a trivial run adds at most {TARGET_P50_MS:g} ms at p50 (pool, spaced): "
          f"{spaced50:.1f} ms -> {'met' if ok else 'NOT met'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="runs of each kind (default 200)")
    args = parser.parse_args()
    print(f"{args.runs} runs of each kind; Python {sys.version.split()[0]}; pool size "
          f"{settings.FUNCTION_POOL_SIZE or 2}; running as uid {os.geteuid()}\n")
    sys.exit(0 if report(measure(args.runs)) else 1)


if __name__ == "__main__":
    main()
