#!/usr/bin/python3
"""test_fcgi_prometheus.py - a real Prometheus (scrape_interval 1s) scraping
/metrics through nginx: the target is up, Prometheus negotiated OpenMetrics,
and instant queries return exactly the counter values the writers recorded."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PROCESSES, REQUESTS = 3, 40


class PrometheusScrapes(unittest.TestCase):
    def test_prometheus_scrapes_exact_values_through_nginx(self):
        tmp = harness.make_temp_dir(self)
        segment = os.path.join(tmp, "segment")
        demo = harness.start_demo(tmp, segment, processes=PROCESSES, requests=REQUESTS, rate=0, testcase=self)
        self.assertEqual(demo.wait(60), 0, demo.log())
        worker = harness.start_worker(tmp, segment, testcase=self)
        nginx = harness.start_nginx(tmp, worker.socket, testcase=self)
        prom = harness.start_prometheus(tmp, f"127.0.0.1:{nginx.port}", testcase=self)

        target = prom.wait_target_up(timeout=30)
        self.assertEqual(target["health"], "up")
        self.assertEqual(target["lastError"], "")
        self.assertEqual(prom.value('up{job="fastprom"}'), "1")

        # Every request of every process, exactly, as one sum and per series.
        total = str(PROCESSES * REQUESTS)
        harness.wait_until(lambda: prom.value("sum(http_requests_total)") == total, 10, interval=0.2,
                           what=f"sum(http_requests_total) == {total} in Prometheus")
        exposition = harness.samples(harness.http_get(nginx.url("/metrics?name[]=http_requests_total")).body)
        self.assertTrue(exposition)
        for name, labels, value in exposition:
            selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            self.assertEqual(float(prom.value(f"{name}{{{selector}}}")), value, selector)
        self.assertEqual(prom.value("sum(http_request_duration_seconds_count)"), total)

        # Prometheus 2.42 asked for OpenMetrics first and got it.
        harness.wait_until(lambda: prom.value('sum(fastprom_scrapes_total{format="openmetrics",code="200"})'),
                           10, interval=0.2, what="OpenMetrics scrapes counted")
        self.assertEqual(prom.value("fastprom_segment_up"), "1")


if __name__ == "__main__":
    unittest.main(verbosity=2)
