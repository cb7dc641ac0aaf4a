#!/usr/bin/python3
"""bench_core.py - the segment's figures (build/bench/bench_core) beside
prometheus_client's multiprocess mode measured in the same run, with ratios
and the issue's targets.

Anchors, measured here and now:
  * scrape of 16 processes x 1,000 label sets x (counter + histogram):
    MultiProcessCollector + generate_latest over the processes' files;
  * one inc() and one observe() in multiprocess mode (PROMETHEUS_MULTIPROC_DIR);
  * for the JSON view: the text renderer over the same series.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, HERE)

import bench_python  # noqa: E402  (its anchor helpers)

TARGETS = {  # figure: (target, unit), issue 2
    "counter_inc": (3, "ns/op"),
    "histogram_observe_10_buckets": (15, "ns/op"),
    "render_text_per_sample": (60, "ns/sample"),
    "scrape_16x1000_best": (5, "ms"),
}


def figures():
    out = subprocess.run([os.path.join(BUILD, "bench", "bench_core")], capture_output=True, text=True, check=True,
                         timeout=900).stdout
    got = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "FIGURE":
            got[parts[1]] = (float(parts[2]), parts[3])
    return got


def anchors():
    tmp = tempfile.mkdtemp(prefix="fastprom-bench-core-")
    try:
        directory = os.path.join(tmp, "multiproc")
        os.mkdir(directory)
        bench_python.fill_multiproc(directory)
        scrape_ms, _ = bench_python.multiproc_scrape_ms(directory)
        hot_dir = os.path.join(tmp, "hot")
        os.mkdir(hot_dir)
        _, hot, _ = bench_python.hot_paths(hot_dir)  # prometheus_client multiprocess
        return scrape_ms, hot
    finally:
        shutil.rmtree(tmp, True)


def main():
    got = figures()
    for name, (value, unit) in got.items():
        target = TARGETS.get(name)
        verdict = ""
        if target:
            verdict = f"  (target <= {target[0]} {target[1]}: {'ok' if value <= target[0] else 'MISSED'})"
        print(f"{name:40} {value:12.3f} {unit}{verdict}")

    # Issue 13: the JSON view at the speed of text, anchored on the text
    # renderer measured in the same run over the same 103k series.
    text, json_ = got["render_text_per_sample"][0], got["render_json_per_sample"][0]
    series = [name.split("_")[2] for name in got if name.startswith("render_json_") and name.endswith("_series")]
    print(f"\nrender at {series[0]} series, JSON / text: {json_:.1f} / {text:.1f} ns/sample = {json_ / text:.2f}x "
          f"(target <= 2x: {'ok' if json_ <= 2 * text else 'MISSED'})")

    # Issue 12: a full segment counts through shared cells; anchored on the
    # same update through own cells in the same run.
    own, shared = got["full_counter_inc_own_cells"][0], got["full_counter_inc_shared_cells"][0]
    print(f"full segment, counter inc through shared fallback cells / own cells: {shared:.1f} / {own:.1f} ns "
          f"= {shared / own:.1f}x (2 threads on one shared cell: "
          f"{got['full_counter_inc_shared_cells_2_threads'][0]:.1f} ns/op)")

    # Processes in a full segment, each counting its own series: they share
    # no cache line, so two cost what one does; two on one series (which do
    # share its line) are the anchor that shows what sharing costs here.
    one = got["full_counter_inc_shared_cells_1_process"][0]
    two = got["full_counter_inc_shared_cells_2_processes"][0]
    same = got["full_counter_inc_shared_cells_2_processes_one_series"][0]
    print(f"full segment, processes through shared cells, ns/op: 1 alone {one:.1f}, 2 on their own series "
          f"{two:.1f} ({two / one:.2f}x), 2 on one series {same:.1f} ({same / one:.2f}x)")

    scrape_ms, hot = anchors()
    ours = got["scrape_16x1000_best"][0]
    print()
    print(f"prometheus_client multiprocess, 16 x 1,000 x (counter + histogram) scrape: {scrape_ms:.1f} ms")
    print(f"fastprom, same shape, 16 live writers:                                  {ours:.2f} ms "
          f"-> {scrape_ms / ours:.0f}x faster (target >= 200x)")
    # The Python-level figures include the interpreter's call overhead; the
    # ratio that matters for C writers is per update.
    print(f"prometheus_client multiprocess inc():     {hot['inc']:.0f} ns; fastprom C inc: "
          f"{got['counter_inc'][0]:.2f} ns -> {hot['inc'] / got['counter_inc'][0]:.0f}x")
    print(f"prometheus_client multiprocess observe(): {hot['observe']:.0f} ns; fastprom C observe: "
          f"{got['histogram_observe_10_buckets'][0]:.2f} ns -> "
          f"{hot['observe'] / got['histogram_observe_10_buckets'][0]:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
