#!/usr/bin/python3
"""test_fcgi_load.py - 32 concurrent scrapers through nginx while 4 writer
processes record for 10 s: every answer is a 200 and the worker survives.
Then `kill -9` of the worker: nginx answers 502, a restarted worker takes the
stale socket over, and the counters are intact."""
import collections
import gzip
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SCRAPERS = 32
WRITERS = 4
SECONDS = 10
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


def requests_total(nginx):
    r = harness.http_get(nginx.url("/metrics?name[]=http_requests_total"))
    assert r.status == 200, r
    return sum(value for _, _, value in harness.samples(r.body))


class Load(unittest.TestCase):
    def test_scrapers_and_writers_then_kill_and_restart(self):
        tmp = harness.make_temp_dir(self)
        segment = os.path.join(tmp, "segment")
        demo = harness.start_demo(tmp, segment, processes=WRITERS, rate=500, testcase=self,
                                  args=["--recycle", "2"])
        harness.wait_until(lambda: os.path.exists(segment), 10, what="the segment")
        worker = harness.start_worker(tmp, segment, testcase=self)
        nginx = harness.start_nginx(tmp, worker.socket, testcase=self)

        statuses = collections.Counter()
        failures = []
        lock = threading.Lock()
        deadline = time.monotonic() + SECONDS

        def scrape(index):
            # Half scrape like Prometheus (OpenMetrics, gzip), half like curl.
            headers = {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"} if index % 2 else {}
            while time.monotonic() < deadline:
                try:
                    r = harness.http_get(nginx.url("/metrics"), headers, timeout=10)
                    body = gzip.decompress(r.body) if r.header("Content-Encoding") == "gzip" else r.body
                    ok = r.status == 200 and (not index % 2 or body.endswith(b"# EOF\n"))
                except Exception as e:  # noqa: BLE001 - any failure is recorded
                    ok, r = False, e
                with lock:
                    statuses[getattr(r, "status", "error")] += 1
                    if not ok and len(failures) < 5:
                        failures.append(repr(r)[:300])

        threads = [threading.Thread(target=scrape, args=(i,)) for i in range(SCRAPERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(SECONDS + 30)
        self.assertFalse(any(t.is_alive() for t in threads), "a scraper hung")
        self.assertEqual(set(statuses), {200}, f"{statuses} {failures}")
        self.assertFalse(failures, failures)
        self.assertGreater(statuses[200], SCRAPERS)
        self.assertTrue(worker.alive(), worker.log())
        print(f"\n{statuses[200]} scrapes in {SECONDS} s with {WRITERS} writers", file=sys.stderr)

        # Freeze the counters, then kill the worker the hard way.
        self.assertEqual(demo.stop(), 0, demo.log())
        before = requests_total(nginx)
        self.assertGreater(before, 0)
        worker.stop(signal.SIGKILL)
        self.assertTrue(os.path.exists(worker.socket), "a killed worker leaves its socket file")
        self.assertEqual(harness.http_get(nginx.url("/metrics")).status, 502)

        restarted = harness.start_worker(tmp, segment, socket_path=worker.socket, testcase=self, name="worker2")
        self.assertEqual(requests_total(nginx), before)
        self.assertEqual(harness.http_get(nginx.url("/api/v1/health/prometheus")).status, 200)
        self.assertTrue(restarted.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
