#!/usr/bin/python3
"""The Express example (src/node/examples/express-app.js) on node:cluster
with 4 workers, behind real nginx, /metrics served by fastprom-fcgi, scraped
by a real Prometheus.

 - test_four_workers_exact: 4,000 requests from 8 keep-alive clients over
   routes with ids in the path, 404s and 500s: /metrics through nginx shows
   exactly 4,000 requests, the exact count per method, route template and
   status, only template route labels, the app's counter summed over the 4
   workers, default metrics; Prometheus scrapes the same totals.
 - test_sigkilled_worker_keeps_totals: a request is held in a worker (the
   in-progress gauge shows it), the worker is SIGKILLed, cluster replaces it;
   the gauge drops back to 0, 3,000 more requests are sent while /metrics is
   scraped all along: no counter (nor a fractional one, nor a _sum) ever
   decreases, not even by an ulp, and the final totals are exact (the killed
   request is not counted: it never finished).
"""
import collections
import os
import signal
import threading
import time
import unittest

import harness
import node_support
import python_support

APP = os.path.join(node_support.EXAMPLES, "express-app.js")
PROFILE = "/api/users/:id/profile"
ORDER = "/api/orders/:id"
ORDERS = "/api/orders"
BOOM = "/api/boom"
HOLD = "/test/hold/:name"
TEMPLATES = {PROFILE, ORDER, ORDERS, BOOM, HOLD, "__unknown__"}


def workload(n, offset=0):
    requests, expected = [], collections.Counter()
    for i in range(offset, offset + n):
        kind = i % 10
        if kind < 4:
            requests.append(("GET", f"/api/users/u{i}/profile"))
            expected[("GET", PROFILE, "200")] += 1
        elif kind < 7:
            requests.append(("GET", f"/api/orders/{i}"))
            expected[("GET", ORDER, "200")] += 1
        elif kind < 8:
            requests.append(("POST", "/api/orders"))
            expected[("POST", ORDERS, "201")] += 1
        elif kind < 9:
            requests.append(("GET", f"/no/such/page/{i}"))
            expected[("GET", "__unknown__", "404")] += 1
        else:
            requests.append(("GET", "/api/boom"))
            expected[("GET", BOOM, "500")] += 1
    return requests, expected


class NodeClusterTest(unittest.TestCase):
    def start(self):
        self.tmp = harness.make_temp_dir(self)
        self.hold_dir = os.path.join(self.tmp, "hold")
        os.makedirs(self.hold_dir)
        return node_support.start_stack(APP, self.tmp, self, env={"WORKERS": "4", "HOLD_DIR": self.hold_dir})

    def test_four_workers_exact(self):
        stack = self.start()
        requests, expected = workload(4000)
        statuses = python_support.run_load(stack.url(""), requests, threads=8)
        self.assertEqual(len(statuses), 4000)
        # Express records a request on 'finish', which can come after the
        # client has its answer: wait for the last ones, then be exact.
        python_support.wait_recorded(stack, 4000, {"RangeError": 400})
        m = stack.metrics()
        self.assertEqual(python_support.request_counts(m), expected)
        self.assertEqual(python_support.total(m, "http_requests_total"), 4000)
        self.assertEqual({dict(l)["route"] for (n, l) in m if n == "http_requests_total"} - TEMPLATES, set())
        self.assertEqual(python_support.total(m, "shop_orders_total"), expected[("POST", ORDERS, "201")])
        self.assertEqual(python_support.total(m, "http_request_exceptions_total", exception="RangeError"), 400)
        self.assertEqual(python_support.total(m, "http_requests_in_progress"), 0)
        self.assertEqual(python_support.total(m, "http_request_duration_seconds_count"), 4000)
        self.assertTrue(python_support.total(m, "nodejs_heap_size_used_bytes") > 0)
        # Four workers wrote: the version info is one series, heap the sum of four.
        self.assertEqual(python_support.total(m, "nodejs_version_info"), 1)
        prom = harness.start_prometheus(self.tmp, f"127.0.0.1:{stack.nginx.port}", testcase=self)
        prom.wait_target_up(timeout=60)
        harness.wait_until(lambda: prom.value("sum(http_requests_total)") == "4000", 30, interval=0.3,
                           what="Prometheus to see 4000 requests")
        self.assertEqual(prom.value('sum(http_requests_total{route="/api/users/:id/profile"})'), "1600")

    def test_sigkilled_worker_keeps_totals(self):
        stack = self.start()
        requests, expected = workload(1000)
        python_support.run_load(stack.url(""), requests, threads=8)
        held = threading.Thread(target=lambda: self.swallow(stack.url("/test/hold/one")), daemon=True)
        held.start()
        pid_file = os.path.join(self.hold_dir, "one.pid")
        pid = int(harness.wait_until(lambda: open(pid_file).read().strip(), 20, what="the held request"))
        harness.wait_until(lambda: python_support.total(stack.metrics(), "http_requests_in_progress") == 1, 10,
                           what="the in-progress gauge to show the held request")
        os.kill(pid, signal.SIGKILL)
        harness.wait_until(lambda: python_support.total(stack.metrics(), "http_requests_in_progress") == 0, 20,
                           what="the in-progress gauge to forget the killed worker")
        more, expected_more = workload(3000, offset=1000)
        expected.update(expected_more)
        stop = threading.Event()
        decreases, scrapes = [], []

        def scraper():
            last = {}
            while not stop.is_set():
                try:
                    m = stack.metrics()
                except AssertionError:
                    continue
                scrapes.append(1)
                for key, v in m.items():
                    # nodejs_active_*_total are gauges (prom-client's names).
                    # Fractional counters (CPU seconds) and the _sum of
                    # histograms of durations count up too, exactly: folding
                    # the killed worker's cells must not lower them by an ulp.
                    counter = key[0].endswith(("_total", "_count", "_bucket", "_sum")) and \
                        not key[0].startswith("nodejs_active")
                    if counter and v < last.get(key, 0):
                        decreases.append((key, last[key], v))
                    last[key] = v
                time.sleep(0.02)

        t = threading.Thread(target=scraper, daemon=True)
        t.start()
        python_support.run_load(stack.url(""), more, threads=8)
        stop.set()
        t.join(30)
        self.assertEqual(decreases, [])
        self.assertGreater(len(scrapes), 3)
        python_support.wait_recorded(stack, 4000, {"RangeError": expected[("GET", BOOM, "500")]})
        m = stack.metrics()
        self.assertEqual(python_support.request_counts(m), expected)
        self.assertEqual(python_support.total(m, "http_requests_total"), 4000)
        self.assertEqual(python_support.total(m, "shop_orders_total"), expected[("POST", ORDERS, "201")])

    @staticmethod
    def swallow(url):
        try:
            harness.http_get(url, timeout=60)
        except Exception:  # noqa: BLE001 - the worker holding it is killed
            pass


if __name__ == "__main__":
    unittest.main(verbosity=2)
