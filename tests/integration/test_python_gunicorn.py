#!/usr/bin/python3
"""Seed 004's Flask app (src/python/examples/flask_app.py) under real
gunicorn with 4 workers, behind real nginx, /metrics served by fastprom-fcgi.

 - test_four_workers_exact: 10,000 requests from 8 keep-alive clients over
   routes with ids in the path (and 404s, 500s, streams); /metrics through
   nginx shows exactly 10,000 requests, the exact count per method, route
   template and status, only template route labels, every in-progress
   gauge at 0, the business metrics of all 4 workers summed. Then a request
   is held in a worker, the in-progress gauge shows it, the worker is
   SIGKILLed, and the gauge drops back to 0 (livesum forgets the dead
   process) while the totals stay exact.
 - test_recycled_workers_never_lose_counts: the same 10,000 requests with
   --preload (the segment is opened before the fork) and --max-requests 100
   (workers replaced ~100 times): /metrics is scraped all along and no
   counter ever decreases between two scrapes; the final totals are exact.
"""
import collections
import os
import re
import signal
import threading
import time
import unittest

import harness
import python_support

TARGET = "held_flask_app:create_app()"
HELD_APP = '''
import os
import time

from examples.flask_app import create_app as create_example_app


def create_app():
    app = create_example_app()

    @app.get("/test/hold/<name>")
    def hold(name):
        with open(os.path.join(os.environ["HOLD_DIR"], name + ".pid"), "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)
        return "held"

    return app
'''

CAMERAS = "/api/cameras/<int:camera_id>/detections"
PROFILE = "/api/users/<user_id>/profile"
LLM = "/api/llm/<model>/complete"
STREAM = "/api/streams/<int:camera_id>"
REPORT = "/api/reports/<int:report_id>/render"
HOLD = "/test/hold/<name>"
TEMPLATES = {CAMERAS, PROFILE, LLM, STREAM, REPORT, HOLD, "__unknown__"}

# CPython's teardown of a forked worker (refcounts touched -> copy-on-write
# faults) takes ~0.5 s here, which 100 recycles would pay in wall time.
# fastprom needs no teardown (the kernel releases a dead process's slot), so
# recycled workers end with os._exit; SIGKILL is tested separately.
FAST_EXIT_CONF = """
import os


def worker_exit(server, worker):
    os._exit(0)
"""


def workload(n=10_000):
    """n requests and the (method, route, status) counts they must produce."""
    requests, expected = [], collections.Counter()
    for i in range(n):
        kind = i % 20
        if kind < 8:
            requests.append(("GET", f"/api/cameras/{i}/detections"))
            expected[("GET", CAMERAS, "200")] += 1
        elif kind < 12:
            requests.append(("GET", f"/api/users/u{i}/profile"))
            expected[("GET", PROFILE, "200")] += 1
        elif kind < 14:
            requests.append(("GET", f"/api/users/missing{i}/profile"))
            expected[("GET", PROFILE, "404")] += 1
        elif kind < 16:
            requests.append(("POST", f"/api/llm/model-{i % 3}/complete"))
            expected[("POST", LLM, "200")] += 1
        elif kind < 18:
            requests.append(("GET", f"/api/streams/{i}?chunks=3"))
            expected[("GET", STREAM, "200")] += 1
        elif kind == 18:
            requests.append(("GET", f"/no/such/page/{i}"))
            expected[("GET", "__unknown__", "404")] += 1
        elif i % 100 == 19:
            requests.append(("GET", f"/api/reports/{i}/render"))
            expected[("GET", REPORT, "500")] += 1
        else:
            requests.append(("GET", f"/api/cameras/{i}/detections?model=yolov8s"))
            expected[("GET", CAMERAS, "200")] += 1
    return requests, expected


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def request_counts(samples):
    out = collections.Counter()
    for (name, labels), v in samples.items():
        if name == "http_requests_total":
            d = dict(labels)
            out[(d["method"], d["route"], d["status"])] += v
    return out


class Gunicorn(unittest.TestCase):
    def start(self, args):
        tmp = harness.make_temp_dir(self)
        with open(os.path.join(tmp, "held_flask_app.py"), "w") as f:
            f.write(HELD_APP)
        with open(os.path.join(tmp, "fast_exit.conf.py"), "w") as f:
            f.write(FAST_EXIT_CONF)
        env = {"HOLD_DIR": tmp}
        stack = python_support.start_stack("gunicorn", TARGET, tmp, self, args=args, env=env, extra_path=tmp)
        return tmp, stack

    def check_exact(self, stack, expected):
        # The last requests' answers can reach the client just before
        # gunicorn's close() records them: wait for them, then be exact.
        python_support.wait_recorded(stack, sum(expected.values()),
                                     {"RuntimeError": expected[("GET", REPORT, "500")]})
        samples = stack.metrics()
        self.assertEqual(python_support.total(samples, "http_requests_total"), 10_000)
        self.assertEqual(request_counts(samples), expected)
        self.assertEqual(python_support.total(samples, "http_request_duration_seconds_count"), 10_000)
        self.assertEqual(python_support.total(samples, "http_request_exceptions_total", exception="RuntimeError"),
                         expected[("GET", REPORT, "500")])
        routes = {dict(labels)["route"] for (_, labels) in samples if "route" in dict(labels)}
        self.assertLessEqual(routes, TEMPLATES, "a raw path became a route label")
        self.assertEqual(python_support.total(samples, "http_requests_in_progress"), 0)
        cameras = sum(v for k, v in expected.items() if k[1] == CAMERAS)
        self.assertEqual(python_support.total(samples, "detection_total"), cameras)
        self.assertEqual(python_support.total(samples, "llm_requests_total"), expected[("POST", LLM, "200")])
        self.assertEqual(python_support.total(samples, "active_streams"), 0)
        return samples

    def test_four_workers_exact(self):
        tmp, stack = self.start(["-w", "4"])
        requests, expected = workload()
        started = time.monotonic()
        results = python_support.run_load(stack.url(""), requests, threads=8)
        elapsed = time.monotonic() - started
        print(f"\n  gunicorn -w 4: 10,000 requests through nginx in {elapsed:.1f}s", flush=True)
        self.assertEqual(len(results), 10_000)
        samples = self.check_exact(stack, expected)
        self.assertEqual(samples[("fastprom_writer_processes", ())], 4)

        # A request held in a worker, then the worker killed mid-request.
        held = {}
        client = threading.Thread(target=lambda: held.update(
            r=harness.http_get(stack.url("/test/hold/victim"), timeout=60)), daemon=True)
        client.start()
        pid_file = os.path.join(tmp, "victim.pid")
        pid = int(harness.wait_until(lambda: read(pid_file), 10, what="the held request"))
        in_progress = ("http_requests_in_progress", (("method", "GET"), ("route", HOLD)))
        self.assertEqual(stack.metrics()[in_progress], 1)
        os.kill(pid, signal.SIGKILL)
        harness.wait_until(lambda: stack.metrics()[in_progress] == 0, 10, what="in-progress back to 0")
        client.join(30)
        self.assertEqual(held["r"].status, 502)
        self.check_exact(stack, expected)

    def test_recycled_workers_never_lose_counts(self):
        tmp, stack = self.start(["-w", "4", "--preload", "--max-requests", "100", "-c", "fast_exit.conf.py"])
        requests, expected = workload()
        scrapes, stop = [], threading.Event()

        def scraper():
            while not stop.is_set():
                scrapes.append(request_counts(stack.metrics()))
                time.sleep(0.1)

        watcher = threading.Thread(target=scraper, daemon=True)
        watcher.start()
        started = time.monotonic()
        try:
            python_support.run_load(stack.url(""), requests, threads=8)
        finally:
            stop.set()
            watcher.join(30)
        elapsed = time.monotonic() - started
        restarts = len(re.findall(r"Autorestarting worker", stack.app.log()))
        print(f"\n  gunicorn --max-requests 100: 10,000 requests in {elapsed:.1f}s, {restarts} worker restarts, "
              f"{len(scrapes)} scrapes", flush=True)
        self.assertGreaterEqual(restarts, 60)
        self.assertGreater(len(scrapes), 5)
        for before, after in zip(scrapes, scrapes[1:]):
            for key, v in before.items():
                self.assertGreaterEqual(after[key], v, f"{key} went down between two scrapes")
        samples = self.check_exact(stack, expected)
        slots = {dict(labels)["state"]: v for (name, labels), v in samples.items() if name == "fastprom_writer_slots"}
        self.assertLessEqual(slots["live"] + slots["dead"], 16, f"recycled workers' slots pile up: {slots}")


if __name__ == "__main__":
    unittest.main(verbosity=1)
