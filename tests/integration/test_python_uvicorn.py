#!/usr/bin/python3
"""Seed 003's FastAPI app (src/python/examples/fastapi_app.py) under real
uvicorn with 3 worker processes, behind real nginx, /metrics served by
fastprom-fcgi.

test_three_workers: 10,000 requests from 8 keep-alive clients over routes
with ids in the path (404s, 405s, 500s and streamed responses among them):
/metrics through nginx shows exactly 10,000 requests, the exact count per
method, route template and status, only template labels, in-progress 0,
the business metrics of the 3 workers summed. Then:
 - a client starts a slow streamed response and goes away mid-stream: while
   it streams the in-progress gauge shows it; afterwards it is counted once,
   with status 499, and in-progress is back to 0;
 - a request is held in a worker, the worker is SIGKILLed mid-request, and
   the in-progress gauge drops back to 0 (livesum forgets the dead process)
   while every total stays exact.
"""
import collections
import json
import os
import signal
import socket
import threading
import time
import unittest

import harness
import python_support

TARGET = "held_fastapi_app:app"
HELD_APP = '''
import asyncio
import os

from examples.fastapi_app import app


@app.get("/test/hold/{name}")
async def hold(name: str):
    with open(os.path.join(os.environ["HOLD_DIR"], name + ".pid"), "w") as f:
        f.write(str(os.getpid()))
    await asyncio.sleep(60)
    return "held"
'''

SESSION = "/api/v1/sessions/{session_id}"
CHAT = "/api/v1/chat"
TOOL = "/api/v1/agents/{agent_id}/tools/{tool}"
SPEECH = "/api/v1/speech/{session_id}/stream"
HOLD = "/test/hold/{name}"
TEMPLATES = {SESSION, CHAT, TOOL, SPEECH, HOLD, "__unknown__"}


def workload(n=10_000):
    requests, expected = [], collections.Counter()
    for i in range(n):
        kind = i % 20
        if kind < 6:
            requests.append(("GET", f"/api/v1/sessions/s{i}"))
            expected[("GET", SESSION, "200")] += 1
        elif kind < 8:
            requests.append(("GET", f"/api/v1/sessions/missing{i}"))
            expected[("GET", SESSION, "404")] += 1
        elif kind < 11:
            body = json.dumps({"message": f"hello number {i}", "session_id": f"s{i}"}).encode()
            requests.append(("POST", ("/api/v1/chat", body)))
            expected[("POST", CHAT, "200")] += 1
        elif kind < 14:
            requests.append(("GET", f"/api/v1/agents/{i}/tools/search"))
            expected[("GET", TOOL, "200")] += 1
        elif kind < 17:
            requests.append(("GET", f"/api/v1/speech/s{i}/stream?chunks=3"))
            expected[("GET", SPEECH, "200")] += 1
        elif kind == 17:
            requests.append(("GET", f"/no/such/{i}"))
            expected[("GET", "__unknown__", "404")] += 1
        elif kind == 18:
            requests.append(("DELETE", f"/api/v1/sessions/s{i}"))
            expected[("DELETE", SESSION, "405")] += 1
        elif i % 100 == 19:
            requests.append(("GET", f"/api/v1/agents/{i}/tools/broken"))
            expected[("GET", TOOL, "500")] += 1
        else:
            requests.append(("GET", f"/api/v1/agents/{i}/tools/lookup"))
            expected[("GET", TOOL, "200")] += 1
    return requests, expected


def request_counts(samples):
    out = collections.Counter()
    for (name, labels), v in samples.items():
        if name == "http_requests_total":
            d = dict(labels)
            out[(d["method"], d["route"], d["status"])] += v
    return out


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


class Uvicorn(unittest.TestCase):
    def check_exact(self, stack, expected):
        # The middleware records a request after the app's last send, which
        # the client may already have: wait for the last ones, then be exact.
        python_support.wait_recorded(stack, sum(expected.values()),
                                     {"RuntimeError": expected[("GET", TOOL, "500")]})
        samples = stack.metrics()
        self.assertEqual(request_counts(samples), expected)
        self.assertEqual(python_support.total(samples, "http_requests_total"), sum(expected.values()))
        self.assertEqual(python_support.total(samples, "http_request_duration_seconds_count"), sum(expected.values()))
        self.assertEqual(python_support.total(samples, "http_request_exceptions_total", exception="RuntimeError"),
                         expected[("GET", TOOL, "500")])
        routes = {dict(labels)["route"] for (_, labels) in samples if "route" in dict(labels)}
        self.assertLessEqual(routes, TEMPLATES, "a raw path became a route label")
        self.assertEqual(python_support.total(samples, "http_requests_in_progress"), 0)
        self.assertEqual(python_support.total(samples, "llm_calls_total"), expected[("POST", CHAT, "200")])
        tools = expected[("GET", TOOL, "200")] + expected[("GET", TOOL, "500")]
        self.assertEqual(python_support.total(samples, "agent_tool_calls_total"), tools)
        return samples

    def test_three_workers(self):
        tmp = harness.make_temp_dir(self)
        with open(os.path.join(tmp, "held_fastapi_app.py"), "w") as f:
            f.write(HELD_APP)
        stack = python_support.start_stack("uvicorn", TARGET, tmp, self, args=["--workers", "3"],
                                           env={"HOLD_DIR": tmp}, extra_path=tmp)
        requests, expected = workload()
        started = time.monotonic()
        results = python_support.run_load(stack.url(""), requests, threads=8)
        print(f"\n  uvicorn --workers 3: 10,000 requests through nginx in {time.monotonic() - started:.1f}s",
              flush=True)
        self.assertEqual(len(results), 10_000)
        self.assertEqual(collections.Counter(s for _, _, s in results),
                         collections.Counter(int(k[2]) for k in expected.elements()))
        samples = self.check_exact(stack, expected)
        self.assertEqual(samples[("fastprom_writer_processes", ())], 3)

        # A client that goes away in the middle of a streamed response.
        speech_in_progress = ("http_requests_in_progress", (("method", "GET"), ("route", SPEECH)))
        with socket.create_connection(("127.0.0.1", stack.nginx.port), timeout=10) as s:
            s.sendall(b"GET /api/v1/speech/gone/stream?chunks=200&interval=0.05 HTTP/1.1\r\n"
                      b"Host: test\r\nConnection: close\r\n\r\n")
            self.assertIn(b"200 OK", s.recv(4096))
            harness.wait_until(lambda: stack.metrics()[speech_in_progress] == 1, 5, what="the stream in progress")
        expected[("GET", SPEECH, "499")] += 1
        harness.wait_until(lambda: request_counts(stack.metrics())[("GET", SPEECH, "499")] == 1, 10,
                           what="the disconnect recorded as 499")
        self.check_exact(stack, expected)

        # A worker killed in the middle of a request.
        held = {}
        client = threading.Thread(target=lambda: held.update(
            r=harness.http_get(stack.url("/test/hold/victim"), timeout=60)), daemon=True)
        client.start()
        pid = int(harness.wait_until(lambda: read(os.path.join(tmp, "victim.pid")), 10, what="the held request"))
        hold_in_progress = ("http_requests_in_progress", (("method", "GET"), ("route", HOLD)))
        self.assertEqual(stack.metrics()[hold_in_progress], 1)
        os.kill(pid, signal.SIGKILL)
        harness.wait_until(lambda: stack.metrics()[hold_in_progress] == 0, 10, what="in-progress back to 0")
        client.join(30)
        self.assertEqual(held["r"].status, 502)
        samples = self.check_exact(stack, expected)
        self.assertEqual(samples[("fastprom_writer_processes", ())], 2)


if __name__ == "__main__":
    unittest.main(verbosity=1)
