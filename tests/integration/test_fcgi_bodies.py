#!/usr/bin/python3
"""test_fcgi_bodies.py - what /metrics says, checked by the tools that read
it: `promtool check metrics` on the text body, prometheus_client's strict
OpenMetrics parser on the OpenMetrics body, and the values equal to what the
writer processes recorded (every request counted once across processes)."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

OPENMETRICS = "application/openmetrics-text;version=1.0.0"
PROCESSES, REQUESTS = 3, 200
TOTAL = PROCESSES * REQUESTS


def total(samples, name, **labels):
    return sum(v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in labels.items()))


class Bodies(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        tmp = harness.make_temp_dir(cls)
        segment = os.path.join(tmp, "segment")
        demo = harness.start_demo(tmp, segment, processes=PROCESSES, requests=REQUESTS, rate=0, testcase=cls)
        assert demo.wait(60) == 0, demo.log()
        cls.worker = harness.start_worker(tmp, segment, args=["--namespace", "voice_agent"], testcase=cls)
        cls.nginx = harness.start_nginx(tmp, cls.worker.socket, testcase=cls)

    def body(self, accept=None, path="/metrics"):
        r = harness.http_get(self.nginx.url(path), {"Accept": accept} if accept else {})
        self.assertEqual(r.status, 200, r)
        return r.body

    def test_promtool_finds_the_text_body_clean(self):
        body = self.body()
        check = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertEqual(check.stdout + check.stderr, b"")

    def test_the_strict_openmetrics_parser_accepts_the_body(self):
        samples = harness.samples(self.body(OPENMETRICS), openmetrics=True)
        self.assertGreater(len(samples), 50)

    def test_values_equal_what_the_writers_recorded(self):
        for openmetrics in (False, True):
            with self.subTest(openmetrics=openmetrics):
                samples = harness.samples(self.body(OPENMETRICS if openmetrics else None), openmetrics)
                self.assertEqual(total(samples, "voice_agent_http_requests_total"), TOTAL)
                self.assertEqual(total(samples, "voice_agent_http_request_duration_seconds_count"), TOTAL)
                self.assertEqual(total(samples, "voice_agent_http_request_duration_seconds_bucket", le="+Inf"), TOTAL)
                self.assertEqual(total(samples, "voice_agent_http_requests_in_progress"), 0)
                errors = total(samples, "voice_agent_http_requests_total", status="500")
                self.assertEqual(total(samples, "voice_agent_http_request_exceptions_total"), errors)

    def test_the_namespace_prefixes_only_the_application(self):
        names = {n for n, _, _ in harness.samples(self.body())}
        app = {n for n in names if not n.startswith(("fastprom_", "process_"))}
        self.assertTrue(app)
        self.assertTrue(all(n.startswith("voice_agent_") for n in app), app)
        self.assertIn("fastprom_segment_up", names)
        self.assertIn("process_cpu_seconds_total", names)

    def test_self_metrics_describe_the_segment(self):
        samples = harness.samples(self.body())
        self.assertEqual(total(samples, "fastprom_segment_up"), 1)
        self.assertEqual(total(samples, "fastprom_families", type="counter"), 2)
        self.assertEqual(total(samples, "fastprom_families", type="histogram"), 1)
        self.assertGreater(total(samples, "fastprom_series", type="counter"), 0)
        self.assertEqual(total(samples, "fastprom_writer_processes"), 0)  # the demo has exited
        self.assertEqual(total(samples, "fastprom_dropped_series_total"), 0)
        self.assertGreater(total(samples, "process_resident_memory_bytes"), 0)
        self.assertGreater(total(samples, "process_max_fds"), 0)
        self.assertGreater(total(samples, "process_start_time_seconds"), 1.6e9)

    def test_json_values_equal_the_exposition(self):
        doc = json.loads(self.body(path="/api/v1/metrics"))
        families = {fam["name"]: fam for fam in doc["families"]}
        requests = families["voice_agent_http_requests"]  # counters are named without _total
        self.assertEqual(requests["type"], "counter")
        self.assertEqual(sum(s["value"] for s in requests["series"]), TOTAL)
        durations = families["voice_agent_http_request_duration_seconds"]
        self.assertEqual(sum(s["count"] for s in durations["series"]), TOTAL)
        self.assertNotIn("fastprom_segment_up", families)  # the application's families only


class ApplicationFamiliesNamedLikeTheWorkers(unittest.TestCase):
    """An application without a namespace that records its own
    process_cpu_seconds_total (prometheus_client apps do) must not make
    /metrics carry that family twice: Prometheus would reject the scrape."""

    @classmethod
    def setUpClass(cls):
        tmp = harness.make_temp_dir(cls)
        cls.segment = os.path.join(tmp, "segment")
        cli = os.path.join(harness.BUILD, "fastprom")
        for args in (["inc", "--help-text", "CPU.", "process_cpu_seconds_total", "5"],
                     ["inc", "--help-text", "Jobs.", "app_jobs_total", "2"]):
            subprocess.run([cli, "--path", cls.segment] + args, check=True, timeout=30)
        cls.worker = harness.start_worker(tmp, cls.segment, testcase=cls)
        cls.nginx = harness.start_nginx(tmp, cls.worker.socket, testcase=cls)

    def test_each_family_appears_once_and_the_workers_wins(self):
        for accept in (None, OPENMETRICS):
            with self.subTest(accept=accept):
                r = harness.http_get(self.nginx.url("/metrics"), {"Accept": accept} if accept else {})
                self.assertEqual(r.status, 200, r)
                text = r.body.decode()
                self.assertEqual(text.count("# TYPE process_cpu_seconds_total counter")
                                 + text.count("# TYPE process_cpu_seconds counter"), 1, text)
                samples = harness.samples(r.body, openmetrics=bool(accept))
                self.assertEqual(total(samples, "app_jobs_total"), 2)
                self.assertNotEqual(total(samples, "process_cpu_seconds_total"), 5)
        check = subprocess.run(["promtool", "check", "metrics"], input=harness.http_get(self.nginx.url("/metrics")).body,
                               capture_output=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_the_json_view_still_shows_the_applications_family(self):
        r = harness.http_get(self.nginx.url("/api/v1/metrics"))
        names = [f["name"] for f in json.loads(r.body)["families"]]
        self.assertIn("process_cpu_seconds", names)


if __name__ == "__main__":
    unittest.main(verbosity=2)
