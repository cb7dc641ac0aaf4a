#!/usr/bin/python3
"""Runs the integration tests of one group: tests/integration/test_<group>_*.py.

Each file is a standalone unittest script that starts the real servers it
needs (nginx, Prometheus, gunicorn, uvicorn, the worker) on free loopback
ports in a temp dir and stops them by PID. Files run one at a time, each
under a time limit, so one hung server cannot stall `make check`.
"""
import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIMIT_SECONDS = int(os.environ.get("FASTPROM_TEST_TIMEOUT", "300"))


def main(argv):
    if len(argv) != 2:
        print("usage: run.py GROUP   (runs tests/integration/test_GROUP_*.py)", file=sys.stderr)
        return 2
    group = argv[1]
    files = sorted(glob.glob(os.path.join(HERE, f"test_{group}_*.py")))
    if not files:
        print(f"run.py: no tests match tests/integration/test_{group}_*.py", file=sys.stderr)
        return 1
    failed = []
    for path in files:
        name = os.path.basename(path)
        print(f"== {name}", flush=True)
        start = time.monotonic()
        try:
            rc = subprocess.run([sys.executable, path], timeout=LIMIT_SECONDS).returncode
        except subprocess.TimeoutExpired:
            print(f"!! {name}: killed after {LIMIT_SECONDS}s", flush=True)
            rc = -1
        print(f"-- {name}: {'ok' if rc == 0 else 'FAILED'} in {time.monotonic() - start:.1f}s", flush=True)
        if rc != 0:
            failed.append(name)
    if failed:
        print(f"run.py {group}: {len(failed)} failed: {' '.join(failed)}", flush=True)
        return 1
    print(f"run.py {group}: {len(files)} passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
