#!/usr/bin/python3
"""python_support.py - what the Python package's tests share (test_python_*.py).

 - import_fastprom(): puts src/python on sys.path (and the build's
   build directory in FASTPROM_BUILD unless set) and imports the package;
 - scrape(url) / parse(text): a /metrics answer as {(sample name, labels
   tuple): value}, parsed by prometheus_client's own parser;
 - start_app_server(): gunicorn or uvicorn on a free port, running one of
   src/python/examples (or a test module that extends one), writing to a
   given segment; waits until /health answers;
 - start_stack(): that app server + fastprom-fcgi + nginx with the
   application at "location /" and the shipped snippet for /metrics;
 - run_load(): N client threads, each with one keep-alive connection to
   nginx, sending a fixed list of requests; returns the statuses seen;
 - wait_recorded(): waits until /metrics counts those requests (the
   middleware records a request just after its answer went out).
Servers come from harness.py (free ports, temp dirs, stopped by PID).
"""
import collections
import http.client
import os
import sys
import threading
import time

import harness

ROOT = harness.ROOT
PYTHON_SRC = os.path.join(ROOT, "src", "python")
PYTHON = "/usr/bin/python3"


def import_fastprom():
    os.environ.setdefault("FASTPROM_BUILD", harness.BUILD)
    if PYTHON_SRC not in sys.path:
        sys.path.insert(0, PYTHON_SRC)
    import fastprom
    return fastprom


def parse(text):
    """{(sample name, sorted label pairs): value} of an exposition."""
    from prometheus_client.parser import text_string_to_metric_families
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(url, timeout=10):
    r = harness.http_get(url, timeout=timeout)
    if r.status != 200:
        raise AssertionError(f"GET {url}: HTTP {r.status} {r.body[:300]!r}")
    return parse(r.body.decode("utf-8"))


def total(samples, name, **match):
    """Sum of the samples called name whose labels include match."""
    want = set(match.items())
    return sum(v for (n, labels), v in samples.items() if n == name and want <= set(labels))


def request_counts(samples, name="http_requests_total"):
    """Counter({(method, route, status): requests}) of the HTTP middleware's counter."""
    out = collections.Counter()
    for (n, labels), v in samples.items():
        if n == name:
            d = dict(labels)
            out[(d["method"], d["route"], d["status"])] += v
    return out


def by_label(samples, name, label):
    """{label value: summed value} over the samples called name."""
    out = {}
    for (n, labels), v in samples.items():
        if n == name:
            key = dict(labels)[label]
            out[key] = out.get(key, 0) + v
    return out


def app_env(segment, extra=None):
    env = {
        "PYTHONPATH": PYTHON_SRC,
        "FASTPROM_PATH": segment,
        "FASTPROM_BUILD": harness.BUILD,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra or {})
    return env


def start_app_server(kind, target, tmp, segment, port=None, args=(), testcase=None, env=None, name=None,
                     extra_path=None):
    """gunicorn (kind "gunicorn", target "module:callable()") or uvicorn
    (kind "uvicorn", target "module:app") on 127.0.0.1:port."""
    port = port or harness.free_port()
    if kind == "gunicorn":
        argv = [PYTHON, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "--log-level", "info", *args, target]
    elif kind == "uvicorn":
        argv = [PYTHON, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                "--no-access-log", *args, target]
    else:
        raise ValueError(kind)
    full_env = app_env(segment, env)
    if extra_path:
        full_env["PYTHONPATH"] = extra_path + os.pathsep + full_env["PYTHONPATH"]
    proc = harness.start_process(argv, tmp, name or kind, env=full_env, testcase=testcase)
    proc.port = port
    wait_healthy(proc, kind)
    return proc


def wait_healthy(proc, name):
    """Waits until the app process answers GET /health on proc.port with 200;
    an AssertionError with its log if it exits or does not come up in 30 s."""
    def ready():
        if not proc.alive():
            raise AssertionError(f"{name} exited with {proc.returncode}:\n{proc.log()}")
        return harness.http_get(f"http://127.0.0.1:{proc.port}/health", timeout=2).status == 200
    try:
        harness.wait_until(ready, 30, interval=0.1, what=f"{name} on port {proc.port}")
    except TimeoutError:
        raise AssertionError(f"{name} did not come up:\n{proc.log()}")


SITE = """server {
    listen 127.0.0.1:{port};
    include {snippet};
    location / {
        proxy_pass http://127.0.0.1:%d;
        proxy_set_header Host $host;
        proxy_read_timeout 60s;
    }
}
"""


class Stack:
    """An app server behind nginx, with fastprom-fcgi on /metrics."""

    def __init__(self, app, worker, nginx):
        self.app = app
        self.worker = worker
        self.nginx = nginx

    def url(self, path):
        return self.nginx.url(path)

    def metrics(self):
        return scrape(self.url("/metrics"))


def wait_recorded(stack, requests, exceptions=None, timeout=10):
    """Waits until /metrics shows `requests` requests wholly recorded (and
    `exceptions`, {exception name: count}); returns that scrape's samples.

    The HTTP middleware (Python's and Node's) records a request once its
    response has gone out (WSGI close(), after the ASGI app's last send,
    Express' 'finish'), so a client can hold its answer before the request
    is counted: reading /metrics right after a load could miss the last
    few. The duration observation and then the exception count are a
    request's last updates; once they are in, its other counts are too."""
    def done():
        samples = stack.metrics()
        if total(samples, "http_request_duration_seconds_count") < requests:
            return None
        for name, n in (exceptions or {}).items():
            if total(samples, "http_request_exceptions_total", exception=name) < n:
                return None
        return samples
    return harness.wait_until(done, timeout, interval=0.1, what=f"{requests} requests recorded in /metrics")


def start_stack(kind, target, tmp, testcase, args=(), env=None, extra_path=None):
    segment = os.path.join(tmp, "segment")
    app = start_app_server(kind, target, tmp, segment, args=args, testcase=testcase, env=env,
                           extra_path=extra_path)
    worker = harness.start_worker(tmp, segment, testcase=testcase)
    nginx = harness.start_nginx(tmp, worker.socket, site=SITE % app.port, testcase=testcase)
    return Stack(app, worker, nginx)


def run_load(base_url, requests, threads=8, timeout=120):
    """Sends every (method, path) of requests through keep-alive connections
    from `threads` threads. Returns a list of (method, path, status)."""
    host, port = base_url.split("//", 1)[1].split(":")
    results = []
    errors = []
    lock = threading.Lock()
    deadline = time.monotonic() + timeout

    def client(part):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        mine = []
        try:
            for method, path in part:
                if time.monotonic() > deadline:
                    raise TimeoutError("load did not finish in time")
                body = b"hello fastprom" if method == "POST" else None
                headers = {"Content-Type": "application/json"} if method == "POST" else {}
                if isinstance(path, tuple):
                    path, body = path
                for attempt in range(2):
                    try:
                        conn.request(method, path, body=body, headers=headers)
                        resp = conn.getresponse()
                        resp.read()
                        break
                    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                        # nginx closed the idle keep-alive connection before this request was sent.
                        conn.close()
                        conn = http.client.HTTPConnection(host, int(port), timeout=30)
                        if attempt:
                            raise
                mine.append((method, path, resp.status))
        except Exception as e:  # noqa: BLE001 - reported to the test
            with lock:
                errors.append(e)
        finally:
            conn.close()
            with lock:
                results.extend(mine)

    parts = [requests[i::threads] for i in range(threads)]
    workers = [threading.Thread(target=client, args=(p,), daemon=True) for p in parts]
    for t in workers:
        t.start()
    for t in workers:
        t.join(max(deadline - time.monotonic(), 0.1))
    if errors:
        raise AssertionError(f"load clients failed: {errors[:3]}")
    if any(t.is_alive() for t in workers):
        raise AssertionError("load clients still running at the deadline")
    return results
