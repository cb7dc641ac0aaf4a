#!/usr/bin/python3
"""test_nginxlog_nginx.py - real nginx logging to fastprom-nginxlog through
the shipped snippet, read back through the worker's /metrics:

  - N requests of known routes, methods and statuses give exactly N in
    nginx_http_requests_total by label: templates from $fastprom_route and
    from the configuration's rules, "unmatched", methods outside the
    standard set as "other";
  - an upstream retried after a refused connection (list values, one
    observation per attempt), one that refuses (502) and one that never
    answers (504);
  - HTTP/1.0 and keep-alive connections; a long URI and a non-UTF-8 URI;
  - foreign and broken datagrams on the socket are counted as malformed and
    nothing else changes;
  - nginx's own count (stub_status) against the exported count.
"""
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import nginxlog_support as ns  # noqa: E402

SITE = """
upstream retried {{ server 127.0.0.1:{dead}; server 127.0.0.1:{backend}; }}
upstream refused {{ server 127.0.0.1:{dead}; }}
upstream silent {{ server 127.0.0.1:{silent}; }}
server {{
    listen 127.0.0.1:{port};
    server_name shop.test;
    include {snippet};
    location = /nginx_status {{ stub_status; access_log off; }}
    location = / {{ return 200 "home\\n"; }}
    location ~ ^/users/[0-9]+$ {{ set $fastprom_route "/users/{{id}}"; return 200 "user\\n"; }}
    location /items/ {{ return 204; }}
    location = /retried {{ set $fastprom_route "/retried"; proxy_pass http://retried/ok; }}
    location = /refused {{ proxy_pass http://refused/; }}
    location = /silent {{ proxy_read_timeout 1s; proxy_pass http://silent/; }}
    location / {{ return 404; }}
}}
server {{
    listen 127.0.0.1:{backend};
    access_log off;
    location / {{ return 200 "backend\\n"; }}
}}
"""

CONFIG = {"rules": [{"server": "shop.test", "match": "^/items/[0-9]+$", "route": "/items/{id}"},
                    {"server": "elsewhere.test", "match": "^/$", "route": "never"}]}


def raw_request(port, data):
    """Sends raw bytes as a request; returns the status code."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        answer = b""
        while b"\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1])


class NginxToMetrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.silent = socket.socket()  # listens, never accepts: nginx's read times out (504)
        cls.silent.bind(("127.0.0.1", 0))
        cls.silent.listen(16)
        cls.addClassCleanup(cls.silent.close)
        # Bound, never listening, held for the class: connecting is refused,
        # and no server started meanwhile can take the port.
        cls.dead = socket.socket()
        cls.dead.bind(("127.0.0.1", 0))
        cls.addClassCleanup(cls.dead.close)
        site = SITE.format(dead=cls.dead.getsockname()[1], backend=harness.free_port(),
                           silent=cls.silent.getsockname()[1],
                           port="{port}", snippet="{snippet}")
        cls.stack = ns.start_stack(cls, site, config=CONFIG)
        cls.port = cls.stack.nginx.port

    def request(self, method, path, headers=None):
        return harness.http_request(self.stack.nginx.url(path), method, headers).status

    def requests_total(self, **labels):
        return self.stack.value("nginx_http_requests_total", **labels)

    def test_exact_counts_by_route_method_and_status(self):
        s = self.stack
        before = s.value("nginxlog_datagrams_total")
        plan = [("GET", "/", 200, "unmatched", 5), ("GET", "/users/17", 200, "/users/{id}", 7),
                ("POST", "/users/18", 200, "/users/{id}", 3), ("DELETE", "/items/3", 204, "/items/{id}", 2),
                ("GET", "/items/x", 204, "unmatched", 1), ("PROPFIND", "/", 200, "unmatched", 2),
                ("GET", "/nope", 404, "unmatched", 4), ("HEAD", "/users/1", 200, "/users/{id}", 1)]
        sent = 0
        for method, path, status, _, n in plan:
            for _ in range(n):
                self.assertEqual(self.request(method, path), status)
                sent += 1
        self.assertEqual(s.wait_datagrams(before + sent), before + sent)
        for method, path, status, route, n in plan:
            label = method if method != "PROPFIND" else "other"
            with self.subTest(method=method, path=path):
                got = self.requests_total(server="shop.test", route=route, method=label, status=str(status))
                want = sum(k for m, _, st, r, k in plan
                           if (m if m != "PROPFIND" else "other") == label and st == status and r == route)
                self.assertEqual(got, want)
        count = s.value("nginx_http_request_duration_seconds_count", server="shop.test", route="/users/{id}",
                        method="GET")
        self.assertEqual(count, 7)
        sizes = s.value("nginx_http_response_size_bytes_sum", server="shop.test", route="/users/{id}", method="GET")
        self.assertGreater(sizes, 7 * len("user\n"))

    def test_upstreams_retried_refused_and_silent(self):
        s = self.stack
        before = s.value("nginxlog_datagrams_total")
        for _ in range(3):
            self.assertEqual(self.request("GET", "/retried"), 200)
        self.assertEqual(self.request("GET", "/refused"), 502)
        self.assertEqual(self.request("GET", "/silent"), 504)
        s.wait_datagrams(before + 5)
        self.assertEqual(self.requests_total(route="/retried", status="200"), 3)
        self.assertEqual(self.requests_total(route="unmatched", status="502"), 1)
        self.assertEqual(self.requests_total(route="unmatched", status="504"), 1)
        attempts = {l["upstream"]: v for n, l, v in s.metrics()
                    if n == "nginx_http_upstream_response_duration_seconds_count" and l["route"] == "/retried"}
        # Each retried request tried the dead server first, then the backend
        # (or the dead one was marked down and skipped): 3 backend attempts.
        backend = [a for a in attempts if not a.endswith(f":{self.port}")]
        self.assertEqual(sum(v for a, v in attempts.items() if a.endswith(str(self.silent.getsockname()[1]))), 0)
        self.assertGreaterEqual(sum(attempts.values()), 3, attempts)
        self.assertTrue(backend, attempts)
        silent = s.value("nginx_http_upstream_response_duration_seconds_sum", route="unmatched",
                         upstream=f"127.0.0.1:{self.silent.getsockname()[1]}")
        self.assertGreaterEqual(silent, 0.9)  # proxy_read_timeout 1s

    def test_http10_keepalive_long_and_non_utf8_uris(self):
        s = self.stack
        before = s.value("nginxlog_datagrams_total")
        malformed_before = s.value("nginxlog_malformed_total")
        ok_before = self.requests_total(route="/users/{id}", method="GET", status="200")
        self.assertEqual(raw_request(self.port, b"GET /users/5 HTTP/1.0\r\n\r\n"), 200)
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        for _ in range(4):  # one keep-alive connection, four requests
            conn.request("GET", "/users/6")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
        conn.close()
        long_path = "/users/" + "9" * 5000
        self.assertEqual(self.request("GET", long_path), 200)
        self.assertEqual(raw_request(self.port, b"GET /caf\xe9/\xff\xfe?q=\xc0 HTTP/1.1\r\nHost: x\r\n"
                                                b"Connection: close\r\n\r\n"), 404)
        s.wait_datagrams(before + 7)
        self.assertEqual(self.requests_total(route="/users/{id}", method="GET", status="200") - ok_before, 6)
        self.assertEqual(self.requests_total(route="unmatched", status="404") >= 1, True)
        self.assertEqual(s.value("nginxlog_malformed_total"), malformed_before, "real nginx lines are never malformed")

    def test_foreign_and_broken_datagrams_are_counted_not_recorded(self):
        s = self.stack
        before_total = s.value("nginx_http_requests_total")
        before = s.value("nginxlog_malformed_total")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(s.daemon.socket)
            for payload in (b"<13>Dec  6 19:48:31 sshd[12]: session opened", b"\x00\xff" * 100, b"",
                            b"<190>Dec  6 19:48:30 fastprom: fp1\tx\tGET\t2000\t0\t\t\t1\t1\t1.0\t\t/",
                            b"<190>Dec  6 19:48:30 fastprom: fp1\t" + b"\t" * 40):
                sock.send(payload)
        harness.wait_until(lambda: s.value("nginxlog_malformed_total") == before + 5, 10,
                           what="five malformed datagrams counted")
        self.assertEqual(s.value("nginx_http_requests_total"), before_total)
        self.assertTrue(s.daemon.alive())
        self.assertIn("malformed datagram (foreign_tag", s.daemon.log())

    def test_nginx_count_against_exported_count(self):
        s = self.stack
        base_exported = s.value("nginxlog_lines_recorded_total")
        base_nginx = s.stub_requests()
        for i in range(200):
            self.request("GET", f"/users/{i}")
        # stub_status counts every request, itself included; nothing else
        # reached nginx in between.
        nginx = s.stub_requests() - base_nginx - 1
        harness.wait_until(lambda: s.value("nginxlog_lines_recorded_total") - base_exported >= 200, 10,
                           what="200 lines recorded")
        exported = s.value("nginxlog_lines_recorded_total") - base_exported
        print(f"\n  nginx served {nginx} logged requests, fastprom exported {exported:.0f}", end=" ")
        self.assertEqual(nginx, 200)
        self.assertEqual(exported, 200)
        if os.geteuid() == 0:  # the daemon runs where the queue limit is 512 (nginxlog_support.queue_limit_argv)
            self.assertEqual(s.value("nginxlog_unix_max_dgram_qlen"), 512)


if __name__ == "__main__":
    unittest.main(verbosity=2)
