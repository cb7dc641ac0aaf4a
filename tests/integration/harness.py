#!/usr/bin/python3
"""harness.py - shared support for fastprom's integration tests.

Real servers only: nginx, Prometheus, the FastCGI worker, the demo writer, your
own app servers. Starting and stopping them is deploy/stack/servers.py's job
(`make run` uses it too); this module re-exports it and adds what only tests
need: temporary directories removed at cleanup, raw FastCGI requests, parsing
an exposition. Everything listens on 127.0.0.1 ports picked free at run time,
lives in a temporary directory, and is stopped by PID: by the returned
object's stop(), by a unittest cleanup when a `testcase` is passed, and as a
last resort at interpreter exit. Every wait is bounded.

Stable API (other test files import it; keep it small): everything
deploy/stack/servers.py documents (ROOT, BUILD, WORKER, DEMO, free_port,
wait_until, start_process, start_worker, start_demo, start_nginx,
start_prometheus, http_request, http_get, http_head), and

    make_temp_dir(testcase=None)         -> str (removed at cleanup)
    fastcgi_request(socket, params)      -> (status, headers, body) straight to a FastCGI socket
    fastcgi_request_bytes(params)        -> the bytes of such a request, for raw clients
    samples(body, openmetrics=False)     -> [(name, labels, value)] via prometheus_client's parsers

Example:

    import harness
    class T(unittest.TestCase):
        def test_it(self):
            tmp = harness.make_temp_dir(self)
            seg = os.path.join(tmp, "segment")
            harness.start_demo(tmp, seg, processes=2, requests=10, testcase=self).wait(30)
            worker = harness.start_worker(tmp, seg, testcase=self)
            nginx = harness.start_nginx(tmp, worker.socket, testcase=self)
            r = harness.http_get(nginx.url("/metrics"))
            self.assertEqual(r.status, 200)
"""
import os
import shutil
import socket
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "deploy", "stack"))
from servers import (  # noqa: E402,F401 - the stable API above
    BUILD, DEMO, NGINX_EXAMPLE_SITE, NGINX_SNIPPET, ROOT, SNIPPET_SOCKET, WORKER, Nginx, Process, Prometheus,
    Response, Worker, _can_connect_unix, _cleanup, free_port, http_get, http_head, http_request, snippet_for,
    start_demo, start_nginx, start_process, start_prometheus, start_worker, wait_until)


def make_temp_dir(testcase=None, prefix="fastprom-"):
    """Creates a temporary directory; removed by testcase's cleanup if given
    (a TestCase instance, or the class from setUpClass).

    Short on purpose: unix socket paths inside it must stay under 108 bytes.
    """
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(path, 0o755)  # nginx's workers may run as another user
    _cleanup(testcase, shutil.rmtree, path, True)
    return path


# ---- FastCGI, for talking to the worker without nginx --------------------

FCGI_BEGIN_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR, FCGI_END_REQUEST = 1, 4, 5, 6, 7, 3


def fastcgi_record(rtype, content, request_id=1):
    """One FastCGI record (version 1) with padding to 8 bytes."""
    padding = (-len(content)) % 8
    return struct.pack(">BBHHBx", 1, rtype, request_id, len(content), padding) + content + b"\0" * padding


def fastcgi_params(params):
    """The FCGI_PARAMS content encoding a dict of str -> str."""
    out = b""
    for key, value in params.items():
        k, v = key.encode(), value.encode()
        for length in (len(k), len(v)):
            out += struct.pack(">B", length) if length < 128 else struct.pack(">I", length | 0x80000000)
        out += k + v
    return out


def fastcgi_request_bytes(params, role=1):
    """One whole request as nginx sends it: BEGIN_REQUEST, the PARAMS records
    and the empty one ending them, the empty FCGI_STDIN."""
    payload = fastcgi_record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", role, 0))
    encoded = fastcgi_params(params)
    for i in range(0, len(encoded), 65535):
        payload += fastcgi_record(FCGI_PARAMS, encoded[i:i + 65535])
    return payload + fastcgi_record(FCGI_PARAMS, b"") + fastcgi_record(FCGI_STDIN, b"")


def fastcgi_request(socket_path, params, role=1, timeout=10):
    """Sends one RESPONDER request straight to a FastCGI unix socket and
    returns (status, headers dict with lower-case names, body bytes)."""
    payload = fastcgi_request_bytes(params, role)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(socket_path)
        s.sendall(payload)
        chunks = []
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    out, ended, at = [], False, 0  # offsets, not slices: answers run to megabytes in 8 KB records
    while len(data) - at >= 8:
        _, rtype, _, length, padding = struct.unpack_from(">BBHHBx", data, at)
        if rtype == FCGI_STDOUT:
            out.append(data[at + 8:at + 8 + length])
        elif rtype == FCGI_END_REQUEST:
            ended = True
        at += 8 + length + padding
    stdout = b"".join(out)
    if not ended:
        raise AssertionError("no FCGI_END_REQUEST record in the answer")
    head, _, body = stdout.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode().split("\r\n"):
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    status = int(headers.get("status", "200").split()[0])
    return status, headers, body


def samples(body, openmetrics=False):
    """Parses an exposition (bytes or str) with prometheus_client's text or
    strict OpenMetrics parser; returns [(sample name, labels dict, value)].
    Raises ValueError when the parser rejects it."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    return [(s.name, dict(s.labels), s.value) for fam in text_string_to_metric_families(body) for s in fam.samples]
