#!/usr/bin/python3
"""`make bench`: runs every benchmark and prints its figures.

C benchmarks are build/bench/bench_*; Python-side ones are
tests/bench/bench_*.py. Each prints its own figures and the ratio against the
anchor it measures in the same run (prometheus_client, mostly). Set
FASTPROM_BENCH_ONLY=substring to run a subset.
"""
import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))


def main():
    only = os.environ.get("FASTPROM_BENCH_ONLY", "")
    drivers = sorted(glob.glob(os.path.join(ROOT, "tests", "bench", "bench_*.py")))
    # A C benchmark with a Python twin (bench_core + bench_core.py) is run
    # by the twin, which adds the anchor and the ratios.
    twins = {os.path.basename(p)[:-3] for p in drivers}
    # Only the programs: the build leaves the compiler's .d and .o files beside them.
    benches = [p for p in sorted(glob.glob(os.path.join(BUILD, "bench", "bench_*")))
               if os.path.isfile(p) and os.access(p, os.X_OK) and "." not in os.path.basename(p)
               and os.path.basename(p) not in twins]
    benches += drivers
    failed = []
    for path in benches:
        if only and only not in os.path.basename(path):
            continue
        cmd = [sys.executable, path] if path.endswith(".py") else [path]
        print(f"\n=== {os.path.basename(path)}", flush=True)
        rc = subprocess.run(cmd, cwd=ROOT).returncode
        if rc != 0:
            failed.append(os.path.basename(path))
    if failed:
        print("\nbenchmarks that failed to run: " + " ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
