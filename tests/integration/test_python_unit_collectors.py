#!/usr/bin/python3
"""Custom collectors, Gauge.set_function(), restricted_registry(),
registry.collect() and unregister() freeing names, against
prometheus_client's behaviour.

 - A collector built from the *MetricFamily classes (every type) renders in
   in-process exposition, text and OpenMetrics, with the same parsed
   families and values as in prometheus_client; get_sample_value and
   collect() see it; its names clash like there.
 - set_function(): the value is f() at every read.
 - On a shared segment, a daemon thread samples set_function() gauges and
   collectors into the segment: another process (the fastprom CLI, as
   fastprom-fcgi would) reads them.
 - unregister() in a private registry frees the name: a Gauge('s_count')
   after a Summary('s'), a Counter('c') again, start from zero, and the
   unregistered metric leaves the exposition.
"""
import atexit
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

os.environ["PROMETHEUS_DISABLE_CREATED_SERIES"] = "True"

import harness  # noqa: E402
import python_support  # noqa: E402

TMP = tempfile.mkdtemp(prefix="fastprom-collectors-")
atexit.register(shutil.rmtree, TMP, True)
os.environ["FASTPROM_PATH"] = os.path.join(TMP, "segment")
fastprom = python_support.import_fastprom()
import fastprom.core  # noqa: E402
import prometheus_client  # noqa: E402
import prometheus_client.core  # noqa: E402
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402


class Everything:
    """A collector yielding one family of each type (prometheus_client's
    classes, taken from fastprom.core as an app would)."""

    def __init__(self, core):
        self.core = core
        self.depth = 3

    def collect(self):
        c = self.core
        g = c.GaugeMetricFamily("queue_depth", "Depth.", labels=["queue"])
        g.add_metric(["a"], self.depth)
        g.add_metric(["b"], 1.5)
        yield g
        yield c.CounterMetricFamily("jobs_done", "Jobs.", value=7)
        yield c.SummaryMetricFamily("batch_seconds", "Batches.", count_value=4, sum_value=2.5)
        yield c.HistogramMetricFamily("io_seconds", "IO.", buckets=[("0.5", 2), ("+Inf", 3)], sum_value=1.25)
        yield c.GaugeHistogramMetricFamily("waiting", "Waiting.", buckets=[("1.0", 1), ("+Inf", 2)], gsum_value=3)
        yield c.InfoMetricFamily("build", "Build.", value={"version": "1.2"})
        yield c.StateSetMetricFamily("mode", "Mode.", value={"on": True, "off": False})
        yield c.UnknownMetricFamily("mystery", "Unknown.", value=9)


def parsed(text, openmetrics=False):
    fams = (om_families if openmetrics else text_string_to_metric_families)(text)
    return {f.name: (f.type, sorted((s.name, tuple(sorted(s.labels.items())), s.value) for s in f.samples))
            for f in fams}


class Collectors(unittest.TestCase):
    def registries(self):
        ours, theirs = fastprom.CollectorRegistry(), prometheus_client.CollectorRegistry()
        ours.register(Everything(fastprom.core))
        theirs.register(Everything(prometheus_client.core))
        fastprom.Counter("native_hits", "Hits.", registry=ours).inc(2)
        prometheus_client.Counter("native_hits", "Hits.", registry=theirs).inc(2)
        return ours, theirs

    def test_same_families_as_prometheus_client(self):
        ours, theirs = self.registries()
        self.assertEqual(parsed(fastprom.generate_latest(ours).decode()),
                         parsed(prometheus_client.generate_latest(theirs).decode()))
        from prometheus_client.openmetrics.exposition import generate_latest as om_latest
        ours_om = fastprom.render("openmetrics", ours).decode()
        self.assertTrue(ours_om.endswith("# EOF\n") and ours_om.count("# EOF") == 1)
        self.assertEqual(parsed(ours_om, True), parsed(om_latest(theirs).decode(), True))

    def test_sample_values_and_collect(self):
        ours, theirs = self.registries()
        for name, labels in (("queue_depth", {"queue": "a"}), ("jobs_done_total", None), ("io_seconds_bucket",
                             {"le": "0.5"}), ("build_info", {"version": "1.2"}), ("native_hits_total", None)):
            self.assertEqual(ours.get_sample_value(name, labels), theirs.get_sample_value(name, labels), name)
        ours_names = sorted(m.name for m in ours.collect())
        self.assertEqual(ours_names, sorted(m.name for m in theirs.collect()))

    def test_names_clash_as_in_prometheus_client(self):
        for m in (prometheus_client, fastprom):
            r = m.CollectorRegistry(auto_describe=True)
            r.register(Everything(m.core))
            with self.assertRaises(ValueError, msg=m.__name__):
                m.Gauge("queue_depth", "d", registry=r)

    def test_restricted_registry(self):
        ours, theirs = self.registries()
        ours._auto_describe = theirs._auto_describe = True
        for r, m in ((ours, fastprom), (theirs, prometheus_client)):
            r.register(type("Described", (Everything,), {"describe": Everything.collect})(m.core))
        self.assertEqual(parsed(fastprom.generate_latest(ours.restricted_registry(["queue_depth"])).decode()),
                         parsed(prometheus_client.generate_latest(theirs.restricted_registry(["queue_depth"])).decode()))
        names = ["queue_depth", "native_hits_total", "io_seconds_sum"]
        self.assertEqual(parsed(fastprom.generate_latest(ours.restricted_registry(names)).decode()),
                         parsed(prometheus_client.generate_latest(theirs.restricted_registry(names)).decode()))

    def test_modules_of_the_collector_classes(self):
        import prometheus_client.metrics_core
        import prometheus_client.samples

        import fastprom.metrics_core
        import fastprom.samples
        for ours, theirs in ((fastprom.metrics_core, prometheus_client.metrics_core),
                             (fastprom.samples, prometheus_client.samples)):
            for name in ours.__all__:
                self.assertIs(getattr(ours, name), getattr(theirs, name))
        from fastprom.metrics_core import GaugeMetricFamily  # noqa: F401 - the import form apps use

    def test_unregistered_collector_leaves(self):
        r = fastprom.CollectorRegistry()
        collector = Everything(fastprom.core)
        r.register(collector)
        r.unregister(collector)
        self.assertNotIn(b"queue_depth", fastprom.generate_latest(r))
        fastprom.Gauge("queue_depth", "now mine", registry=r).set(1)


class SetFunction(unittest.TestCase):
    def test_value_is_computed_at_each_read(self):
        r = fastprom.CollectorRegistry()
        g = fastprom.Gauge("fn_value", "d", registry=r)
        box = [1]
        g.set_function(lambda: box[0])
        self.assertEqual(r.get_sample_value("fn_value"), 1)
        box[0] = 5
        self.assertIn(b"fn_value 5", fastprom.generate_latest(r))
        with self.assertRaises(ValueError):
            fastprom.Gauge("fn_labelled", "d", ["a"], registry=r).set_function(lambda: 1)


class SampledForTheWorker(unittest.TestCase):
    def test_thread_samples_into_the_shared_segment(self):
        segment = os.path.join(TMP, "sampled")
        r = fastprom.CollectorRegistry(path=segment)
        collector = Everything(fastprom.core)
        r.register(collector)
        box = [11]
        fastprom.Gauge("fn_shared", "d", registry=r).set_function(lambda: box[0])
        r.set_sample_interval(0.05)
        cli = os.path.join(harness.BUILD, "fastprom")

        def dump():
            out = subprocess.run([cli, "dump", "--json"], env=dict(os.environ, FASTPROM_PATH=segment),
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            doc = json.loads(out.stdout)
            return {f["name"]: f for f in doc["families"]}

        deadline = time.monotonic() + 20
        box[0], collector.depth = 12, 4
        while time.monotonic() < deadline:
            fams = dump()
            got = fams.get("fn_shared", {}).get("series", [{}])[0].get("value")
            depth = [s["value"] for s in fams.get("queue_depth", {}).get("series", [])
                     if s.get("labels", {}).get("queue") == "a"]
            if got == 12 and depth == [4]:
                break
            time.sleep(0.05)
        self.assertEqual(got, 12)
        self.assertEqual(depth, [4])
        self.assertEqual(fams["jobs_done"]["type"], "counter")
        self.assertEqual(fams["jobs_done"]["series"][0]["value"], 7)
        self.assertNotIn("io_seconds", fams, "histograms of collectors are in-process only")


class UnregisterFreesNames(unittest.TestCase):
    def test_same_as_prometheus_client(self):
        for m in (prometheus_client, fastprom):
            r = m.CollectorRegistry()
            s = m.Summary("s", "d", registry=r)
            s.observe(3)
            c = m.Counter("c", "d", ["a"], registry=r)
            c.labels("x").inc(5)
            r.unregister(s)
            r.unregister(c)
            self.assertIsNone(r.get_sample_value("s_count"), m.__name__)
            g = m.Gauge("s_count", "now a gauge", registry=r)
            g.set(2)
            c2 = m.Counter("c", "d", ["a"], registry=r)
            c2.labels("x").inc()
            self.assertEqual(r.get_sample_value("s_count"), 2, m.__name__)
            self.assertEqual(r.get_sample_value("c_total", {"a": "x"}), 1, m.__name__)
            s2 = m.Summary("s2", "d", registry=r)
            s2.observe(1)
            text = m.generate_latest(r).decode()
            self.assertEqual(sorted(parsed(text)), ["c", "s2", "s_count"], m.__name__)
            r.unregister(g)
            m.Counter("s_count", "and now a counter", registry=r).inc(4)
            self.assertEqual(r.get_sample_value("s_count_total"), 4, m.__name__)

    def test_shared_segment_keeps_the_family_for_other_processes(self):
        r = fastprom.CollectorRegistry(path=os.path.join(TMP, "shared-unregister"))
        c = fastprom.Counter("kept", "d", registry=r)
        c.inc()
        r.unregister(c)
        fastprom.Counter("kept", "d", registry=r).inc()
        self.assertEqual(r.get_sample_value("kept_total"), 2)
        with self.assertRaises(ValueError):
            fastprom.Gauge("kept", "another type", registry=r)


if __name__ == "__main__":
    unittest.main(verbosity=1)
