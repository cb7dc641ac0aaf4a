#!/usr/bin/python3
"""bench_nginxlog.py - fastprom-nginxlog's figures:

1. build/bench/bench_nginxlog: lines parsed, routed and recorded per second
   on one core (goal: >= 500,000), against moving the same datagrams
   through a unix socket (the kernel's share of each line).
2. nginx (one worker) under wrk, for two locations: `return 200` (nothing
   else to do per request: the worst case for any log) and a proxy_pass to
   a small upstream (a second nginx answering a JSON body over keepalive),
   as real sites do. Each with the access log off (the anchor), and to
   fastprom-nginxlog reading on every wakeup (receive_coalesce_ms 0) and
   with its default pacing; for `return 200` also to a file, to a socket
   nobody reads (what a dropped line costs nginx), to a socket that does
   not exist (the daemon gone, its socket removed) and to the daemon behind
   the kernel's default queue of 10. For each: requests/s, the ratio to
   the anchor of the same round, the time each request gained (1/rate
   minus the anchor's), the CPU that nginx's worker and the daemon spent
   per request (/proc/PID/stat), and loss: nginx's own count
   (stub_status) against the lines the daemon recorded.
The goal: <= 10% fewer requests/s with the default configuration. Rounds
alternate between configurations, medians are reported: the machine is
shared, so only same-round ratios mean much. A probe first measures how
long this host pauses a running thread (a hypervisor preempting a vCPU):
a daemon paused longer than nginx's send buffer lasts is where lines are
lost.
"""
import os
import signal
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("FASTPROM_TEST_BUILD", BUILD)

import harness  # noqa: E402
import nginxlog_support as ns  # noqa: E402

SECONDS = int(os.environ.get("NGINXLOG_BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("NGINXLOG_BENCH_ROUNDS", "5"))
CONNECTIONS = 32
GOAL_LINES = 500000
GOAL_SLOWDOWN = 0.10
TICK = os.sysconf("SC_CLK_TCK")

SITE = """
server {{
    listen 127.0.0.1:{{port}};
    server_name bench.local;
    {access_log}
    location = /nginx_status {{ stub_status; access_log off; }}
    location / {{ set $fastprom_route "/bench/{{id}}"; return 200 "ok\\n"; }}
    location /api/ {{
        set $fastprom_route "/api/items/{{id}}";
        proxy_pass http://bench_upstream;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }}
}}
upstream bench_upstream {{ server 127.0.0.1:{upstream_port}; keepalive 16; }}
"""
UPSTREAM = """
server {
    listen 127.0.0.1:{port};
    access_log off;
    default_type application/json;
    location / { return 200 '{"id": 42, "name": "widget", "price": 9.99, "stock": 7}\\n'; }
}
"""
LOCATIONS = (("return", "/item/1", "location `return 200` (nginx does nothing else: the worst case)"),
             ("proxy", "/api/items/1", "location proxy_pass to a small upstream (keepalive)"))
BIG_SNDBUF = 4 << 20
# (name, location, access log target, daemon configuration, queue limit,
#  nginx's syslog send buffer (None: the host's default), label)
MODES = (
    ("off", "return", "off", None, None, None, "access_log off (anchor)"),
    ("file", "return", "file", None, None, None, "access_log to a file"),
    ("unread", "return", "unread", None, 512, None, "syslog to a socket nobody reads"),
    ("missing", "return", "missing", None, None, None, "syslog to a socket that does not exist"),
    ("wake", "return", "daemon", {"receive_coalesce_ms": 0}, 512, None, "fastprom-nginxlog, receive_coalesce_ms 0"),
    ("paced", "return", "daemon", {}, 512, None, "fastprom-nginxlog, default pacing"),
    ("bigbuf", "return", "daemon", {}, 8192, BIG_SNDBUF, "the same, nginx sndbuf 4 MiB, queue 8192"),
    ("q10", "return", "daemon", {}, 10, None, "fastprom-nginxlog, default, queue 10"),
    ("proxy-off", "proxy", "off", None, None, None, "access_log off (anchor)"),
    ("proxy-wake", "proxy", "daemon", {"receive_coalesce_ms": 0}, 512, None,
     "fastprom-nginxlog, receive_coalesce_ms 0"),
    ("proxy-paced", "proxy", "daemon", {}, 512, None, "fastprom-nginxlog, default pacing"),
)
PRELOAD = os.path.join(BUILD, "bench", "sndbuf_preload.so")


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


def cpu_seconds(pids):
    """utime + stime of the processes (0 for one that is gone)."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            pass
    return total


def switches(pids, kind):
    """Context switches of the processes; kind: "voluntary" (it slept:
    for the daemon, a wakeup each) or "nonvoluntary" (it was preempted)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += sum(int(line.split()[1]) for line in f if line.startswith(kind + "_ctxt_switches"))
        except OSError:
            pass
    return total


def children(pid):
    """nginx's workers: the processes whose parent is its master."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                pass
    return found


def stall_probe(seconds=3.0):
    """The longest a thread asleep for 1 ms overslept, and how often by more
    than 20 ms (nothing else of ours runs meanwhile)."""
    code = ("import time\nend=time.monotonic()+%f\nworst=0;n=0\nprev=time.monotonic()\n"
            "while prev<end:\n time.sleep(0.001)\n now=time.monotonic();gap=now-prev-0.001\n"
            " worst=max(worst,gap);n+=gap>0.02;prev=now\nprint(worst,n)" % seconds)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout.split()
    return float(out[0]), int(out[1])


def one_run(mode):
    """One wrk run: requests/s, CPU per request (nginx's worker, the
    daemon), and (served, recorded) when the daemon received the lines."""
    _, location, target, config, qlen, sndbuf, _ = mode
    path = next(p for name, p, _ in LOCATIONS if name == location)
    tmp = harness.make_temp_dir()
    procs = []
    try:
        segment = os.path.join(tmp, "segment")
        sock = os.path.join(tmp, "nginxlog.sock")
        access = {"off": "access_log off;", "file": f"access_log {tmp}/bench-access.log fastprom;"}.get(
            target, f"access_log syslog:server=unix:{sock},nohostname,tag=fastprom fastprom;")
        daemon = None
        if target == "daemon":
            daemon = ns.start_nginxlog(tmp, segment, socket_path=sock, qlen=qlen, config=config)
            procs.append(daemon)
        elif target == "unread":  # bound, never read: every line past the queue is dropped
            procs.append(harness.start_process(ns.queue_limit_argv(qlen) + [
                sys.executable, "-c", "import socket,sys,time\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n"
                "s.bind(sys.argv[1])\ntime.sleep(3600)", sock], tmp, "unread"))
            harness.wait_until(lambda: os.path.exists(sock), 5, what="the unread socket")
        upstream_port = harness.free_port()
        if location == "proxy":
            procs.append(harness.start_nginx(tmp, os.path.join(tmp, "unused.sock"), port=upstream_port,
                                             site=UPSTREAM, name="upstream"))
        saved = dict(os.environ)
        if sndbuf:  # nginx inherits it; its workers are forks, so they keep the preload
            os.environ.update(LD_PRELOAD=PRELOAD, FASTPROM_BENCH_SNDBUF=str(sndbuf))
        try:
            nginx = harness.start_nginx(tmp, os.path.join(tmp, "unused.sock"),
                                        site=SITE.format(access_log=access, upstream_port=upstream_port),
                                        http_extra=ns.nginxlog_http_extra(sock))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        procs.append(nginx)
        workers = harness.wait_until(lambda: children(nginx.pid), 5, what="nginx's worker")
        before = stub(nginx)
        dpids = [daemon.pid] if daemon else []

        def sample():
            return (cpu_seconds(workers), cpu_seconds(dpids), switches(workers, "nonvoluntary"),
                    switches(dpids, "voluntary"))
        s0 = sample()
        rps = wrk(nginx.url(path))
        s1 = sample()
        served = stub(nginx) - before - 1
        d = [b - a for a, b in zip(s0, s1)]
        result = {"rps": rps, "nginx_us": 1e6 * d[0] / served, "daemon_us": 1e6 * d[1] / served,
                  "preempted": 1000 * d[2] / served, "wakeups": 1000 * d[3] / served}
        if daemon:
            # SIGTERM makes the daemon record what is still queued before it
            # exits: what it missed then is what nginx could not queue.
            if daemon.stop(signal.SIGTERM, timeout=30) != 0:
                raise AssertionError(f"fastprom-nginxlog did not exit cleanly:\n{daemon.log()}")
            result["loss"] = (served, recorded(segment))
        return result
    finally:
        for p in reversed(procs):
            p.stop()
        harness.shutil.rmtree(tmp, ignore_errors=True)


def print_c_figures():
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


def main():
    print_c_figures()
    worst, pauses = stall_probe()
    print(f"\nhost: load average {os.getloadavg()[0]:.1f}; a thread sleeping 1 ms overslept by up to "
          f"{worst * 1e3:.0f} ms, {pauses} times by more than 20 ms in 3 s (a paused vCPU: the daemon cannot "
          f"read then)")
    print(f"nginx under wrk (1 worker, -t1 -c{CONNECTIONS}, {SECONDS}s, {ROUNDS} rounds, medians). Against the anchor "
          f"of the same round:\n  of off; +us/req: 1/rate - 1/anchor's rate; +cpu: nginx's and the daemon's CPU us per "
          f"request - nginx's in the anchor.\n  nginx, daemon: CPU us per request; per 1,000 requests, preempt: nginx's "
          f"involuntary context switches,\n  wakes: the daemon's sleeps; lost: nginx's count (stub_status) - recorded "
          f"(after the daemon's SIGTERM drain)")
    runs = {m[0]: [] for m in MODES}
    for _ in range(ROUNDS):
        for mode in MODES:
            runs[mode[0]].append(one_run(mode))
    slowdown = {}
    for location, _, title in LOCATIONS:
        print(f"  {title}:")
        print(f"    {'':42s} {'req/s':>7s} {'of off':>6s} {'+us/req':>7s} {'+cpu':>5s} {'nginx':>5s} {'daemon':>6s} "
              f"{'preempt':>7s} {'wakes':>5s}  lost")
        anchor = runs["off" if location == "return" else "proxy-off"]
        for name, loc, _, _, _, _, label in MODES:
            if loc != location:
                continue
            rs = runs[name]
            ratio = statistics.median(r["rps"] / a["rps"] for r, a in zip(rs, anchor))
            added = statistics.median(1e6 / r["rps"] - 1e6 / a["rps"] for r, a in zip(rs, anchor))
            added_cpu = statistics.median(r["nginx_us"] + r["daemon_us"] - a["nginx_us"] for r, a in zip(rs, anchor))
            loss = ""
            if "loss" in rs[0]:
                served = sum(r["loss"][0] for r in rs)
                lost = served - sum(r["loss"][1] for r in rs)
                loss = f"{lost:,.0f} of {served:,} ({lost / served:.2%}); runs: " + \
                       " ".join(f"{r['loss'][0] - r['loss'][1]:.0f}" for r in rs)
            med = {k: statistics.median(r[k] for r in rs) for k in ("rps", "nginx_us", "daemon_us", "preempted",
                                                                     "wakeups")}
            print(f"    {label:42s} {med['rps']:>7,.0f} {ratio:>6.1%} {added:>7.1f} {added_cpu:>5.1f} {med['nginx_us']:>5.1f} "
                  f"{med['daemon_us']:>6.1f} {med['preempted']:>7.0f} {med['wakeups']:>5.0f}  {loss}")
            if name.endswith("paced"):
                slowdown[location] = 1 - ratio
    print(f"  goal (<= {GOAL_SLOWDOWN:.0%} fewer requests/s with the default configuration): "
          + ", ".join(f"{loc} {s:.1%} fewer ({'met' if s <= GOAL_SLOWDOWN else 'NOT met'})"
                      for loc, s in slowdown.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
