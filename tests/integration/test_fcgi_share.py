#!/usr/bin/python3
"""test_fcgi_share.py - identical scrapes share renders through real nginx,
and sharing never serves a scrape values older than the scrape.

24 threads scrape /metrics like Prometheus (OpenMetrics, gzip) without
pause, so renders overlap; meanwhile the test increments a counter with the
fastprom CLI and scrapes with the same headers right after each increment.
Every one of those answers must show exactly the increments made so far: an
answer rendered before the scrape arrived would show one fewer. The worker's
fastprom_scrapes_shared_total shows sharing happened."""
import gzip
import os
import re
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SCRAPERS = 24
SECONDS = 6
MAX_INCREMENTS = 300
ROUTES = 300  # enough series that a render takes a while, so renders overlap
ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
          "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
HEADERS = {"Accept": ACCEPT, "Accept-Encoding": "gzip"}
CLI = os.path.join(harness.BUILD, "fastprom")


def body_of(r):
    return gzip.decompress(r.body) if r.header("Content-Encoding") == "gzip" else r.body


class Share(unittest.TestCase):
    def test_shared_answers_are_never_older_than_the_scrape(self):
        tmp = harness.make_temp_dir(self)
        segment = os.path.join(tmp, "segment")
        demo = harness.start_demo(tmp, segment, processes=1, rate=0, requests=ROUTES, testcase=self,
                                  args=["--uniform", "--routes", str(ROUTES), "--max-series", str(ROUTES)])
        self.assertEqual(demo.wait(120), 0, demo.log())
        worker = harness.start_worker(tmp, segment, testcase=self)
        nginx = harness.start_nginx(tmp, worker.socket, testcase=self)
        url = nginx.url("/metrics")

        stop = threading.Event()
        bad = []

        def scrape():
            while not stop.is_set():
                try:
                    r = harness.http_get(url, HEADERS, timeout=10)
                    if r.status != 200 and len(bad) < 5:
                        bad.append(r.status)
                except Exception as e:  # noqa: BLE001 - any failure is recorded
                    if len(bad) < 5:
                        bad.append(repr(e))

        threads = [threading.Thread(target=scrape) for _ in range(SCRAPERS)]
        for t in threads:
            t.start()
        increments, stale = 0, []
        try:
            deadline = time.monotonic() + SECONDS
            while time.monotonic() < deadline and increments < MAX_INCREMENTS:
                subprocess.run([CLI, "--path", segment, "inc", "share_marker_total"], check=True, timeout=10)
                increments += 1
                r = harness.http_get(url, HEADERS, timeout=10)
                self.assertEqual(r.status, 200, r.body[:300])
                m = re.search(rb"^share_marker_total (\S+)$", body_of(r), re.M)
                self.assertIsNotNone(m, "the marker counter is missing from the answer")
                if float(m.group(1)) != increments:
                    stale.append((increments, float(m.group(1))))
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertFalse(any(t.is_alive() for t in threads), "a scraper hung")
        self.assertEqual(stale, [], "answers older than their scrape (increments made, value served)")
        self.assertEqual(bad, [])
        self.assertGreater(increments, 10)

        text = harness.http_get(nginx.url("/metrics?name[]=fastprom_scrapes_shared_total")).body
        shared = sum(v for name, _, v in harness.samples(text) if name == "fastprom_scrapes_shared_total")
        self.assertGreater(shared, 0, "no scrape shared a render")
        print(f"\n{increments} checked scrapes, {shared:.0f} shared answers", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
