#!/usr/bin/python3
"""Seed 000 as a whole: its Python collector (src/node/examples/seed000_collector.py,
fastprom's Python package) and its Node collector (src/node/examples/ws-collector.js,
seed 001's catalogue) write one segment; one /metrics through real nginx and
fastprom-fcgi shows both sets of families with exactly what each counted, and
the health route counts both writer processes and both sets of families.
"""
import json
import os
import unittest

import harness
import node_support
import python_support

PY_COLLECTOR = os.path.join(node_support.EXAMPLES, "seed000_collector.py")
WS_COLLECTOR = os.path.join(node_support.EXAMPLES, "ws-collector.js")


def tally_of(proc):
    """The JSON line the example prints when its bounded run is done."""
    for line in proc.log().splitlines():
        if line.startswith("{"):
            return json.loads(line)
    return None


class Seed000Test(unittest.TestCase):
    def test_python_and_node_collectors_on_one_metrics(self):
        tmp = harness.make_temp_dir(self)
        segment = os.path.join(tmp, "segment")
        py = harness.start_process([python_support.PYTHON, PY_COLLECTOR], tmp, "py-collector",
                                   env=python_support.app_env(segment, {"CYCLES": "300"}), testcase=self)
        js = harness.start_process([node_support.NODE, WS_COLLECTOR], tmp, "ws-collector",
                                   env=node_support.node_env(segment, {"MESSAGES": "20000", "RATE": "20000"}),
                                   testcase=self)
        py_tally = harness.wait_until(lambda: tally_of(py), 60, what=f"the Python collector's tally:\n{py.log()}")
        js_tally = harness.wait_until(lambda: tally_of(js), 60, what=f"the Node collector's tally:\n{js.log()}")
        worker = harness.start_worker(tmp, segment, testcase=self)
        nginx = harness.start_nginx(tmp, worker.socket, testcase=self)
        m = python_support.scrape(nginx.url("/metrics"))
        total = python_support.total
        # The Python collector's families.
        self.assertEqual(total(m, "collector_ohlcv_collected_total"), py_tally["ohlcv"])
        self.assertEqual(total(m, "collector_trades_collected_total"), py_tally["ohlcv"] * 10)
        self.assertEqual(total(m, "collector_api_errors_total", error_type="timeout"), py_tally["errors"])
        self.assertEqual(total(m, "collector_api_request_duration_seconds_count"), 300 * 3)
        self.assertEqual(total(m, "collector_validation_failures_total"), py_tally["validation_failures"])
        self.assertEqual(total(m, "collector_running"), 1)
        # The Node collector's families.
        self.assertEqual(total(m, "collector_messages_received_total"), js_tally["received"])
        self.assertEqual(total(m, "collector_messages_published_total"), js_tally["published"])
        for kind, n in js_tally["errors"].items():
            self.assertEqual(total(m, "collector_errors_total", type=kind), n)
        self.assertEqual(total(m, "collector_reconnects_total"), js_tally["reconnects"])
        self.assertEqual(total(m, "collector_publish_latency_seconds_count"),
                         js_tally["published"] + js_tally["errors"].get("publish_error", 0))
        self.assertEqual(set(python_support.by_label(m, "collector_messages_received_total", "channel")),
                         {"ticker", "orderbook", "trade"})
        self.assertEqual(total(m, "collector_connection_status"), 1)
        # The health route sees both writers and both sets of families.
        r = harness.http_get(nginx.url("/api/v1/health/prometheus"))
        self.assertEqual(r.status, 200, r.body)
        health = json.loads(r.body)
        self.assertEqual(health["checks"]["writers:processes"][0]["observedValue"], 2)
        registered = health["registered_metrics"]
        self.assertGreaterEqual(registered["counters"], 5 + 4)
        self.assertGreaterEqual(registered["histograms"], 2)
        self.assertGreaterEqual(registered["gauges"], 4)


if __name__ == "__main__":
    unittest.main(verbosity=2)
