#!/usr/bin/python3
"""The C extension fastprom._native: the metric objects' update methods and
the labels() cache, their lifetime rules, and what they share with
prometheus_client's behaviour.

 - labels(): positional, keyword and non-str values find the same cached
   child; every malformed call raises prometheus_client's ValueError.
 - update methods: argument forms (positional, keyword), prometheus_client's
   TypeErrors for missing or extra arguments, exact totals.
 - lifetime: a metric keeps its segment alive after its registry is gone;
   registries built and dropped in a loop (one per test, as test suites do)
   never hit the per-process handle limit, and fds and memory stay bounded.
"""
import atexit
import gc
import os
import resource
import shutil
import tempfile
import threading
import unittest
import warnings

os.environ["PROMETHEUS_DISABLE_CREATED_SERIES"] = "True"

import python_support  # noqa: E402

TMP = tempfile.mkdtemp(prefix="fastprom-native-")
atexit.register(shutil.rmtree, TMP, True)
os.environ["FASTPROM_PATH"] = os.path.join(TMP, "segment")
fastprom = python_support.import_fastprom()
import prometheus_client  # noqa: E402


def fds():
    return len(os.listdir("/proc/self/fd"))


class Labels(unittest.TestCase):
    def setUp(self):
        self.r = fastprom.CollectorRegistry()
        self.c = fastprom.Counter("req", "d", ["method", "code"], registry=self.r)

    def test_every_form_finds_the_same_child(self):
        child = self.c.labels("GET", "200")
        self.assertIs(self.c.labels("GET", "200"), child)
        self.assertIs(self.c.labels("GET", 200), child)
        self.assertIs(self.c.labels(method="GET", code="200"), child)
        self.assertIs(self.c.labels(code=200, method="GET"), child)
        child.inc()
        self.c.labels(code=200, method="GET").inc(2)
        self.assertEqual(self.r.get_sample_value("req_total", {"method": "GET", "code": "200"}), 3)

    def test_malformed_calls_raise_prometheus_clients_errors(self):
        calls = (
            lambda c: c.labels("GET"),
            lambda c: c.labels("GET", "200", "x"),
            lambda c: c.labels(method="GET"),
            lambda c: c.labels(method="GET", status="200"),
            lambda c: c.labels("GET", code="200"),
            lambda c: c.labels(),
            lambda c: c.labels("GET", "200").labels("GET", "200"),
        )
        for i, call in enumerate(calls):
            outcomes = []
            for m in (prometheus_client, fastprom):
                c = m.Counter("bad", "d", ["method", "code"], registry=m.CollectorRegistry())
                try:
                    call(c)
                    outcomes.append("no error")
                except Exception as e:  # noqa: BLE001 - comparing what each raises
                    outcomes.append(type(e).__name__)
            self.assertEqual(outcomes[0], outcomes[1], f"call {i}")
        plain = fastprom.Counter("plain", "d", registry=self.r)
        with self.assertRaisesRegex(ValueError, "No label names were set"):
            plain.labels("x")

    def test_parent_with_labels_cannot_be_updated(self):
        for make, method in ((lambda: self.c, "inc"),
                             (lambda: fastprom.Gauge("g", "d", ["a"], registry=self.r), "set"),
                             (lambda: fastprom.Histogram("h", "d", ["a"], registry=self.r), "observe")):
            with self.assertRaisesRegex(ValueError, "missing label values"):
                getattr(make(), method)(1)

    def test_removed_child_is_recreated_from_zero(self):
        self.c.labels("GET", "200").inc(5)
        self.c.remove("GET", "200")
        self.c.labels("GET", "200").inc()
        self.assertEqual(self.r.get_sample_value("req_total", {"method": "GET", "code": "200"}), 1)


class Updates(unittest.TestCase):
    def test_argument_forms(self):
        r = fastprom.CollectorRegistry()
        c = fastprom.Counter("c", "d", registry=r)
        c.inc(), c.inc(2), c.inc(amount=3), c.inc(1, None), c.inc(amount=1, exemplar={})
        self.assertEqual(r.get_sample_value("c_total"), 8)
        g = fastprom.Gauge("g", "d", registry=r)
        g.set(value=5), g.inc(amount=2), g.dec(amount=4), g.dec()
        self.assertEqual(r.get_sample_value("g"), 2)
        h = fastprom.Histogram("h", "d", registry=r, buckets=(1, 2))
        h.observe(1.5), h.observe(amount=0.5)
        self.assertEqual(r.get_sample_value("h_bucket", {"le": "1.0"}), 1)
        self.assertEqual(r.get_sample_value("h_count"), 2)

    def test_wrong_arguments_are_type_errors_as_in_prometheus_client(self):
        for m in (prometheus_client, fastprom):
            r = m.CollectorRegistry()
            c, g = m.Counter("c", "d", registry=r), m.Gauge("g", "d", registry=r)
            h, s = m.Histogram("h", "d", registry=r), m.Summary("s", "d", registry=r)
            for call in (lambda: c.inc(1, None, 3), lambda: c.inc(bogus=1), lambda: g.set(),
                         lambda: g.set(1, 2), lambda: g.inc(1, 2), lambda: h.observe(),
                         lambda: s.observe(1, {"a": "b"}), lambda: s.observe(1, exemplar={"a": "b"}),
                         lambda: c.inc(1, amount=2)):
                with self.assertRaises(TypeError, msg=m.__name__):
                    call()

    def test_exact_totals_from_threads(self):
        r = fastprom.CollectorRegistry()
        c = fastprom.Counter("t", "d", ["k"], registry=r)
        h = fastprom.Histogram("th", "d", registry=r)

        def work():
            for i in range(20000):
                c.labels(str(i % 4)).inc()
                h.observe(0.01)
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sum(r.get_sample_value("t_total", {"k": str(k)}) for k in range(4)), 80000)
        self.assertEqual(r.get_sample_value("th_count"), 80000)


def _sig_a(a, b=2, *args, c, d=None, **kw):
    return a


def _sig_b(x, /, y, *, z=3):
    return x


def _sig_c():
    return 1


async def _sig_d(request, item_id: int = 0):
    return item_id


class SampleValue(unittest.TestCase):
    def test_reads_one_series_of_any_type(self):
        r = fastprom.CollectorRegistry()
        c = fastprom.Counter("sv_req", "d", ["k"], registry=r)
        for i in range(300):
            c.labels(str(i)).inc(i)
        h = fastprom.Histogram("sv_lat", "d", registry=r, buckets=(0.1, 1))
        h.observe(0.5)
        fastprom.Info("sv_build", "d", registry=r).info({"version": "1.2"})
        self.assertEqual(r.get_sample_value("sv_req_total", {"k": "299"}), 299)
        self.assertEqual(r.get_sample_value("sv_lat_bucket", {"le": "1.0"}), 1)
        self.assertEqual(r.get_sample_value("sv_lat_bucket", {"le": "0.1"}), 0)
        self.assertEqual(r.get_sample_value("sv_lat_sum"), 0.5)
        self.assertEqual(r.get_sample_value("sv_build_info", {"version": "1.2"}), 1)
        self.assertIsNone(r.get_sample_value("sv_req_total", {"k": "300"}))
        self.assertIsNone(r.get_sample_value("sv_missing"))
        self.assertIsNone(r.get_sample_value("not a name"))


class Decorators(unittest.TestCase):
    def test_argspec_of_decorated_functions_is_the_originals(self):
        import inspect
        r = fastprom.CollectorRegistry()
        h = fastprom.Histogram("dec_h", "d", registry=r)
        g = fastprom.Gauge("dec_g", "d", registry=r)
        c = fastprom.Counter("dec_c", "d", registry=r)
        for func in (_sig_a, _sig_b, _sig_c, _sig_d):
            for deco in (h.time(), g.time(), g.track_inprogress(), c.count_exceptions()):
                wrapped = deco(func)
                self.assertEqual(inspect.getfullargspec(wrapped), inspect.getfullargspec(func), func.__name__)
                self.assertEqual(inspect.signature(wrapped), inspect.signature(func))
                self.assertEqual(wrapped.__name__, func.__name__)
        # prometheus_client's decorators show the same argspec.
        ph = prometheus_client.Histogram("dec_h", "d", registry=prometheus_client.CollectorRegistry())
        self.assertEqual(inspect.getfullargspec(ph.time()(_sig_a)), inspect.getfullargspec(h.time()(_sig_a)))

    def test_decorated_functions_still_count(self):
        r = fastprom.CollectorRegistry()
        h = fastprom.Histogram("dec2_h", "d", registry=r)
        g = fastprom.Gauge("dec2_g", "d", registry=r)
        self.assertEqual(h.time()(_sig_a)(5, c=1), 5)
        self.assertEqual(h.time()(_sig_b)(7, 8), 7)
        seen = []
        track = g.track_inprogress()(lambda: seen.append(r.get_sample_value("dec2_g")))
        track()
        self.assertEqual(seen, [1.0])
        self.assertEqual(r.get_sample_value("dec2_g"), 0)
        self.assertEqual(r.get_sample_value("dec2_h_count"), 2)
        with h.time() as t:
            self.assertIsInstance(t, fastprom.context_managers.Timer)
        self.assertEqual(r.get_sample_value("dec2_h_count"), 3)


class NoRoom(unittest.TestCase):
    """A full segment or a family at its series limit never raises from a
    metric's constructor or labels(): one warning, updates dropped or kept
    in this process, the drops counted by the segment."""

    def test_series_limit_drops_new_label_values(self):
        r = fastprom.CollectorRegistry(size=256 << 10, family_limit=2)
        c = fastprom.Counter("lim", "d", ["a"], registry=r)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for v in "abcd":
                c.labels(v).inc()
                c.labels(v).inc()
        self.assertEqual(len([w for w in caught if issubclass(w.category, fastprom.FastpromWarning)]), 1)
        self.assertEqual(r.get_sample_value("lim_total", {"a": "b"}), 2)
        self.assertIsNone(r.get_sample_value("lim_total", {"a": "c"}))
        self.assertGreaterEqual(r.stat()["dropped_series"], 2)

    def test_full_segment_still_gives_working_metrics(self):
        r = fastprom.CollectorRegistry(size=256 << 10)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gauges = []
            for i in range(2000):
                g = fastprom.Gauge(f"full_{i}", "d" * 100, ["k"], registry=r)
                g.labels("x").set(i)
                gauges.append(g)
        self.assertGreater(r.stat()["dropped_series"], 0, "the segment never filled: make the test bigger")
        self.assertEqual(len([w for w in caught if "cannot be created in the segment" in str(w.message)]), 1)
        self.assertEqual(r.get_sample_value("full_0", {"k": "x"}), 0)
        gauges[-1].labels("y").inc()  # refused families still take updates


class Lifetime(unittest.TestCase):
    def test_metric_outlives_its_registry(self):
        r = fastprom.CollectorRegistry()
        c = fastprom.Counter("orphan", "d", ["a"], registry=r)
        child = c.labels("x")
        segment = r.segment()
        del r
        gc.collect()
        child.inc()
        c.labels("y").inc(2)
        text = segment.render(fastprom._native.FORMAT_TEXT).decode()
        self.assertIn('orphan_total{a="x"} 1', text)
        self.assertIn('orphan_total{a="y"} 2', text)

    def test_registries_per_test_in_a_loop_stay_bounded(self):
        """A test suite builds a CollectorRegistry per test: far more than
        the 64 handles a process may hold at once."""
        gc.collect()
        fd_start = fds()
        rss = []
        for i in range(1500):
            r = fastprom.CollectorRegistry()
            c = fastprom.Counter("loop", "d", ["a"], registry=r)
            c.labels("x").inc()
            self.assertEqual(r.get_sample_value("loop_total", {"a": "x"}), 1)
            if i % 500 == 499:
                rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        del r, c
        gc.collect()
        self.assertLessEqual(fds(), fd_start)
        self.assertLess(rss[-1] - rss[0], 20 * 1024, f"max RSS grew (KiB): {rss}")

    def test_shared_segment_one_handle_per_path(self):
        path = os.path.join(TMP, "shared")
        a = fastprom.CollectorRegistry(path=path)
        b = fastprom.CollectorRegistry(path=path)
        self.assertIs(a.segment(), b.segment())
        fastprom.Counter("shared_hits", "d", registry=a).inc()
        fastprom.Counter("shared_hits", "d", registry=b).inc()
        self.assertEqual(a.get_sample_value("shared_hits_total"), 2)


if __name__ == "__main__":
    unittest.main(verbosity=1)
