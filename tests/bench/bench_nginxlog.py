#!/usr/bin/python3
"""bench_nginxlog.py - fastprom-nginxlog's figures:

1. build/bench/bench_nginxlog: lines parsed, routed and recorded per second
   on one core (goal: >= 500,000), against moving the same datagrams
   through a unix socket (the kernel's share of each line).
2. nginx under wrk (one nginx worker, a tiny `return 200`, the worst case
   for logging overhead) with the access log off (the anchor), to a file,
   and to fastprom-nginxlog (goal: <= 10% fewer requests/s than off); and
   loss: nginx's own count (stub_status) against the lines the daemon
   recorded, with the socket queue at 512 (systemd's default) and at 10
   (a bare kernel's, this machine's).
Runs alternate between configurations and the median of each is reported:
the machine is shared, so only same-run ratios mean much.
"""
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("FASTPROM_TEST_BUILD", BUILD)

import harness  # noqa: E402
import nginxlog_support as ns  # noqa: E402

SECONDS = int(os.environ.get("NGINXLOG_BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("NGINXLOG_BENCH_ROUNDS", "3"))
CONNECTIONS = 32
GOAL_LINES = 500000
GOAL_SLOWDOWN = 0.10

SITE = """
server {{
    listen 127.0.0.1:{{port}};
    server_name bench.local;
    {access_log}
    location = /nginx_status {{ stub_status; access_log off; }}
    location / {{ set $fastprom_route "/bench/{{id}}"; return 200 "ok\\n"; }}
}}
"""


def c_figures():
    out = subprocess.run([os.path.join(BUILD, "bench", "bench_nginxlog")], capture_output=True, text=True,
                         check=True, timeout=600).stdout
    got = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "FIGURE":
            got[parts[1]] = float(parts[2])
    return got


def wrk(url):
    out = subprocess.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", url], capture_output=True,
                         text=True, timeout=SECONDS + 60).stdout
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise AssertionError(f"no Requests/sec in wrk's output:\n{out}")


def recorded(segment):
    out = subprocess.run([os.path.join(BUILD, "fastprom"), "--path", segment, "dump"], capture_output=True,
                         text=True, timeout=30).stdout
    return sum(float(line.split()[-1]) for line in out.splitlines()
               if line.startswith("nginxlog_lines_recorded_total"))


def stub(nginx):
    return int(harness.http_get(nginx.url("/nginx_status")).body.decode().splitlines()[2].split()[2])


def one_run(mode, qlen=512, config=None):
    """req/s under wrk, and (nginx's count, recorded) for mode 'syslog'."""
    tmp = harness.make_temp_dir()
    procs = []
    try:
        segment = os.path.join(tmp, "segment")
        access = {"off": "access_log off;", "file": f"access_log {tmp}/bench-access.log fastprom;"}.get(mode)
        daemon_socket = os.path.join(tmp, "nginxlog.sock")
        if mode == "syslog":
            daemon = ns.start_nginxlog(tmp, segment, socket_path=daemon_socket, qlen=qlen, config=config)
            procs.append(daemon)
            access = f"access_log syslog:server=unix:{daemon_socket},nohostname,tag=fastprom fastprom;"
        nginx = harness.start_nginx(tmp, os.path.join(tmp, "unused.sock"), site=SITE.format(access_log=access),
                                    http_extra=ns.nginxlog_http_extra(daemon_socket))
        procs.append(nginx)
        before = stub(nginx)
        rps = wrk(nginx.url("/item/1"))
        served = stub(nginx) - before - 1
        if mode != "syslog":
            return rps, None
        deadline = time.monotonic() + 10
        while recorded(segment) < served and time.monotonic() < deadline:
            time.sleep(0.2)  # the daemon finishing what is queued
        return rps, (served, recorded(segment))
    finally:
        for p in reversed(procs):
            p.stop()
        harness.shutil.rmtree(tmp, ignore_errors=True)


def main():
    f = c_figures()
    v = f["ingest_route_variable_lines_per_s"]
    print(f"lines parsed+routed+recorded per second, one core (goal >= {GOAL_LINES:,}):")
    for key, label in (("ingest_route_variable_lines_per_s", "route from $fastprom_route"),
                       ("ingest_route_rules_repeating_paths_lines_per_s", "route from 6 rules, 2,000 paths"),
                       ("ingest_route_rules_unique_paths_lines_per_s", "route from 6 rules, every path new"),
                       ("ingest_malformed_lines_per_s", "malformed (foreign format)")):
        print(f"  {label:38s} {f[key]:>12,.0f} lines/s  {1e9 / f[key]:7.0f} ns/line")
    s = f["socket_send_recv_lines_per_s"]
    print(f"  anchor: the same datagrams send+recv  {s:>12,.0f} lines/s  {1e9 / s:7.0f} ns/line "
          f"(parse+record costs {s / v:.2f}x the socket's share)")
    print(f"  goal {'met' if v >= GOAL_LINES else 'NOT met'}: {v / GOAL_LINES:.2f}x the goal")

    print(f"\nnginx under wrk (1 worker, -t1 -c{CONNECTIONS}, {SECONDS}s, {ROUNDS} rounds, median):")
    results = {"off": [], "file": [], "syslog": [], "syslog-coalesce": [], "syslog-q10": []}
    loss = {"syslog": [], "syslog-coalesce": [], "syslog-q10": []}
    for _ in range(ROUNDS):
        for mode in results:
            rps, counts = one_run("syslog" if mode.startswith("syslog") else mode,
                                  qlen=10 if mode == "syslog-q10" else 512,
                                  config={"receive_coalesce_ms": 1} if mode == "syslog-coalesce" else None)
            results[mode].append(rps)
            if counts:
                loss[mode].append(counts)
    med = {m: statistics.median(r) for m, r in results.items()}
    off = med["off"]
    for mode, label in (("off", "access_log off (anchor)"), ("file", "access_log to a file"),
                        ("syslog", "access_log to fastprom-nginxlog, queue 512"),
                        ("syslog-coalesce", "the same, receive_coalesce_ms 1"),
                        ("syslog-q10", "access_log to fastprom-nginxlog, queue 10")):
        print(f"  {label:44s} {med[mode]:>10,.0f} req/s  {med[mode] / off:6.1%} of off")
    slowdown = 1 - med["syslog"] / off
    print(f"  goal (<= {GOAL_SLOWDOWN:.0%} fewer with the syslog log): {slowdown:.1%} fewer, "
          f"{'met' if slowdown <= GOAL_SLOWDOWN else 'NOT met'}")
    for mode in loss:
        served = sum(a for a, _ in loss[mode])
        got = sum(b for _, b in loss[mode])
        print(f"  loss, {mode}: nginx served {served:,}, recorded {got:,.0f}, lost {served - got:,.0f} "
              f"({(served - got) / max(served, 1):.3%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
