#!/usr/bin/python3
"""bench_fcgi.py - fastprom-fcgi behind nginx under wrk: /metrics at 1k, 10k
and 100k exposed series (samples per scrape, as Prometheus counts them), with
Prometheus' Accept header, identity and gzip, 32 connections.

Prints req/s and p50/p99 latency per case, the worker's resident memory, and
as the anchor measured in the same run: nginx serving the very same
exposition as a static file (the floor any exporter behind nginx could
reach). Also measures libfcgi's close drain (LIBFCGI_OS_CLOSE_POLL_TIMEOUT:
the worker's 200 ms against libfcgi's 2000 ms default).

Targets (issue 3): 10k series p99 <= 20 ms at 32 connections; worker RSS <=
4 MB plus output buffers (under load the worker's private memory is compared:
shared library pages are not the worker's to save). Issue 13: the JSON view,
/api/v1/metrics, at 10k series within 2x the req/s of /metrics, both measured
in the same run.

Idle connections (issue 12), at 1k and 10k series: scrapes through nginx
while 1,000 connections to the worker's socket stay open sending nothing
(re-opened when the worker closes them at its I/O timeout) and 64 more keep
connecting, idling and reconnecting; anchor: the same scrapes with no idle
connection, in the same run. Target: every scrape succeeds, p99 <= 100 ms.
"""
import os
import random
import re
import selectors
import shutil
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import harness  # noqa: E402

ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
          "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
CONNECTIONS = 32
SECONDS = int(os.environ.get("FASTPROM_BENCH_SECONDS", "5"))
SIZES = (1000, 10000, 100000)
# One demo route exposes 19 samples: a counter, a histogram (14 buckets,
# +Inf, _sum, _count) and a gauge.
SAMPLES_PER_ROUTE = 19
# The JSON view (/api/v1/metrics) against /metrics of the same segment, in
# the same run (issue 13: within 2x).
JSON_SAMPLES = 10000


def wrk(url, gzip):
    """Runs wrk; returns (req/s, p50 ms, p99 ms, non-2xx count)."""
    argv = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--timeout", "30s", "--latency", "-H",
            f"Accept: {ACCEPT}"]
    if gzip:
        argv += ["-H", "Accept-Encoding: gzip"]
    out = subprocess.run(argv + [url], capture_output=True, text=True, timeout=SECONDS + 60).stdout

    def latency(pct):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return rps, latency(50), latency(99), (int(bad.group(1)) if bad else 0), (errors.group(0) if errors else "")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def private_kib(pid):
    """Resident memory that is the worker's own: RSS less the pages of
    shared libraries and of the segment, which other processes share."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line and not line.startswith("0"))
    return int(fields["Private_Dirty"].split()[0]) + int(fields["Private_Clean"].split()[0])


def populate(tmp, segment, samples):
    routes = max(1, samples // SAMPLES_PER_ROUTE)
    env = {"FASTPROM_SIZE": "512M"}
    demo = harness.start_process([harness.DEMO, "--path", segment, "--processes", "1", "--rate", "0", "--uniform",
                                  "--routes", str(routes), "--requests", str(routes), "--max-series", str(routes)],
                                 tmp, f"populate-{samples}", env=env)
    if demo.wait(600) != 0:
        raise SystemExit(f"populating {samples} series failed:\n{demo.log()}")


def site_with_anchor(anchor_file):
    return ("server {\n    listen 127.0.0.1:{port};\n    include {snippet};\n"
            f"    location = /anchor {{ alias {anchor_file}; default_type text/plain; access_log off;\n"
            "        gzip on; gzip_types text/plain; gzip_comp_level 1; gzip_min_length 1024; }\n}\n")


def bench_size(samples, rows, json_rows):
    """Benchmarks one size, appending result rows; returns the worker's
    (idle RSS, RSS, peak RSS) in KiB and the identity and gzip body sizes."""
    tmp = harness.make_temp_dir(prefix="fastprom-bench-")
    shm = harness.make_temp_dir(prefix="fastprom-bench-")
    if os.path.isdir("/dev/shm"):
        shutil.rmtree(shm)
        shm = os.path.join("/dev/shm", os.path.basename(shm))
        os.makedirs(shm)
    procs = []
    try:
        segment = os.path.join(shm, "segment")
        populate(tmp, segment, samples)
        worker = harness.start_worker(tmp, segment)
        procs.append(worker)
        idle_rss, _ = rss_kib(worker.pid)
        anchor = os.path.join(tmp, "anchor.txt")
        nginx = harness.start_nginx(tmp, worker.socket, site=site_with_anchor(anchor))
        procs.append(nginx)
        body = harness.http_get(nginx.url("/metrics"), {"Accept": ACCEPT}).body
        exposed = sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#"))
        with open(anchor, "wb") as f:
            f.write(body)
        gz_len = len(harness.http_get(nginx.url("/metrics"), {"Accept": ACCEPT, "Accept-Encoding": "gzip"}).body)
        for gzip in (False, True):
            rps, p50, p99, bad, errors = wrk(nginx.url("/metrics"), gzip)
            a_rps, a_p50, a_p99, _, _ = wrk(nginx.url("/anchor"), gzip)
            rows.append((samples, exposed, "gzip" if gzip else "identity", rps, p50, p99, bad, errors,
                         len(body), gz_len, a_rps, a_p99))
            if samples == JSON_SAMPLES:
                json_rows.append(("gzip" if gzip else "identity", (rps, p50, p99),
                                  wrk(nginx.url("/api/v1/metrics"), gzip)))
        rss, hwm = rss_kib(worker.pid)
        return idle_rss, rss, hwm, private_kib(worker.pid), len(body), gz_len
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(shm, ignore_errors=True)


def close_drain(samples):
    """p50/p99 at `samples` with libfcgi's default drain and with ours."""
    results = {}
    for label, value in (("2000 ms (libfcgi default)", "2000"), ("200 ms (fastprom-fcgi)", "200")):
        tmp = harness.make_temp_dir(prefix="fastprom-bench-")
        procs = []
        try:
            segment = os.path.join(tmp, "segment")
            populate(tmp, segment, samples)
            worker = harness.start_worker(tmp, segment, env={"LIBFCGI_OS_CLOSE_POLL_TIMEOUT": value})
            procs.append(worker)
            nginx = harness.start_nginx(tmp, worker.socket)
            procs.append(nginx)
            results[label] = wrk(nginx.url("/metrics"), False)
        finally:
            for p in reversed(procs):
                p.stop()
            shutil.rmtree(tmp, ignore_errors=True)
    return results


IDLE_HELD = 1000
IDLE_CHURN = 64
IDLE_SCRAPES = 300
IDLE_SIZES = (1000, 10000)


class IdlePeers:
    """HELD unix connections to the worker kept open and silent (re-opened
    when the worker closes one), and CHURN more that each stay a random
    50-500 ms and reconnect: one thread, one selector."""

    def __init__(self, path, held, churn):
        self.path, self.stop, self.opened = path, threading.Event(), 0
        self.sel = selectors.DefaultSelector()
        self.churning = {}  # socket -> when it hangs up
        for i in range(held + churn):
            self._open(i >= held)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _open(self, churn):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.path)
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ, churn)
        if churn:
            self.churning[s] = time.monotonic() + random.uniform(0.05, 0.5)
        self.opened += 1

    def _close(self, s):
        self.sel.unregister(s)
        self.churning.pop(s, None)
        s.close()

    def _run(self):
        while not self.stop.is_set():
            for key, _ in self.sel.select(0.02):
                try:
                    gone = key.fileobj.recv(1) == b""
                except OSError:
                    gone = True
                if gone:  # the worker closed it: open another
                    self._close(key.fileobj)
                    self._open(key.data)
            now = time.monotonic()
            for s, until in list(self.churning.items()):
                if now >= until:
                    self._close(s)
                    self._open(True)

    def close(self):
        self.stop.set()
        self.thread.join(10)
        for key in list(self.sel.get_map().values()):
            self._close(key.fileobj)


def timed_scrapes(url, count, pid=None):
    """count sequential scrapes like Prometheus; (latencies in ms, failures,
    the most descriptors process pid held at a scrape's start)."""
    latencies, failures, fds = [], [], 0
    for _ in range(count):
        if pid:
            fds = max(fds, len(os.listdir(f"/proc/{pid}/fd")))
        started = time.monotonic()
        try:
            r = harness.http_get(url, {"Accept": ACCEPT, "Accept-Encoding": "gzip"}, timeout=30)
            if r.status != 200:
                failures.append(r.status)
        except OSError as e:
            failures.append(repr(e))
        latencies.append((time.monotonic() - started) * 1000)
    return sorted(latencies), failures, fds


def idle_connections(samples):
    """Scrape figures beside idle connections, and the anchor without."""
    tmp = harness.make_temp_dir(prefix="fastprom-bench-")
    procs = []
    try:
        segment = os.path.join(tmp, "segment")
        populate(tmp, segment, samples)
        worker = harness.start_worker(tmp, segment)
        procs.append(worker)
        nginx = harness.start_nginx(tmp, worker.socket)
        procs.append(nginx)
        url = nginx.url("/metrics")
        timed_scrapes(url, 20)  # warm up
        anchor = timed_scrapes(url, IDLE_SCRAPES)
        # The idle peers run in a process of their own, so they do not
        # compete with the scraper for this interpreter's lock.
        peers = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--idle-peers", worker.socket,
                                  str(IDLE_HELD), str(IDLE_CHURN)], stdout=subprocess.PIPE, text=True)
        try:
            if peers.stdout.readline().strip() != "ready":
                raise SystemExit("the idle peers did not start")
            time.sleep(1)
            loaded = timed_scrapes(url, IDLE_SCRAPES, worker.pid)
            threads = len(os.listdir(f"/proc/{worker.pid}/task"))
        finally:
            peers.terminate()
            opened = int(peers.communicate(timeout=30)[0].strip() or 0)
        return anchor, loaded, opened, threads
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def pct(values, q):
    return values[min(len(values) - 1, int(len(values) * q))]


def run_idle_peers(path, held, churn):
    """The child of idle_connections: holds the peers until SIGTERM, then
    prints how many connections it opened."""
    import signal
    peers = IdlePeers(path, held, churn)
    print("ready", flush=True)
    signal.sigwait([signal.SIGTERM])
    peers.close()
    print(peers.opened, flush=True)
    return 0


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--idle-peers":
        import signal
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
        return run_idle_peers(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    if not shutil.which("wrk"):
        print("bench_fcgi: wrk is not installed (make deps); skipped")
        return 0
    rows, memory, json_rows = [], [], []
    for samples in SIZES:
        memory.append((samples, *bench_size(samples, rows, json_rows)))

    print(f"fastprom-fcgi behind nginx, wrk {CONNECTIONS} connections, {SECONDS} s per case, "
          f"Prometheus 2.42 Accept (OpenMetrics), {os.cpu_count()} CPUs")
    print(f"{'series':>8} {'exposed':>8} {'encoding':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'body KB':>9}"
          f" | {'static nginx req/s':>18} {'p99 ms':>7} {'worker/static':>13}")
    for samples, exposed, enc, rps, p50, p99, bad, errors, blen, glen, a_rps, a_p99 in rows:
        size = glen if enc == "gzip" else blen
        flag = f"  non-2xx: {bad}" if bad else ""
        flag += f"  {errors}" if errors else ""
        print(f"{samples:>8} {exposed:>8} {enc:>9} {rps:>9.0f} {p50:>8.2f} {p99:>8.2f} {size / 1024:>9.0f}"
              f" | {a_rps:>18.0f} {a_p99:>7.2f} {rps / a_rps:>13.2f}{flag}")

    # What the worker holds for answers at its busiest: the render buffer
    # with its gzip encoding, and one copy of the body shared with the
    # scrapes that waited for it.
    print("\nworker memory (default threads; renders pooled, one per kind of answer at a time under wrk)")
    print(f"{'series':>8} {'idle RSS KB':>12} {'RSS KB':>8} {'peak KB':>8} {'private KB':>11} {'outputs KB':>11}"
          f" {'private-outputs KB':>19}")
    for samples, idle, rss, hwm, private, blen, glen in memory:
        outputs = (2 * blen + glen) / 1024
        print(f"{samples:>8} {idle:>12} {rss:>8} {hwm:>8} {private:>11} {outputs:>11.0f} {private - outputs:>19.0f}")

    print("\nlibfcgi close drain, 10k series identity:")
    for label, (rps, p50, p99, bad, _) in close_drain(10000).items():
        print(f"  LIBFCGI_OS_CLOSE_POLL_TIMEOUT {label:>26}: {rps:.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms")

    idle = {}
    print(f"\nidle connections: {IDLE_SCRAPES} sequential scrapes through nginx, Prometheus Accept, gzip")
    for samples in IDLE_SIZES:
        (anchor, _, _), (loaded, failed, fds), opened, threads = idle_connections(samples)
        idle[samples] = (loaded, failed)
        for label, lat, bad in (("no idle connection (anchor)", anchor, []),
                                (f"{IDLE_HELD} held + {IDLE_CHURN} reconnecting idle", loaded, failed)):
            print(f"  {samples:>6} series, {label:>34}: ok {len(lat) - len(bad)}/{len(lat)}, p50 {pct(lat, 0.5):.2f} ms, "
                  f"p99 {pct(lat, 0.99):.2f} ms, max {lat[-1]:.2f} ms")
        print(f"  {samples:>6} series: {opened} idle connections opened; the worker held up to {fds} descriptors "
              f"and {threads} threads; p99 loaded/anchor {pct(loaded, 0.99) / pct(anchor, 0.99):.2f}")

    at_10k = {enc: (p99, a_p99) for samples, _, enc, _, _, p99, _, _, _, _, _, a_p99 in rows if samples == 10000}
    rss_10k = [m for m in memory if m[0] == 10000][0]
    over = rss_10k[4] - (2 * rss_10k[5] + rss_10k[6]) / 1024
    print()
    for enc, (p99, a_p99) in at_10k.items():
        print(f"target: 10k series p99 <= 20 ms at {CONNECTIONS} connections, "
              f"{enc}: {p99:.2f} ms -> {'met' if p99 <= 20 else 'MISSED'} (static nginx, same bytes: {a_p99:.2f} ms)")
    for enc, (rps, p50, p99), (j_rps, j_p50, j_p99, j_bad, j_errors) in json_rows:
        flag = f"  non-2xx: {j_bad}" if j_bad else ""
        flag += f"  {j_errors}" if j_errors else ""
        print(f"target: /api/v1/metrics within 2x /metrics at {JSON_SAMPLES // 1000}k series, {enc}: "
              f"{j_rps:.0f} against {rps:.0f} req/s ({rps / j_rps:.2f}x), p50 {j_p50:.2f} against {p50:.2f} ms, "
              f"p99 {j_p99:.2f} against {p99:.2f} ms -> {'met' if rps <= 2 * j_rps else 'MISSED'}{flag}")
    idle_10k = rss_10k[1]
    for samples, (loaded, failed) in idle.items():
        idle_p99 = pct(loaded, 0.99)
        print(f"target: every scrape beside {IDLE_HELD} + {IDLE_CHURN} idle connections succeeds, p99 <= 100 ms, "
              f"{samples} series: {len(loaded) - len(failed)}/{len(loaded)}, p99 {idle_p99:.2f} ms -> "
              f"{'met' if not failed and idle_p99 <= 100 else 'MISSED'}")
    print(f"target: RSS <= 4 MB plus output buffers: idle {idle_10k / 1024:.1f} MB -> "
          f"{'met' if idle_10k <= 4096 else 'MISSED'}; under load at 10k series {over / 1024:.1f} MB of private "
          f"memory beyond the outputs -> {'met' if over <= 4096 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
