#!/usr/bin/python3
"""The exposition checked by the tools that consume it (`make check-tools`).

Writes counters, gauges and histograms with the fastprom CLI (labels with
quotes, backslashes, newlines, tabs and non-ASCII), and summaries, exemplars,
info, stateset, per-process gauges and a family without series with a small C
writer (exposition_writer.c, compiled here against build/libfastprom.a), into
a segment in a temp dir. Then:
  - promtool check metrics accepts `fastprom dump` (text) with no lint problem;
  - prometheus_client's text parser and its strict OpenMetrics parser accept
    the text and OpenMetrics dumps and read back exactly the values written;
  - the JSON dump holds the same values;
  - prefixed and --name filtered dumps stay valid.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("FASTPROM_TEST_BUILD", os.path.join(ROOT, "build"))
CLI = os.path.join(BUILD, "fastprom")
LIB = os.path.join(BUILD, "libfastprom.a")
TIMEOUT = 60

# Label values the exposition must escape or pass through untouched.
TRICKY = 'q"uote \\back\\slash\nnew\tline ünïcødé € 😀 {x="y"} # not=label'
TRICKY2 = "\\n is not a newline, \\\" is not a quote"


class ExpositionTools(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fastprom-tools-")
        cls.env = dict(os.environ, FASTPROM_PATH=os.path.join(cls.tmp, "segment"))
        cls.expected = {}  # (sample name, sorted label items) -> value, text-format names
        try:
            cls.write_with_cli()
            cls.writer_pid = cls.write_with_c()
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def cli(cls, *args, check=True):
        p = subprocess.run([CLI, *args], env=cls.env, capture_output=True, timeout=TIMEOUT)
        if check and p.returncode != 0:
            raise AssertionError(f"fastprom {' '.join(args)} exited {p.returncode}: {p.stderr.decode()}")
        return p

    @classmethod
    def expect(cls, name, labels, value):
        cls.expected[(name, tuple(sorted(labels.items())))] = value

    @classmethod
    def write_with_cli(cls):
        help_requests = ["--help-text", "HTTP requests served."]
        requests = [
            ({"method": "GET", "path": "/"}, ["3"], 3),
            ({"method": "GET", "path": TRICKY}, ["1", "0.5"], 1.5),
            ({"method": "POST", "path": TRICKY2}, ["0.1", "0.2"], 0.1 + 0.2),
        ]
        for labels, amounts, total in requests:
            for amount in amounts:
                cls.cli("inc", *help_requests, "http_requests", *[f"{k}={v}" for k, v in labels.items()], amount)
            cls.expect("http_requests_total", labels, total)

        cls.cli("set", "--help-text", "Room temperature.", "--unit", "celsius", "temperature", "room=kitchen", "21.5")
        cls.expect("temperature_celsius", {"room": "kitchen"}, 21.5)
        cls.cli("set", "--unit", "celsius", "temperature_celsius", "room=attic", "-3.25")
        cls.cli("dec", "--unit", "celsius", "temperature_celsius", "room=attic", "0.5")
        cls.expect("temperature_celsius", {"room": "attic"}, -3.75)
        cls.cli("set", "--help-text", "Largest queue seen.", "--gauge-mode", "max", "queue_peak", "1e-300")
        cls.expect("queue_peak", {}, 1e-300)

        buckets = [0.1, 0.5, 1.0]
        # Each observation comes from another process, so the segment adds
        # them up in an order of its choosing; these sum to 4.0 exactly in
        # every order and grouping, 0.1 + 0.2 alone would not.
        observations = [0.1, 0.2, 0.7, 3.0]
        for v in observations:
            cls.cli("observe", "--help-text", "Request latency.", "--unit", "seconds", "--buckets", "0.1,0.5,1",
                    "request_duration_seconds", f"route={TRICKY}", repr(v))
        labels = {"route": TRICKY}
        total = 0.0
        for v in observations:
            total += v
        for bound in buckets:
            le = repr(bound)
            cls.expect("request_duration_seconds_bucket", dict(labels, le=le), sum(1 for v in observations if v <= bound))
        cls.expect("request_duration_seconds_bucket", dict(labels, le="+Inf"), len(observations))
        cls.expect("request_duration_seconds_sum", labels, total)
        cls.expect("request_duration_seconds_count", labels, len(observations))

        cls.cli("observe", "--help-text", "Default buckets.", "default_buckets_seconds", "0.003")
        cls.expect("default_buckets_seconds_bucket", {"le": "0.005"}, 1)
        cls.expect("default_buckets_seconds_bucket", {"le": "10.0"}, 1)
        cls.expect("default_buckets_seconds_sum", {}, 0.003)

    @classmethod
    def write_with_c(cls):
        writer = os.path.join(cls.tmp, "exposition_writer")
        src = os.path.join(ROOT, "tests", "integration", "exposition_writer.c")
        subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-I", os.path.join(ROOT, "include"), "-o", writer, src, LIB,
                        "-ljansson", "-lm", "-pthread"], check=True, timeout=TIMEOUT)
        p = subprocess.run([writer], env=cls.env, capture_output=True, timeout=TIMEOUT)
        if p.returncode != 0:
            raise AssertionError(f"exposition_writer failed: {p.stderr.decode()}")
        pid = p.stdout.decode().strip()
        rpc_sum = 0.0
        for i in range(1, 101):  # in the writer's order (sum() may compensate)
            rpc_sum += i / 100.0
        cls.expect("rpc_duration_seconds_sum", {"service": "api"}, rpc_sum)
        cls.expect("rpc_duration_seconds_count", {"service": "api"}, 100)
        cls.expect("rpc_duration_seconds_count", {"service": "idle"}, 0)
        cls.expect("orders_total", {}, 2)
        cls.expect("payload_bytes_bucket", {"le": "1000.0"}, 1)
        cls.expect("payload_bytes_bucket", {"le": "+Inf"}, 2)
        cls.expect("payload_bytes_sum", {}, 50300)
        cls.expect("build_info", {"version": "1.2.3", "commit": 'abc"def\\ghi'}, 1)
        for i, st in enumerate(["starting", "running", "stopping"]):
            cls.expect("service_state", {"instance": "a", "service_state": st}, 1 if i == 1 else 0)
        cls.expect("worker_rss_bytes", {"pool": "web", "pid": pid}, 12345)
        return pid

    def dump(self, *args):
        return self.cli("dump", *args).stdout.decode("utf-8")

    def promtool(self, text):
        p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, f"promtool: {p.stdout.decode()}{p.stderr.decode()}\n{text}")
        self.assertEqual(p.stdout.decode() + p.stderr.decode(), "", "promtool printed lint problems")

    @staticmethod
    def samples(families, om):
        """(sample name, sorted labels) -> value, with OpenMetrics info/
        counter names mapped to their text-format family names."""
        out = {}
        for fam in families:
            for s in fam.samples:
                if om and s.name.endswith("_created"):
                    continue
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out

    def assert_expected(self, got):
        for key, value in self.expected.items():
            self.assertIn(key, got, f"sample {key} missing")
            if isinstance(value, float) and math.isnan(value):
                self.assertTrue(math.isnan(got[key]), key)
            else:
                self.assertEqual(got[key], value, key)  # exact: shortest round-trip floats

    def test_promtool_accepts_text(self):
        self.promtool(self.dump())

    def test_promtool_accepts_prefixed_and_filtered(self):
        text = self.dump("--prefix", "myapp_")
        self.promtool(text)
        self.assertIn("myapp_http_requests_total{", text)
        filtered = self.dump("--name", "http_requests_total", "--name", "build_info", "--name", "payload_bytes_bucket")
        self.promtool(filtered)
        names = {f.name for f in parse_text(filtered)}
        self.assertEqual(names, {"http_requests", "build_info", "payload_bytes"})

    def test_text_parser_reads_back_values(self):
        text = self.dump()
        families = list(parse_text(text))
        self.assert_expected(self.samples(families, om=False))
        types = {f.name: f.type for f in families}
        self.assertEqual(types["http_requests"], "counter")
        self.assertEqual(types["build_info"], "gauge")
        self.assertEqual(types["service_state"], "gauge")
        self.assertEqual(types["rpc_duration_seconds"], "summary")
        docs = {f.name: f.documentation for f in families}
        self.assertEqual(docs["idle_events"], "Never incremented.")

    def test_openmetrics_parser_reads_back_values(self):
        text = self.dump("--openmetrics", "--created")
        self.assertTrue(text.endswith("# EOF\n"))
        families = {f.name: f for f in parse_openmetrics(text)}
        got = self.samples(families.values(), om=True)
        self.assert_expected(got)
        self.assertEqual(families["build"].type, "info")
        self.assertEqual(families["service_state"].type, "stateset")
        self.assertEqual(families["payload_bytes"].unit, "bytes")
        self.assertEqual(families["idle_events"].samples, [])
        created = [s for s in families["http_requests"].samples if s.name == "http_requests_created"]
        self.assertEqual(len(created), 3)

        orders = [s for s in families["orders"].samples if s.name == "orders_total"][0]
        self.assertEqual(orders.exemplar.labels, {"trace_id": "abc123"})
        self.assertEqual(orders.exemplar.value, 2)
        self.assertEqual(float(orders.exemplar.timestamp), 1700000000.5)
        buckets = {s.labels["le"]: s for s in families["payload_bytes"].samples if s.name == "payload_bytes_bucket"}
        self.assertEqual(buckets["1000.0"].exemplar.labels, {"trace_id": 'def"456'})
        self.assertEqual(buckets["1000.0"].exemplar.value, 300)
        self.assertEqual(float(buckets["1000.0"].exemplar.timestamp), 1700000001.25)
        self.assertIsNone(buckets["100.0"].exemplar)

        quantiles = {(s.labels["service"], s.labels["quantile"]): s.value
                     for s in families["rpc_duration_seconds"].samples if "quantile" in s.labels}
        self.assertEqual(set(quantiles), {(sv, q) for sv in ("api", "idle") for q in ("0.5", "0.9", "0.99")})
        self.assertTrue(all(math.isnan(quantiles[("idle", q)]) for q in ("0.5", "0.9", "0.99")))
        for q in (0.5, 0.9, 0.99):
            self.assertAlmostEqual(quantiles[("api", repr(q))], q, delta=0.05)

    def test_openmetrics_prefixed_and_filtered(self):
        text = self.dump("--openmetrics", "--prefix", "myapp_", "--name", "myapp_service_state",
                         "--name", "myapp_orders_total")
        families = {f.name: f for f in parse_openmetrics(text)}
        self.assertEqual(set(families), {"myapp_service_state", "myapp_orders"})
        running = [s for s in families["myapp_service_state"].samples if s.value == 1]
        self.assertEqual(running[0].labels["myapp_service_state"], "running")

    def test_json_holds_the_same_values(self):
        doc = json.loads(self.dump("--json"))
        fams = {f["name"]: f for f in doc["families"]}
        self.assertEqual(list(fams), sorted(fams))
        req = {s["labels"]["path"]: s["value"] for s in fams["http_requests"]["series"]}
        self.assertEqual(req[TRICKY], 1.5)
        self.assertEqual(req[TRICKY2], 0.1 + 0.2)
        hist = fams["request_duration_seconds"]["series"][0]
        self.assertEqual([b["le"] for b in hist["buckets"]], ["0.1", "0.5", "1.0", "+Inf"])
        self.assertEqual([b["count"] for b in hist["buckets"]], [1, 2, 3, 4])
        self.assertEqual(hist["sum"], self.expected[("request_duration_seconds_sum", (("route", TRICKY),))])
        idle = [s for s in fams["rpc_duration_seconds"]["series"] if s["labels"]["service"] == "idle"][0]
        self.assertEqual([q["value"] for q in idle["quantiles"]], ["NaN", "NaN", "NaN"])
        self.assertEqual(fams["service_state"]["series"][0]["states"], {"starting": 0, "running": 1, "stopping": 0})
        self.assertEqual(fams["build"]["series"][0]["info"], {"version": "1.2.3", "commit": 'abc"def\\ghi'})
        self.assertEqual(fams["worker_rss_bytes"]["series"][0]["labels"], {"pool": "web", "pid": self.writer_pid})
        self.assertEqual(fams["temperature_celsius"]["gauge_mode"], "mostrecent")


if __name__ == "__main__":
    for tool in (CLI, LIB):
        if not os.path.exists(tool):
            sys.exit(f"test_exposition_tools: {tool} is missing: run make")
    if not shutil.which("promtool"):
        sys.exit("test_exposition_tools: promtool is missing: make deps installs the prometheus package")
    unittest.main()
