#!/usr/bin/python3
"""test_fcgi_routes.py - every worker route through a real nginx with the
shipped snippet: status codes, headers, exact Content-Types, negotiation with
Prometheus' exact Accept headers, gzip, HEAD, 404/405, name[] filters."""
import gzip
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OM1 = "application/openmetrics-text; version=1.0.0; charset=utf-8"
OM001 = "application/openmetrics-text; version=0.0.1; charset=utf-8"
PROMETHEUS_2_42 = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                   "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
PROMETHEUS_3 = ("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
                "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
                "text/plain;version=0.0.4;q=0.2,*/*;q=0.1")
APP_ONLY = "?name[]=http_requests_total&name[]=http_request_duration_seconds"
PROCESSES, REQUESTS = 2, 50


class Routes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        tmp = harness.make_temp_dir(cls)
        cls.segment = os.path.join(tmp, "segment")
        demo = harness.start_demo(tmp, cls.segment, processes=PROCESSES, requests=REQUESTS, rate=0, testcase=cls)
        assert demo.wait(60) == 0, demo.log()
        cls.worker = harness.start_worker(tmp, cls.segment, testcase=cls)
        cls.nginx = harness.start_nginx(tmp, cls.worker.socket, testcase=cls)

    def get(self, path, headers=None, method="GET"):
        r = harness.http_request(self.nginx.url(path), method, headers)
        self.assertEqual(r.header("Cache-Control"), "no-store", f"{method} {path}: {r}")
        return r

    def test_metrics_default_is_text_0_0_4(self):
        r = self.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), TEXT)
        self.assertEqual(r.header("Vary"), "Accept, Accept-Encoding")
        self.assertIsNone(r.header("Content-Encoding"))
        body = r.body.decode()
        self.assertIn("# TYPE http_requests_total counter\n", body)
        for name in ("fastprom_scrape_duration_seconds_bucket", "fastprom_scrapes_total", "fastprom_scrapes_in_flight",
                     "fastprom_segment_up 1", "fastprom_segment_size_bytes", "fastprom_segment_used_bytes",
                     "fastprom_series{", "fastprom_families{", 'fastprom_writer_slots{state="live"}',
                     "fastprom_writer_processes", "fastprom_dropped_series_total", "fastprom_dropped_updates_total",
                     "fastprom_fallback_updates_total",
                     "fastprom_last_write_age_seconds", "fastprom_health_status", "fastprom_build_info{version=",
                     "process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                     "process_open_fds", "process_max_fds", "process_start_time_seconds"):
            self.assertIn(name, body)
        self.assertNotIn("# EOF", body)

    def test_prometheus_2_42_gets_openmetrics_1_0_0(self):
        r = self.get("/metrics", {"Accept": PROMETHEUS_2_42})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), OM1)
        self.assertTrue(r.body.endswith(b"\n# EOF\n"))
        self.assertEqual(r.body.count(b"# EOF"), 1)

    def test_prometheus_3_gets_openmetrics_1_0_0(self):
        r = self.get("/metrics", {"Accept": PROMETHEUS_3, "Accept-Encoding": "gzip"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), OM1)
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertTrue(gzip.decompress(r.body).endswith(b"# EOF\n"))

    def test_openmetrics_0_0_1_is_answered_as_0_0_1(self):
        r = self.get("/metrics", {"Accept": "application/openmetrics-text; version=0.0.1"})
        self.assertEqual(r.header("Content-Type"), OM001)
        self.assertTrue(r.body.endswith(b"# EOF\n"))

    def test_browser_accept_gets_text(self):
        r = self.get("/metrics", {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
        self.assertEqual(r.header("Content-Type"), TEXT)

    def test_q_zero_is_not_acceptable(self):
        # RFC 9110: q=0 refuses. Refusing every format or coding offered is
        # a 406 naming what is offered; refusing identity alone gets gzip.
        for headers, says in (({"Accept": "text/plain;q=0"}, b"Accept refuses"),
                              ({"Accept-Encoding": "identity;q=0"}, b"Accept-Encoding refuses")):
            r = self.get("/metrics", headers)
            self.assertEqual(r.status, 406, r)
            self.assertEqual(r.header("Vary"), "Accept, Accept-Encoding")
            self.assertIn(says, r.body)
        r = self.get("/metrics" + APP_ONLY, {"Accept-Encoding": "identity;q=0, gzip;q=1.5"})
        self.assertEqual((r.status, r.header("Content-Encoding")), (200, "gzip"))
        r = self.get("/metrics", {"Accept": "text/plain;q=0, */*"})
        self.assertEqual((r.status, r.header("Content-Type")), (200, OM1))

    def test_gzip_body_decompresses_to_the_identity_body(self):
        for accept in (None, PROMETHEUS_2_42):
            headers = {"Accept": accept} if accept else {}
            plain = self.get("/metrics" + APP_ONLY, headers)
            zipped = self.get("/metrics" + APP_ONLY, dict(headers, **{"Accept-Encoding": "gzip"}))
            self.assertIsNone(plain.header("Content-Encoding"))
            self.assertEqual(zipped.header("Content-Encoding"), "gzip")
            self.assertLess(len(zipped.body), len(plain.body))
            self.assertEqual(gzip.decompress(zipped.body), plain.body)
            self.assertEqual(zipped.header("Content-Type"), plain.header("Content-Type"))

    def test_head_sends_the_headers_only(self):
        get = self.get("/metrics" + APP_ONLY)
        head = self.get("/metrics" + APP_ONLY, method="HEAD")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")
        self.assertEqual(head.header("Content-Type"), TEXT)
        self.assertEqual(int(head.header("Content-Length")), len(get.body))
        head = self.get("/api/v1/health/prometheus", method="HEAD")
        self.assertEqual((head.status, head.body), (200, b""))

    def test_other_methods_are_405_with_allow(self):
        for path in ("/metrics", "/api/v1/metrics", "/api/v1/health/prometheus", "/api/v1/health/live"):
            for method in ("POST", "PUT", "DELETE", "OPTIONS"):
                r = self.get(path, method=method)
                self.assertEqual(r.status, 405, f"{method} {path}")
                self.assertEqual(r.header("Allow"), "GET, HEAD")

    def test_unknown_paths(self):
        # nginx gives the worker only its own paths; the app keeps the rest.
        r = harness.http_get(self.nginx.url("/metrics/extra"))
        self.assertEqual(r.body, b"the application's 404\n")
        # The worker's own 404, for a path routed to it that is not a route.
        status, headers, body = harness.fastcgi_request(self.worker.socket,
                                                        {"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/nope"})
        self.assertEqual(status, 404)
        self.assertEqual(headers["cache-control"], "no-store")
        self.assertIn(b"/api/v1/health/prometheus", body)

    def test_name_filter(self):
        r = self.get("/metrics?name[]=http_requests_total")
        names = {name for name, _, _ in harness.samples(r.body)}
        self.assertEqual(names, {"http_requests_total"})
        r = self.get("/metrics?name%5B%5D=fastprom_segment_up&name[]=process_open_fds")
        self.assertEqual({n for n, _, _ in harness.samples(r.body)}, {"fastprom_segment_up", "process_open_fds"})
        r = self.get("/metrics?name[]=http_request_duration_seconds_count")  # a sample name selects its family
        self.assertIn("http_request_duration_seconds_bucket", {n for n, _, _ in harness.samples(r.body)})
        r = self.get("/metrics?name[]=no_such_metric")
        self.assertEqual((r.status, r.body), (200, b""))

    def test_malformed_name_filter_is_400_with_one_line(self):
        for query in ("name[]=%zz", "name[]=a-b", "name[]=", "name[]=%"):
            r = self.get("/metrics?" + query)
            self.assertEqual(r.status, 400, query)
            self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
            self.assertEqual(r.body.count(b"\n"), 1)

    def test_json_view(self):
        r = self.get("/api/v1/metrics")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "application/json")
        doc = json.loads(r.body)
        self.assertIn("http_requests", json.dumps(doc))
        zipped = self.get("/api/v1/metrics", {"Accept-Encoding": "gzip"})
        self.assertEqual(json.loads(gzip.decompress(zipped.body)), doc)

    def test_health(self):
        r = self.get("/api/v1/health/prometheus")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "application/health+json")
        doc = json.loads(r.body)
        # The demo has exited: no live writer, so "warn" (still HTTP 200).
        self.assertEqual(doc["status"], "warn")
        self.assertEqual(doc["checks"]["writers:processes"][0]["status"], "warn")
        self.assertEqual(doc["checks"]["segment:attached"][0]["status"], "pass")
        self.assertIs(doc["prometheus_enabled"], True)
        self.assertEqual(doc["registered_metrics"]["counters"], 2)
        self.assertEqual(doc["registered_metrics"]["histograms"], 1)
        self.assertEqual(doc["registered_metrics"]["gauges"], 1)
        self.assertGreater(doc["uptime"], 0)

    def test_liveness(self):
        r = self.get("/api/v1/health/live")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "application/health+json")
        self.assertEqual(json.loads(r.body)["status"], "pass")

    def test_scrapes_are_counted_by_format_and_code(self):
        self.get("/metrics", {"Accept": PROMETHEUS_2_42})
        self.get("/metrics?name[]=%zz")
        body = self.get("/metrics?name[]=fastprom_scrapes_total").body.decode()
        counted = {(labels["format"], labels["code"]) for _, labels, _ in harness.samples(body)}
        self.assertIn(("openmetrics", "200"), counted)
        self.assertIn(("text", "400"), counted)


if __name__ == "__main__":
    unittest.main(verbosity=2)
