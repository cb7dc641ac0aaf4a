#!/usr/bin/python3
"""test_fcgi_health.py - the worker without a segment, and health going
pass -> fail (segment deleted, garbage at its path, corrupted in place,
another layout version) -> pass (a valid segment again), each with the right
HTTP codes on the health and /metrics routes, while the same worker process
keeps running throughout."""
import json
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# From src/layout.h: the header starts with the 8-byte magic, then the
# 32-bit little-endian layout version.
VERSION_OFFSET = 8


class Health(unittest.TestCase):
    def setUp(self):
        self.tmp = harness.make_temp_dir(self)
        self.segment = os.path.join(self.tmp, "segment")
        self.worker = harness.start_worker(self.tmp, self.segment, testcase=self)
        self.nginx = harness.start_nginx(self.tmp, self.worker.socket, testcase=self)

    def health(self):
        r = harness.http_get(self.nginx.url("/api/v1/health/prometheus"))
        self.assertEqual(r.header("Content-Type"), "application/health+json")
        self.assertEqual(r.header("Cache-Control"), "no-store")
        return r.status, json.loads(r.body)

    def wait_health(self, status, http_status, check=None, timeout=10, until=lambda doc: True):
        """Waits until health says status (and has the named check, and
        until(doc) holds); returns its document."""
        def matches():
            code, doc = self.health()
            wanted = (doc["status"], code) == (status, http_status) and (check is None or check in doc["checks"])
            return doc if wanted and until(doc) else None
        return harness.wait_until(matches, timeout, interval=0.1, what=f"health {status}/{http_status} {check}")

    def assert_metrics_unavailable(self, *words):
        r = harness.http_get(self.nginx.url("/metrics"))
        self.assertEqual(r.status, 503)
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
        self.assertEqual(r.header("Cache-Control"), "no-store")
        line = r.body.decode()
        self.assertEqual(line.count("\n"), 1, line)
        for word in words:
            self.assertIn(word, line)
        live = harness.http_get(self.nginx.url("/api/v1/health/live"))
        self.assertEqual(live.status, 200)

    def start_writers(self):
        demo = harness.start_demo(self.tmp, self.segment, processes=2, rate=50, testcase=self)
        harness.wait_until(lambda: os.path.exists(self.segment), 10, what="the demo's segment")
        return demo

    def test_without_a_segment_health_fails_and_metrics_is_503(self):
        code, doc = self.health()
        self.assertEqual((code, doc["status"]), (503, "fail"))
        self.assertIs(doc["prometheus_enabled"], False)
        check = doc["checks"]["segment:attached"][0]
        self.assertEqual((check["status"], check["observedValue"]), ("fail", False))
        self.assertIn(self.segment, check["output"])
        self.assertIn(self.segment, doc["output"])
        self.assert_metrics_unavailable(self.segment)

    def test_pass_fail_pass_transitions_without_a_restart(self):
        pid = self.worker.pid
        demo = self.start_writers()
        # Health passes from the first live writer on (min_writer_processes
        # is 1); the demo's second child may claim its slot a moment later.
        doc = self.wait_health("pass", 200, until=lambda d: d["checks"]["writers:processes"][0]["observedValue"] >= 2)
        self.assertEqual(doc["checks"]["writers:processes"][0]["observedValue"], 2)
        self.assertEqual(harness.http_get(self.nginx.url("/metrics")).status, 200)

        # Deleted: the writers keep their mapping, the worker must notice.
        os.unlink(self.segment)
        doc = self.wait_health("fail", 503)
        self.assertEqual(doc["checks"]["segment:attached"][0]["status"], "fail")
        self.assert_metrics_unavailable("fastprom segment unavailable", self.segment)
        demo.stop()

        # Garbage at the path.
        with open(self.segment, "wb") as f:
            f.write(b"\xab" * (1 << 20))
        # Health already fails (no segment): wait for the worker's next
        # attempt (one a second) to have read the garbage, not for a time.
        doc = self.wait_health("fail", 503, until=lambda d: "not a fastprom segment" in d["output"])
        self.assertIn(self.segment, doc["output"])
        self.assert_metrics_unavailable(self.segment)

        # A valid segment again: recovered without any restart.
        os.unlink(self.segment)
        demo = self.start_writers()
        self.wait_health("pass", 200)
        self.assertEqual(harness.http_get(self.nginx.url("/metrics")).status, 200)

        # Corrupted in place while mapped: the header no longer validates.
        demo.stop()
        with open(self.segment, "r+b") as f:
            f.write(b"\0" * 64)
        doc = self.wait_health("fail", 503)
        self.assert_metrics_unavailable(self.segment)

        # And back once more.
        os.unlink(self.segment)
        self.start_writers()
        self.wait_health("pass", 200)

        self.assertTrue(self.worker.alive())
        self.assertEqual(self.worker.pid, pid)
        self.assertEqual(self.worker.log().count("listening on"), 1, self.worker.log())

    def test_another_layout_version_fails_the_version_check(self):
        demo = self.start_writers()
        self.wait_health("pass", 200)
        demo.stop()
        with open(self.segment, "rb") as f:
            image = bytearray(f.read())
        (version,) = struct.unpack_from("<I", image, VERSION_OFFSET)
        struct.pack_into("<I", image, VERSION_OFFSET, version + 1)
        replacement = self.segment + ".new"
        with open(replacement, "wb") as f:
            f.write(image)
        os.rename(replacement, self.segment)  # replaced, as a newer writer would
        doc = self.wait_health("fail", 503, check="segment:layoutVersion")
        check = doc["checks"]["segment:layoutVersion"][0]
        self.assertEqual(check["status"], "fail")
        self.assertIn(str(version + 1), check["output"])
        self.assert_metrics_unavailable(str(version + 1))

    def test_stale_writes_warn(self):
        config = os.path.join(self.tmp, "fastprom.json")
        with open(config, "w") as f:
            json.dump({"health": {"stale_after_seconds": 0.5, "min_writer_processes": 0}}, f)
        worker = harness.start_worker(self.tmp, self.segment, args=["--config", config], testcase=self,
                                      name="stale-worker")
        demo = harness.start_demo(self.tmp, self.segment, processes=1, requests=5, rate=0, testcase=self)
        self.assertEqual(demo.wait(30), 0)

        def health():
            status, _, body = harness.fastcgi_request(worker.socket, {"REQUEST_METHOD": "GET",
                                                                      "DOCUMENT_URI": "/api/v1/health/prometheus"})
            return status, json.loads(body)
        status, doc = health()
        self.assertEqual((status, doc["status"]), (200, "pass"))
        doc = harness.wait_until(lambda: health()[1]["status"] == "warn" and health()[1], 10, what="warn")
        self.assertEqual(doc["checks"]["writes:age"][0]["status"], "warn")
        self.assertIn("stale_after_seconds", doc["output"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
