#!/usr/bin/python3
"""The Node package's benchmarks, each against prom-client in the same run:
src/node/bench/micro.js (update costs: cached child inc(), inc({2 labels}),
observe, ...) and src/node/bench/cluster-scrape.js (4 node:cluster workers x
1,000 label sets: rendering the shared segment against prom-client's
AggregatorRegistry.clusterMetrics()). Needs `make` (the addon) and
`make node-deps` (prom-client, pinned by src/node/package-lock.json)."""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
NODE_DIR = os.path.join(ROOT, "src", "node")


def main():
    node = shutil.which("node")
    if not node:
        print("bench_node: no node on PATH (make deps installs it)")
        return 1
    env = dict(os.environ, FASTPROM_NODE_ADDON=os.path.join(BUILD, "node", "fastprom.node"))
    rc = 0
    for script in ("micro.js", "cluster-scrape.js"):
        print(f"--- src/node/bench/{script}", flush=True)
        rc |= subprocess.run([node, os.path.join("bench", script)], cwd=NODE_DIR, env=env, timeout=600).returncode
    return rc


if __name__ == "__main__":
    sys.exit(main())
