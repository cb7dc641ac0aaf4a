#!/usr/bin/python3
"""test_fcgi_badinput.py - hostile and broken input: malformed Accept,
Accept-Encoding and query strings, huge headers through nginx, and raw
clients writing garbage FastCGI records (or nothing at all) straight to the
worker's socket: the regression inputs of tests/regress/ (name-value lengths
that made libfcgi abort the worker), giant declared lengths, and requests
that never end or trickle in. After each, the worker is alive and serves the
next request.
"""
import glob
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
REGRESS = os.path.join(harness.ROOT, "tests", "regress")
GET_LIVE = {"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/api/v1/health/live"}
BEGIN = fastcgi_record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))


def declared_lengths(name_len, value_len):
    """BEGIN and a PARAMS record declaring a name and a value of these
    lengths (4-byte encodings) followed by a few bytes, not the lengths."""
    return BEGIN + fastcgi_record(FCGI_PARAMS, struct.pack(">II", name_len | 1 << 31, value_len | 1 << 31) + b"A" * 96)


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

    def dropped(self, reason):
        """fastprom_connections_dropped_total{reason=...} now."""
        status, _, body = harness.fastcgi_request(self.worker.socket, {
            "REQUEST_METHOD": "GET", "DOCUMENT_URI": "/metrics",
            "QUERY_STRING": "name[]=fastprom_connections_dropped_total"})
        self.assertEqual(status, 200)
        return sum(value for _, labels, value in harness.samples(body) if labels.get("reason") == reason)

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.worker.socket)
        return s

    @staticmethod
    def read_until_closed(s, timeout):
        """What the worker sent before it closed s; socket.timeout when it
        still holds the connection after timeout seconds."""
        s.settimeout(timeout)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
        return data

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
        for encoding in ("gzip;q=zz", ";;", "gzip;q=-2", "g\tzip", "," * 5000):
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

    def test_regression_inputs_do_not_kill_the_worker(self):
        # Each made libfcgi 2.4.2 malloc an overflowed size and abort the
        # whole worker on its own assert (fcgiapp.c:75).
        files = sorted(glob.glob(os.path.join(REGRESS, "fcgi-*.bin")))
        self.assertGreaterEqual(len(files), 2)
        for path in files:
            with open(path, "rb") as f:
                payload = f.read()
            before = self.dropped("too_large") + self.dropped("malformed")
            self.assertEqual(self.raw(payload), b"", path)
            self.assert_still_serving()
            self.assertEqual(self.dropped("too_large") + self.dropped("malformed"), before + 1, path)

    def test_oversized_lengths_are_refused_before_libfcgi_allocates(self):
        # Sums past INT_MAX (the crash; the Debian CVE-2025-23016 patch
        # catches only the first pair) and a 256 MiB value libfcgi would
        # malloc as declared. The sender keeps the connection open: the
        # refusal comes from the declared lengths, not from a timeout.
        for name_len, value_len in ((0x7FFFFFFF, 0x7FFFFFFF), (0x7FFFFFF0, 0x7FFFFFF0), (0x40000000, 0x3FFFFFFF),
                                    (4, 0x10000000)):
            before = self.dropped("too_large")
            with self.connect() as s:
                s.sendall(declared_lengths(name_len, value_len))
                self.assertEqual(self.read_until_closed(s, IO_TIMEOUT + 5), b"")
            self.assertEqual(self.dropped("too_large"), before + 1, hex(value_len))
            self.assert_still_serving()

    def test_params_that_never_end_are_dropped_at_the_io_timeout(self):
        before = self.dropped("timeout")
        with self.connect() as s:  # PARAMS without the empty record that ends them
            s.sendall(BEGIN + fastcgi_record(FCGI_PARAMS, fastcgi_params(GET_LIVE)))
            self.assertEqual(self.read_until_closed(s, IO_TIMEOUT + 5), b"")
        self.assertEqual(self.dropped("timeout"), before + 1)
        self.assert_still_serving()

    def test_a_trickling_request_is_dropped_at_the_io_timeout(self):
        # A byte every 50 ms: each read beats the socket's I/O timeout, so
        # only a deadline on the whole request frees the thread.
        before = self.dropped("timeout")
        params = fastcgi_params({f"HTTP_X_{i}": "v" * 100 for i in range(500)})[:60000]
        trickle = BEGIN + fastcgi_record(FCGI_PARAMS, params)
        started = time.monotonic()
        with self.connect() as s:
            s.settimeout(1)
            cut = False
            for i in range(len(trickle)):
                if time.monotonic() - started > IO_TIMEOUT + 5:
                    break
                try:
                    s.send(trickle[i:i + 1])
                except OSError:  # EPIPE: the worker closed it
                    cut = True
                    break
                time.sleep(0.05)
        self.assertTrue(cut, f"the worker still read a trickling request after {time.monotonic() - started:.1f} s")
        self.assertEqual(self.dropped("timeout"), before + 1)
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
