#!/usr/bin/python3
"""test_fcgi_badinput.py - hostile and broken input: malformed Accept,
Accept-Encoding and query strings, huge headers through nginx, and raw
clients writing garbage FastCGI records (or nothing at all) straight to the
worker's socket. After each, the worker is alive and serves the next request.
"""
import json
import os
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import FCGI_BEGIN_REQUEST, FCGI_PARAMS, FCGI_STDIN, fastcgi_params, fastcgi_record  # noqa: E402

THREADS = 2
IO_TIMEOUT = 1.0


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        tmp = harness.make_temp_dir(cls)
        segment = os.path.join(tmp, "segment")
        demo = harness.start_demo(tmp, segment, processes=1, requests=20, rate=0, testcase=cls)
        assert demo.wait(60) == 0, demo.log()
        config = os.path.join(tmp, "fastprom.json")
        with open(config, "w") as f:
            json.dump({"threads": THREADS, "io_timeout_seconds": IO_TIMEOUT}, f)
        cls.worker = harness.start_worker(tmp, segment, args=["--config", config], testcase=cls)
        cls.nginx = harness.start_nginx(tmp, cls.worker.socket, testcase=cls)

    def assert_still_serving(self):
        self.assertTrue(self.worker.alive(), self.worker.log())
        r = harness.http_get(self.nginx.url("/metrics?name[]=http_requests_total"))
        self.assertEqual(r.status, 200)
        self.assertIn(b"http_requests_total", r.body)

    def raw(self, payload, linger=0.0):
        """Connects straight to the worker, sends payload, maybe waits, and
        returns whatever the worker answered before closing."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.worker.socket)
            if payload:
                s.sendall(payload)
            time.sleep(linger)
            s.shutdown(socket.SHUT_WR)
            data = b""
            try:
                while chunk := s.recv(65536):
                    data += chunk
            except (ConnectionResetError, socket.timeout):
                pass
            return data

    def test_malformed_accept_headers(self):
        for accept in (",,,;;;", "application/openmetrics-text;q=abc", "application/openmetrics-text;version=",
                       "*/*;q=2", "\"unterminated", "text/plain;" + ";" * 3000, "a/b," * 1500):
            r = harness.http_get(self.nginx.url("/metrics"), {"Accept": accept})
            self.assertEqual(r.status, 200, accept[:50])
            self.assertEqual(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        self.assert_still_serving()

    def test_malformed_accept_encoding(self):
        for encoding in ("gzip;q=zz", ";;", "gzip;q=2", "g\tzip", "," * 5000):
            r = harness.http_get(self.nginx.url("/metrics"), {"Accept-Encoding": encoding})
            self.assertEqual(r.status, 200)
            self.assertIsNone(r.header("Content-Encoding"), encoding[:30])
        self.assert_still_serving()

    def test_malformed_query_strings(self):
        for query in ("name[]=%", "name[]=%%%", "name[]=%G0", "&&&=&=", "name[]", "name%5B%5D=%C3%28",
                      "name[]=" + "a" * 5000, "name[]=a&" * 300, "=" * 1000):
            r = harness.http_get(self.nginx.url("/metrics?" + query))
            self.assertIn(r.status, (200, 400), query[:40])
            self.assertEqual(r.body.count(b"\n") if r.status == 400 else 1, 1)
        self.assert_still_serving()

    def test_huge_headers_through_nginx(self):
        # nginx's default limit is 32 KB of request headers; stay just below.
        headers = {f"X-Filler-{i}": "v" * 1500 for i in range(15)}  # ~22 KB of FastCGI params
        headers["Accept"] = "application/openmetrics-text;version=1.0.0," + "x/y;q=0.1," * 600
        r = harness.http_get(self.nginx.url("/metrics"), headers)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.body.endswith(b"# EOF\n"))
        self.assert_still_serving()

    def test_garbage_fastcgi_records(self):
        begin = fastcgi_record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))
        payloads = [
            os.urandom(4096),
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            b"\x01",  # a truncated header
            struct.pack(">BBHHBx", 9, 1, 1, 8, 0) + b"\0" * 8,  # unknown version
            begin + fastcgi_record(FCGI_PARAMS, b"\xff\xff\xff\xff\xff\xff\xff\xff" + b"x" * 64),  # huge lengths
            begin + fastcgi_record(FCGI_PARAMS, b"\x7f\x00" + b"k" * 40),  # a name longer than its record
            begin + fastcgi_record(FCGI_PARAMS, b"\x80\x00\x00\x10\x80\x00\x00\x10" + b"z" * 8),
            fastcgi_record(FCGI_PARAMS, fastcgi_params({"REQUEST_METHOD": "GET"})),  # params before begin
            begin + begin,  # two begins
            begin + fastcgi_record(FCGI_PARAMS, b"") + fastcgi_record(FCGI_STDIN, b"") * 3,  # no params at all
            fastcgi_record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 99, 0)),  # an unknown role
        ]
        for payload in payloads:
            answer = self.raw(payload)
            self.assertNotIn(b"Status: 200", answer)
            self.assert_still_serving()

    def test_no_params_answers_404_not_a_crash(self):
        begin = fastcgi_record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))
        answer = self.raw(begin + fastcgi_record(FCGI_PARAMS, b"") + fastcgi_record(FCGI_STDIN, b""))
        self.assertIn(b"Status: 40", answer)
        self.assert_still_serving()

    def test_other_roles_are_refused(self):
        status, _, body = harness.fastcgi_request(self.worker.socket, {"REQUEST_METHOD": "GET",
                                                                       "DOCUMENT_URI": "/metrics"}, role=2)
        self.assertEqual(status, 403)
        self.assertIn(b"RESPONDER", body)
        self.assert_still_serving()

    def test_connect_and_close_storm(self):
        for _ in range(300):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(self.worker.socket)
        self.assert_still_serving()

    def test_stalled_peers_do_not_hold_threads_forever(self):
        # More silent connections than threads, then a real request: it waits
        # at most the I/O timeout for a thread to drop a stalled peer.
        begin = fastcgi_record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))
        stalled = []
        try:
            for i in range(THREADS * 2):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.worker.socket)
                s.sendall(begin[:5] if i % 2 else begin)  # mid-record, or mid-request
                stalled.append(s)
            started = time.monotonic()
            r = harness.http_get(self.nginx.url("/api/v1/health/live"), timeout=20)
            self.assertEqual(r.status, 200)
            # Each thread drops its two stalled peers after the I/O timeout
            # and libfcgi's close drain (0.2 s); generous for slow machines.
            self.assertLess(time.monotonic() - started, 2 * (IO_TIMEOUT + 0.2) + 2)
        finally:
            for s in stalled:
                s.close()
        self.assert_still_serving()


if __name__ == "__main__":
    unittest.main(verbosity=2)
