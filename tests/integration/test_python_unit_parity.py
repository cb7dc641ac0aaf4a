#!/usr/bin/python3
"""fastprom's Python API is a drop-in for prometheus_client's.

 - test_same_exposition: one script of operations (every metric type,
   namespaces and units, labels by position and keyword, odd label values,
   remove, clear, time() as decorator and context manager, track_inprogress,
   count_exceptions, info, enum states) runs unchanged against
   prometheus_client (one process, a fresh CollectorRegistry, no _created)
   and against fastprom (a fresh segment file). prometheus_client's parser
   reads both expositions: the same families, types, help texts, samples,
   labels and values.
 - test_value_errors: every ValueError prometheus_client raises for a bad
   name, label, bucket list, mode, state, label count or increment is a
   ValueError in fastprom too.
 - test_amount_types: what prometheus_client cannot add to its float
   value (a str, bytes, Decimal, None) is a TypeError in fastprom too,
   and what it can (a Fraction, a bool) counts the same.
 - test_every_name_is_there_or_explained: each name of prometheus_client's
   and prometheus_client.core's __all__ exists in fastprom / fastprom.core,
   or importing it raises an ImportError saying why not.
 - ServingAndShipping: make_wsgi_app / make_asgi_app / MetricsHandler /
   start_http_server negotiate like prometheus_client's (OpenMetrics, gzip,
   disable_compression, name[]); write_to_textfile replaces the file
   atomically; push_to_gateway & co. against a real Pushgateway.
 - the fastprom-only behaviour: exemplars, summary quantiles, registries,
   limits, get_sample_value, library lookup.
"""
import asyncio
import atexit
import gzip
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import warnings
from decimal import Decimal
from fractions import Fraction

os.environ["PROMETHEUS_DISABLE_CREATED_SERIES"] = "True"  # before prometheus_client is imported

import harness  # noqa: E402
import python_support  # noqa: E402

TMP = tempfile.mkdtemp(prefix="fastprom-py-")
atexit.register(shutil.rmtree, TMP, True)
os.environ["FASTPROM_PATH"] = os.path.join(TMP, "segment")
fastprom = python_support.import_fastprom()
import fastprom.context_managers  # noqa: E402
import prometheus_client  # noqa: E402
import prometheus_client.context_managers  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402


class FakeClock:
    """Each call returns 0.25 s more than the last: time() durations are exact."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        self.now += 0.25
        return self.now


def script(m, reg):
    """prometheus_client-style code; m is the module, reg the registry."""
    c = m.Counter("requests_total", "Requests handled.", ["method", "code"], registry=reg)
    c.labels("get", 200).inc()
    c.labels(method="post", code="500").inc(3.5)
    c.labels("get", "200").inc(2)  # str() of 200: the same child
    c.labels('we"ird\\val\nue', "ünïcode ✓").inc()
    c.labels("delete", 404).inc()
    c.remove("delete", 404)

    jobs = m.Counter("jobs", "Jobs done.", namespace="app", subsystem="worker", registry=reg)
    jobs.inc()
    jobs.inc(0)
    sent = m.Counter("sent_total", "Bytes sent.", unit="bytes", registry=reg)
    sent.inc(1024)
    m.Counter("odd_total_total", "Named twice.", registry=reg).inc()

    errors = m.Counter("errors", "Errors by kind.", ["kind"], registry=reg)
    with errors.labels("value").count_exceptions(ValueError):
        pass
    for exc in (ValueError, KeyError):
        try:
            with errors.labels("value").count_exceptions(ValueError):
                raise exc("x")
        except exc:
            pass

    @errors.labels("any").count_exceptions()
    def failing():
        raise RuntimeError("boom")
    for _ in range(3):
        try:
            failing()
        except RuntimeError:
            pass

    temp = m.Gauge("temperature", "Temperature.\nSecond line with \\ backslash.", ["room"], unit="celsius",
                   registry=reg)
    temp.labels("a").set(21.5)
    temp.labels("a").inc(2)
    temp.labels("a").dec(0.5)
    temp.labels(room="b").set("-3")
    temp.labels("c").set(1e-9)
    temp.labels("d").set(12345678901234.0)
    temp.labels("e").set(float("inf"))
    temp.labels("f").inc()
    temp.labels("f").dec(4)

    inprogress = m.Gauge("inprogress", "In progress.", registry=reg)
    with inprogress.track_inprogress():
        pass

    @inprogress.track_inprogress()
    def work():
        return 7
    work()
    busy = m.Gauge("busy", "Held in progress.", registry=reg)
    busy.track_inprogress().__enter__()

    last = m.Gauge("last_run", "Last run.", registry=reg)
    last.set_to_current_time()
    took = m.Gauge("took_seconds", "Last duration.", registry=reg)
    with took.time():
        pass

    latency = m.Histogram("latency_seconds", "Latency.", ["route"], registry=reg)
    for v in (0, 0.005, 0.0051, 0.1, 0.3, 2.5, 10, 11, 1e6):
        latency.labels("/a").observe(v)
    with latency.labels("/b").time():
        pass

    @latency.labels("/c").time()
    def timed():
        return 1
    timed()
    timed()
    size = m.Histogram("size", "Sizes.", buckets=[100, 1000, "10000", float("inf")], unit="bytes", registry=reg)
    size.observe(50)
    size.observe(5000)
    empty_hist = m.Histogram("empty_hist", "Never observed.", ["x"], buckets=(1, 2), registry=reg)
    empty_hist.labels("y")

    payload = m.Summary("payload_bytes", "Payload.", registry=reg)
    payload.observe(10)
    payload.observe(20.5)
    rt = m.Summary("rt_seconds", "Response time.", ["op"], registry=reg)
    with rt.labels("read").time():
        pass
    rt.labels("write").observe(1)

    build = m.Info("build", "Build.", registry=reg)
    build.info({"version": "1.2.3", "commit": "abc"})
    build.info({"version": "1.2.4"})
    worker = m.Info("worker", "Worker.", ["pool"], registry=reg)
    worker.labels("a").info({"host": "h1"})
    m.Info("blank", "Never set.", registry=reg)

    state = m.Enum("state", "State.", states=["starting", "running", "stopped"], registry=reg)
    state.state("running")
    task = m.Enum("task_state", "Task.", ["task"], states=["queued", "done"], registry=reg)
    task.labels("t1").state("done")
    task.labels("t2")
    m.Enum("idle", "Default state.", states=["a", "b"], registry=reg)

    cleared = m.Counter("cleared", "Cleared then reused.", ["x"], registry=reg)
    cleared.labels("a").inc()
    cleared.clear()
    cleared.labels("b").inc(2)

    m.Counter("unused", "Labelled, no child.", ["x"], registry=reg)
    m.Gauge("zero", "Never set.", registry=reg)


def families(text):
    out = []
    for f in text_string_to_metric_families(text):
        samples = sorted((s.name, tuple(sorted(s.labels.items())), s.value) for s in f.samples)
        out.append((f.name, f.type, f.documentation, samples))
    return sorted(out)


def run_script(module, registry, generate):
    clock = FakeClock()
    saved = (prometheus_client.context_managers.default_timer, fastprom.context_managers.default_timer)
    prometheus_client.context_managers.default_timer = clock
    fastprom.context_managers.default_timer = clock
    real_time = __import__("time").time
    __import__("time").time = lambda: 1700000000.5
    try:
        script(module, registry)
    finally:
        prometheus_client.context_managers.default_timer, fastprom.context_managers.default_timer = saved
        __import__("time").time = real_time
    return generate(registry).decode("utf-8")


class Parity(unittest.TestCase):
    def test_same_exposition(self):
        theirs = run_script(prometheus_client, prometheus_client.CollectorRegistry(), prometheus_client.generate_latest)
        # A fresh segment file, as the default REGISTRY at $FASTPROM_PATH is (other tests write there).
        segment = fastprom.CollectorRegistry(path=os.path.join(TMP, "parity"))
        ours = run_script(fastprom, segment, fastprom.generate_latest)
        a, b = families(theirs), families(ours)
        self.assertEqual([f[0] for f in a], [f[0] for f in b], "family names differ")
        for fa, fb in zip(a, b):
            self.assertEqual(fa, fb, f"family {fa[0]} differs:\nprometheus_client:\n{fa}\nfastprom:\n{fb}")
        self.assertGreater(len(a), 20)

    def test_value_errors(self):
        cases = {
            "bad metric name": lambda m, r: m.Counter("bad name", "d", registry=r),
            "bad name via namespace": lambda m, r: m.Gauge("x", "d", namespace="1bad", registry=r),
            "bad label name": lambda m, r: m.Counter("x", "d", ["bad-label"], registry=r),
            "reserved label": lambda m, r: m.Counter("x", "d", ["__reserved"], registry=r),
            "le on histogram": lambda m, r: m.Histogram("x", "d", ["le"], registry=r),
            "quantile on summary": lambda m, r: m.Summary("x", "d", ["quantile"], registry=r),
            "unsorted buckets": lambda m, r: m.Histogram("x", "d", buckets=[3, 1, 2], registry=r),
            "no buckets": lambda m, r: m.Histogram("x", "d", buckets=[], registry=r),
            "only +Inf bucket": lambda m, r: m.Histogram("x", "d", buckets=[float("inf")], registry=r),
            "bad gauge mode": lambda m, r: m.Gauge("x", "d", multiprocess_mode="bogus", registry=r),
            "unit on info": lambda m, r: m.Info("x", "d", unit="seconds", registry=r),
            "unit on enum": lambda m, r: m.Enum("x", "d", unit="seconds", states=["a"], registry=r),
            "enum without states": lambda m, r: m.Enum("x", "d", registry=r),
            "enum with empty states": lambda m, r: m.Enum("x", "d", states=[], registry=r),
            "enum label = name": lambda m, r: m.Enum("x", "d", ["x"], states=["a"], registry=r),
            "negative inc": lambda m, r: m.Counter("x", "d", registry=r).inc(-1),
            "labels on unlabelled": lambda m, r: m.Counter("x", "d", registry=r).labels("a"),
            "too few labels": lambda m, r: m.Counter("x", "d", ["a", "b"], registry=r).labels("1"),
            "too many labels": lambda m, r: m.Counter("x", "d", ["a"], registry=r).labels("1", "2"),
            "wrong label names": lambda m, r: m.Counter("x", "d", ["a"], registry=r).labels(b="1"),
            "args and kwargs": lambda m, r: m.Counter("x", "d", ["a", "b"], registry=r).labels("1", b="2"),
            "chained labels": lambda m, r: m.Counter("x", "d", ["a"], registry=r).labels("1").labels("2"),
            "counter without labels": lambda m, r: m.Counter("x", "d", ["a"], registry=r).inc(),
            "gauge without labels": lambda m, r: m.Gauge("x", "d", ["a"], registry=r).set(1),
            "gauge inc without labels": lambda m, r: m.Gauge("x", "d", ["a"], registry=r).inc(),
            "gauge dec without labels": lambda m, r: m.Gauge("x", "d", ["a"], registry=r).dec(),
            "histogram without labels": lambda m, r: m.Histogram("x", "d", ["a"], registry=r).observe(1),
            "summary without labels": lambda m, r: m.Summary("x", "d", ["a"], registry=r).observe(1),
            "enum without labels": lambda m, r: m.Enum("x", "d", ["a"], states=["s"], registry=r).state("s"),
            "track_inprogress without labels": lambda m, r: m.Gauge("x", "d", ["a"], registry=r).track_inprogress(),
            "count_exceptions without labels": lambda m, r: m.Counter("x", "d", ["a"], registry=r).count_exceptions(),
            "remove on unlabelled": lambda m, r: m.Counter("x", "d", registry=r).remove("a"),
            "remove with wrong count": lambda m, r: m.Counter("x", "d", ["a", "b"], registry=r).remove("a"),
            "unknown enum state": lambda m, r: m.Enum("x", "d", states=["a"], registry=r).state("b"),
            "info overlapping labels": lambda m, r: m.Info("x", "d", ["a"], registry=r).labels("1").info({"a": "2"}),
            "duplicate registration": lambda m, r: [m.Counter("x", "d", registry=r), m.Gauge("x_total", "d", registry=r)],
            "duplicate name": lambda m, r: [m.Gauge("x", "d", registry=r), m.Gauge("x", "d", registry=r)],
            "bad exemplar label": lambda m, r: m.Counter("x", "d", registry=r).inc(1, exemplar={"bad-name": "1"}),
            "exemplar too long": lambda m, r: m.Counter("x", "d", registry=r).inc(1, exemplar={"a": "b" * 200}),
            "histogram exemplar": lambda m, r: m.Histogram("x", "d", registry=r).observe(1, exemplar={"1a": "b"}),
        }
        for what, case in cases.items():
            with self.subTest(what):
                with self.assertRaises(ValueError, msg="prometheus_client"):
                    case(prometheus_client, prometheus_client.CollectorRegistry())
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", fastprom.FastpromWarning)
                    with self.assertRaises(ValueError, msg="fastprom") as ctx:
                        case(fastprom, fastprom.CollectorRegistry())
                self.assertTrue(str(ctx.exception))

    def test_same_messages(self):
        """The messages users grep their logs for are prometheus_client's."""
        def message(m, f):
            try:
                f(m, m.CollectorRegistry())
            except ValueError as e:
                return str(e)
        for f in (lambda m, r: m.Counter("x", "d", registry=r).inc(-1),
                  lambda m, r: m.Counter("x", "d", ["a"], registry=r).labels("1", "2"),
                  lambda m, r: m.Counter("bad name", "d", registry=r),
                  lambda m, r: m.Histogram("x", "d", buckets=[2, 1], registry=r),
                  lambda m, r: m.Gauge("x", "d", ["a"], registry=r).inc()):
            self.assertEqual(message(prometheus_client, f), message(fastprom, f))

    def test_nan_increment_refused(self):
        c = fastprom.Counter("nan_inc", "d", registry=fastprom.CollectorRegistry())
        with self.assertRaises(ValueError):
            c.inc(float("nan"))

    def test_remove_missing_child_is_key_error(self):
        for m in (prometheus_client, fastprom):
            c = m.Counter("x", "d", ["a"], registry=m.CollectorRegistry())
            with self.assertRaises(KeyError):
                c.remove("never")


    def test_amount_types(self):
        updates = {
            "counter inc": (lambda m, r: m.Counter("x", "d", registry=r), "inc", "x_total"),
            "gauge inc": (lambda m, r: m.Gauge("x", "d", registry=r), "inc", "x"),
            "gauge dec": (lambda m, r: m.Gauge("x", "d", registry=r), "dec", "x"),
            "gauge set": (lambda m, r: m.Gauge("x", "d", registry=r), "set", "x"),
            "histogram observe": (lambda m, r: m.Histogram("x", "d", registry=r), "observe", "x_sum"),
            "summary observe": (lambda m, r: m.Summary("x", "d", registry=r), "observe", "x_sum"),
        }
        for what, (make, method, sample) in updates.items():
            for amount in ("2", b"2", "abc", None, Fraction(1, 2), Decimal("2.5"), True, 3, 2.5):
                with self.subTest(what, amount=amount):
                    outcomes = []
                    for m in (prometheus_client, fastprom):
                        r = m.CollectorRegistry()
                        try:
                            getattr(make(m, r), method)(amount)
                            outcomes.append(r.get_sample_value(sample))
                        except (TypeError, ValueError) as e:
                            outcomes.append(type(e).__name__)
                        finally:
                            if m is fastprom:
                                r.close()  # a process may hold only so many segments
                    self.assertEqual(outcomes[0], outcomes[1], "prometheus_client, fastprom")

    def test_every_name_is_there_or_explained(self):
        import fastprom.core
        import prometheus_client.core
        explained = set()
        for theirs, ours in ((prometheus_client, fastprom), (prometheus_client.core, fastprom.core)):
            for name in theirs.__all__:
                with self.subTest(f"{ours.__name__}.{name}"):
                    try:
                        exec(f"from {ours.__name__} import {name}", {})
                    except ImportError as e:
                        self.assertIn(f"fastprom: {name} is not available", str(e))
                        self.assertIn("fastprom-fcgi", str(e))
                        explained.add(name)
        self.assertEqual(explained, {"ProcessCollector", "PlatformCollector", "GCCollector"})
        # The collector classes are prometheus_client's own.
        self.assertIs(fastprom.core.GaugeMetricFamily, prometheus_client.core.GaugeMetricFamily)
        self.assertIs(fastprom.Metric, prometheus_client.Metric)
        self.assertIs(fastprom.core.Counter, fastprom.Counter)
        self.assertIs(fastprom.core.REGISTRY, fastprom.REGISTRY)
        self.assertFalse(hasattr(fastprom, "no_such_name"))


def wsgi_get(app, path="/metrics", query="", **headers):
    """(status, headers dict, body) of one call of a WSGI app."""
    got = {}
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query}
    environ.update(("HTTP_" + k.upper(), v) for k, v in headers.items())
    body = b"".join(app(environ, lambda status, hdrs: got.update(status=status, headers=dict(hdrs))))
    return got["status"], got["headers"], body


class ServingAndShipping(unittest.TestCase):
    def setUp(self):
        self.r = fastprom.CollectorRegistry()
        self.addCleanup(self.r.close)
        fastprom.Gauge("served", "d", registry=self.r).set(4)
        fastprom.Counter("other", "d", registry=self.r).inc()

    def test_make_wsgi_app(self):
        app = fastprom.make_wsgi_app(self.r)
        status, headers, body = wsgi_get(app, accept="application/openmetrics-text; version=1.0.0")
        self.assertEqual(status, "200 OK")
        self.assertTrue(headers["Content-Type"].startswith("application/openmetrics-text"))
        self.assertIn(b"served 4", body)
        # As prometheus_client's choose_encoder: the media type must be listed, not merely contained.
        self.assertEqual(wsgi_get(app, accept="application/openmetrics-textual")[1]["Content-Type"],
                         fastprom.CONTENT_TYPE_LATEST)
        _, headers, body = wsgi_get(app, accept_encoding="br;q=1, GZIP;q=0.5")
        self.assertEqual(headers["Content-Encoding"], "gzip")
        self.assertEqual(gzip.decompress(body), fastprom.generate_latest(self.r))
        self.assertEqual(headers["Content-Length"], str(len(body)))
        _, headers, body = wsgi_get(fastprom.make_wsgi_app(self.r, disable_compression=True), accept_encoding="gzip")
        self.assertNotIn("Content-Encoding", headers)
        self.assertEqual(body, fastprom.generate_latest(self.r))
        _, _, body = wsgi_get(app, query="name[]=served")
        self.assertIn(b"served 4", body)
        self.assertNotIn(b"other", body)
        self.assertEqual(wsgi_get(app, path="/favicon.ico")[2], b"")

    def test_make_asgi_app(self):
        def get(app, *headers):
            sent = []

            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message):
                sent.append(message)
            asyncio.run(app({"type": "http", "method": "GET", "path": "/metrics", "query_string": b"name[]=served",
                             "headers": list(headers)}, receive, send))
            return dict(sent[0]["headers"]), sent[1]["body"]

        headers, body = get(fastprom.make_asgi_app(self.r), (b"accept", b"application/openmetrics-text"),
                            (b"accept-encoding", b"gzip"))
        self.assertEqual(headers[b"content-encoding"], b"gzip")
        self.assertTrue(headers[b"content-type"].startswith(b"application/openmetrics-text"))
        self.assertEqual(gzip.decompress(body), fastprom.render("openmetrics", self.r, names=["served"]))
        headers, body = get(fastprom.make_asgi_app(registry=self.r, disable_compression=True),
                            (b"accept-encoding", b"gzip"))
        self.assertNotIn(b"content-encoding", headers)
        self.assertIn(b"served 4", body)

    def test_start_http_server(self):
        port = harness.free_port()
        self.assertIsNone(fastprom.start_http_server(port, addr="127.0.0.1", registry=self.r))
        self.assertIs(fastprom.start_wsgi_server, fastprom.start_http_server)
        thread = [t for t in threading.enumerate() if t.name == f"fastprom-metrics-http-{port}"]
        self.assertTrue(thread and thread[0].daemon, "no daemon thread serves the metrics")
        url = f"http://127.0.0.1:{port}/metrics"
        resp = harness.http_get(url, headers={"Accept": "application/openmetrics-text", "Accept-Encoding": "gzip"})
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.header("Content-Encoding"), "gzip")
        self.assertTrue(resp.header("Content-Type").startswith("application/openmetrics-text"))
        self.assertEqual(gzip.decompress(resp.body), fastprom.render("openmetrics", self.r))
        self.assertIn(b"served 4", harness.http_get(url).body)
        with self.assertRaises(OSError) as ctx:
            fastprom.start_http_server(port, addr="127.0.0.1", registry=self.r)
        self.assertIn(f"127.0.0.1:{port}", str(ctx.exception))

    def test_metrics_handler(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), fastprom.MetricsHandler.factory(self.r))
        self.addCleanup(server.server_close)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        resp = harness.http_get(f"http://127.0.0.1:{server.server_port}/?name[]=other")
        self.assertEqual((resp.status, resp.header("Content-Type")), (200, fastprom.CONTENT_TYPE_LATEST))
        self.assertIn(b"other_total 1", resp.body)
        self.assertNotIn(b"served", resp.body)
        self.assertIs(fastprom.MetricsHandler.registry, fastprom.REGISTRY)

    def test_write_to_textfile_replaces_atomically(self):
        directory = tempfile.mkdtemp(dir=TMP)
        path = os.path.join(directory, "app.prom")
        with open(path, "w") as f:
            f.write("old\n")
        old_inode = os.stat(path).st_ino
        fastprom.write_to_textfile(path, self.r)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), fastprom.generate_latest(self.r))
        self.assertNotEqual(os.stat(path).st_ino, old_inode, "rewritten in place: a reader could see half a file")
        os.mkdir(os.path.join(directory, "taken.prom"))
        with self.assertRaises(OSError):
            fastprom.write_to_textfile(os.path.join(directory, "taken.prom"), self.r)
        self.assertEqual(sorted(os.listdir(directory)), ["app.prom", "taken.prom"], "a temporary file was left")

    def test_push_to_gateway(self):
        tmp = harness.make_temp_dir(self)
        port = harness.free_port()
        harness.start_process(["prometheus-pushgateway", f"--web.listen-address=127.0.0.1:{port}",
                               f"--persistence.file={tmp}/pushgateway.data"], tmp, "pushgateway", testcase=self)
        base = f"http://127.0.0.1:{port}"
        harness.wait_until(lambda: harness.http_get(base + "/-/ready", timeout=2).status == 200, 30,
                           what="the Pushgateway")
        group = {"instance": "worker-1", "shard": "a/b"}  # "/" goes base64-encoded
        labels = (("instance", "worker-1"), ("job", "nightly"), ("shard", "a/b"))

        fastprom.push_to_gateway(f"127.0.0.1:{port}", job="nightly", registry=self.r, grouping_key=group,
                                 timeout=10)
        got = python_support.scrape(base + "/metrics")
        self.assertEqual(got[("served", labels)], 4)
        self.assertEqual(got[("other_total", labels)], 1)

        extra = fastprom.CollectorRegistry()
        self.addCleanup(extra.close)
        fastprom.Gauge("served", "d", registry=extra).set(9)
        fastprom.pushadd_to_gateway(base, job="nightly", registry=extra, grouping_key=group, timeout=10)
        got = python_support.scrape(base + "/metrics")
        self.assertEqual((got[("served", labels)], got[("other_total", labels)]), (9, 1))

        fastprom.delete_from_gateway(base, job="nightly", grouping_key=group, timeout=10)
        got = python_support.scrape(base + "/metrics")
        self.assertNotIn(("served", labels), got)
        with self.assertRaises(OSError):
            fastprom.push_to_gateway(f"127.0.0.1:{harness.free_port()}", job="j", registry=self.r, timeout=5)


class FastpromOnly(unittest.TestCase):
    def test_private_registries_are_separate(self):
        r1, r2 = fastprom.CollectorRegistry(), fastprom.CollectorRegistry()
        fastprom.Counter("hits", "d", registry=r1).inc(3)
        fastprom.Counter("hits", "d", registry=r2).inc(5)
        self.assertEqual(r1.get_sample_value("hits_total"), 3)
        self.assertEqual(r2.get_sample_value("hits_total"), 5)
        self.assertIsNone(r1.get_sample_value("hits_total", {"x": "y"}))
        self.assertEqual(r1.path, "<private>")

    def test_registry_none_records_in_default_segment_without_name_check(self):
        a = fastprom.Counter("unregistered_hits", "d", registry=None)
        b = fastprom.Counter("unregistered_hits", "d", registry=None)  # no duplicate error
        a.inc()
        b.inc()
        self.assertEqual(fastprom.REGISTRY.get_sample_value("unregistered_hits_total"), 2)

    def test_same_name_other_definition_is_refused(self):
        shared = os.path.join(TMP, "other-def")
        fastprom.Counter("defined", "d", ["a"], registry=fastprom.CollectorRegistry(path=shared))
        # Another registry (as another process would) on the same segment, another definition.
        with self.assertRaises(fastprom.FastpromValueError) as ctx:
            fastprom.Gauge("defined", "d", registry=fastprom.CollectorRegistry(path=shared))
        self.assertIn("defined", str(ctx.exception))

    def test_multiprocess_mode_code_works_unchanged(self):
        """prometheus_client's multiprocess recipe, with the imports changed."""
        from fastprom import CollectorRegistry, Counter, generate_latest, multiprocess
        Counter("recipe_jobs", "d").inc(7)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        self.assertIn(b"recipe_jobs_total 7", generate_latest(registry))
        multiprocess.mark_process_dead(12345)

    def test_unregister_builtin_collectors(self):
        fastprom.REGISTRY.unregister(fastprom.PROCESS_COLLECTOR)
        fastprom.REGISTRY.unregister(fastprom.GC_COLLECTOR)
        with self.assertRaises(TypeError):
            fastprom.CollectorRegistry().register(object())

    def test_exemplars(self):
        r = fastprom.CollectorRegistry()
        c = fastprom.Counter("with_ex", "d", registry=r, exemplars=True)
        c.inc(2, exemplar={"trace_id": "abc123"})
        h = fastprom.Histogram("lat_ex", "d", buckets=(1, 2), registry=r, exemplars=True)
        h.observe(1.5, exemplar={"trace_id": "def"})
        om = fastprom.render("openmetrics", registry=r).decode()
        self.assertRegex(om, r'with_ex_total 2 # \{trace_id="abc123"\} 2')
        self.assertRegex(om, r'lat_ex_bucket\{le="2.0"\} 1 # \{trace_id="def"\} 1.5')
        plain = fastprom.Counter("no_ex", "d", registry=r)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plain.inc(1, exemplar={"trace_id": "x"})
            plain.inc(1, exemplar={"trace_id": "y"})
        self.assertEqual(len([w for w in caught if issubclass(w.category, fastprom.FastpromWarning)]), 1)
        self.assertEqual(r.get_sample_value("no_ex_total"), 2)

    def test_summary_quantiles(self):
        r = fastprom.CollectorRegistry()
        s = fastprom.Summary("q_seconds", "d", registry=r, quantiles=(0.5, 0.9))
        for v in range(1, 1001):
            s.observe(v / 1000)
        self.assertEqual(r.get_sample_value("q_seconds_count"), 1000)
        self.assertAlmostEqual(r.get_sample_value("q_seconds", {"quantile": "0.5"}), 0.5, delta=0.02)
        self.assertAlmostEqual(r.get_sample_value("q_seconds", {"quantile": "0.9"}), 0.9, delta=0.03)

    def test_series_limit_warns_and_drops_new_label_values(self):
        r = fastprom.CollectorRegistry(family_limit=3)
        c = fastprom.Counter("limited", "d", ["id"], registry=r)
        for i in range(3):
            c.labels(str(i)).inc()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            c.labels("overflow").inc()  # never an exception in the app's request
        self.assertIn("limited", str(caught[0].message))
        self.assertIsNone(r.get_sample_value("limited_total", {"id": "overflow"}))
        c.labels("0").inc()  # existing children keep working
        self.assertEqual(r.get_sample_value("limited_total", {"id": "0"}), 2)
        self.assertEqual(r.stat()["dropped_series"], 1)

    def test_full_segment_keeps_counting_every_thread(self):
        # The smallest segment, nearly filled by 200 histogram series; each
        # concurrent thread needs its own cells for them, which soon do not
        # fit: those observations go to the series' shared fallback cells
        # (issue 12), so nothing is dropped and nothing warns.
        import threading
        r = fastprom.CollectorRegistry(size=256 << 10)
        h = fastprom.Histogram("filler", "d", ["i"], buckets=[float(b) for b in range(1, 65)], registry=r)
        children = [h.labels(str(i)) for i in range(200)]
        barrier = threading.Barrier(4)
        failures = []

        def observe_all():
            try:
                for child in children:
                    child.observe(1)  # must never raise
            except Exception as e:  # noqa: BLE001
                failures.append(e)
            barrier.wait(30)  # keep every thread's cells claimed at once

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            threads = [threading.Thread(target=observe_all) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        self.assertEqual(failures, [])
        st = r.stat()
        self.assertEqual(st["dropped_updates"], 0)
        self.assertGreater(st["fallback_updates"], 0)
        self.assertEqual([w for w in caught if issubclass(w.category, fastprom.FastpromWarning)], [])
        count = sum(r.get_sample_value("filler_count", {"i": str(i)}) for i in range(200))
        self.assertEqual(count, 4 * 200)

    def test_async_decorators_time_the_awaited_body(self):
        import asyncio
        import inspect
        r = fastprom.CollectorRegistry()
        h = fastprom.Histogram("async_seconds", "d", buckets=(0.01, 10), registry=r)
        g = fastprom.Gauge("async_inprogress", "d", registry=r)
        seen = []

        @h.time()
        @g.track_inprogress()
        async def handler(x):
            await asyncio.sleep(0.05)
            seen.append(r.get_sample_value("async_inprogress"))
            return x * 2

        self.assertTrue(inspect.iscoroutinefunction(handler))
        self.assertEqual(list(inspect.signature(handler).parameters), ["x"])
        self.assertEqual(asyncio.run(handler(21)), 42)
        self.assertEqual(seen, [1])
        self.assertEqual(r.get_sample_value("async_seconds_bucket", {"le": "0.01"}), 0)
        self.assertEqual(r.get_sample_value("async_seconds_count"), 1)
        self.assertEqual(r.get_sample_value("async_inprogress"), 0)

    def test_formats(self):
        r = fastprom.CollectorRegistry()
        fastprom.Counter("fmt_hits", "d", registry=r).inc()
        import json
        doc = json.loads(fastprom.render("json", registry=r))
        self.assertEqual(doc["families"][0]["name"], "fmt_hits")
        self.assertTrue(fastprom.render("openmetrics", registry=r).endswith(b"# EOF\n"))
        self.assertIn(b"app_fmt_hits_total 1", fastprom.render("text", registry=r, prefix="app_"))
        self.assertEqual(fastprom.CONTENT_TYPE_LATEST, prometheus_client.CONTENT_TYPE_LATEST)
        with self.assertRaises(ValueError):
            fastprom.render("xml", registry=r)


class ExtensionLookup(unittest.TestCase):
    def run_python(self, code, env):
        full = {"PATH": os.environ["PATH"], **env}
        return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=60)

    def test_missing_extension_is_a_clear_import_error(self):
        p = self.run_python("import fastprom", {"PYTHONPATH": python_support.PYTHON_SRC,
                                                "FASTPROM_BUILD": "/nonexistent/build"})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ImportError", p.stderr)
        self.assertIn("/nonexistent/build/python/fastprom", p.stderr)
        self.assertIn("python3-dev", p.stderr)

    def test_found_in_build_dir_without_env(self):
        p = self.run_python("import fastprom._native as n; print(n.__file__)", {"PYTHONPATH": python_support.PYTHON_SRC})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(os.path.dirname(os.path.realpath(p.stdout.strip())),
                         os.path.realpath(os.path.join(python_support.ROOT, "build", "python", "fastprom")))

    def test_one_binding_with_libfastprom_inside(self):
        """The extension carries the library (nothing else loads
        libfastprom.so) and exports nothing but its init function."""
        p = self.run_python("import fastprom\n"
                            "print(sorted({l.split()[-1] for l in open('/proc/self/maps') if 'fastprom' in l}))",
                            {"PYTHONPATH": python_support.PYTHON_SRC})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("libfastprom.so", p.stdout)
        self.assertIn("_native", p.stdout)
        import glob
        ext = glob.glob(os.path.join(python_support.ROOT, "build", "python", "fastprom", "_native*.so"))[0]
        out = subprocess.run(["nm", "-D", "--defined-only", ext], capture_output=True, text=True, check=True).stdout
        self.assertEqual([line.split()[-1] for line in out.splitlines()], ["PyInit__native"])


if __name__ == "__main__":
    unittest.main(verbosity=1)
