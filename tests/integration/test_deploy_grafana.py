#!/usr/bin/python3
"""deploy/grafana's dashboard, proven against real data: the demo stack
(nginx + fastprom-fcgi + fastprom-demo, from harness.py) runs with a real
Prometheus loading deploy/prometheus/prometheus.yml and its rules (1 s
intervals), and every panel's query, with Grafana's variables expanded the
way Grafana expands them, is sent to Prometheus' /api/v1/query: each must
parse and return data. The same Prometheus shows every recording and
alerting rule healthy, and the recording rules produce series.

Static checks (no servers) come first: the dashboard's structure for
Grafana 9/10, its datasource variable, and that every query names only
metrics fastprom or Prometheus really export.
"""
import json
import os
import re
import time
import unittest

import harness
import nginxlog_support
from deploy_support import (DEMO, WORKER, dashboard_targets, grafana_substitute, load_dashboard,
                            prometheus_api, run, start_prometheus, temp_dir)

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# The fixed names of the brief, plus what Prometheus adds per target.
KNOWN_METRICS = {
    "fastprom_scrape_duration_seconds_bucket", "fastprom_scrapes_total", "fastprom_scrapes_in_flight",
    "fastprom_render_errors_total", "fastprom_segment_up", "fastprom_segment_size_bytes",
    "fastprom_segment_used_bytes", "fastprom_families", "fastprom_series", "fastprom_writer_slots",
    "fastprom_writer_processes", "fastprom_dropped_series_total", "fastprom_dropped_updates_total",
    "fastprom_last_write_age_seconds", "fastprom_health_status", "fastprom_build_info",
    "http_requests_total", "http_request_duration_seconds_bucket", "http_requests_in_progress",
    "http_request_exceptions_total", "process_resident_memory_bytes", "process_cpu_seconds_total",
    "up", "scrape_duration_seconds",
}
PROMQL_WORDS = {"sum", "by", "max", "min", "count", "rate", "increase", "histogram_quantile", "or", "and",
                "on", "without", "avg", "le", "route", "instance", "job", "status", "state", "type",
                "format", "code", "version", "exception"}
# fastprom-nginxlog's families (nginx's access log) and their labels.
KNOWN_METRICS |= {"nginx_http_requests_total", "nginx_http_request_duration_seconds_bucket",
                  "nginxlog_datagrams_total", "nginxlog_malformed_total", "nginxlog_dropped_total",
                  "nginxlog_lag_seconds"}
PROMQL_WORDS |= {"server", "reason"}


def panels(dash):
    out = []
    for p in dash["panels"]:
        out.append(p)
        out += p.get("panels", [])
    return out


class DashboardStaticTest(unittest.TestCase):
    def setUp(self):
        self.dash = load_dashboard()

    def test_importable_by_grafana_9_and_10(self):
        self.assertIn(self.dash["schemaVersion"], range(36, 40))
        self.assertEqual(self.dash["uid"], "fastprom-overview")
        self.assertNotIn("dashboard", self.dash, "a plain dashboard model, not an API envelope")
        ids = [p["id"] for p in panels(self.dash)]
        self.assertEqual(len(ids), len(set(ids)), "panel ids must be unique")
        for p in panels(self.dash):
            g = p["gridPos"]
            self.assertLessEqual(g["x"] + g["w"], 24, p["title"])

    def test_datasource_variable_is_used_everywhere(self):
        variables = {v["name"]: v for v in self.dash["templating"]["list"]}
        ds = variables["datasource"]
        self.assertEqual((ds["type"], ds["query"]), ("datasource", "prometheus"))
        for v in variables.values():
            if v["type"] == "query":
                self.assertEqual(v["datasource"], DATASOURCE, v["name"])
        for p in panels(self.dash):
            if p["type"] == "row":
                continue
            self.assertEqual(p["datasource"], DATASOURCE, p["title"])
            refs = [t["refId"] for t in p["targets"]]
            self.assertEqual(len(refs), len(set(refs)), p["title"])
            for t in p["targets"]:
                self.assertEqual(t["datasource"], DATASOURCE, p["title"])

    def test_the_panels_the_issue_asks_for(self):
        exprs = " ".join(e for _, _, e in dashboard_targets(self.dash))
        for needle in ("rate(http_requests_total", 'status=~"5.."', "http_request_exceptions_total",
                       "histogram_quantile(0.50, sum by (route, le) (rate(http_request_duration_seconds_bucket",
                       "histogram_quantile(0.95, sum by (route, le) (rate(http_request_duration_seconds_bucket",
                       "histogram_quantile(0.99, sum by (route, le) (rate(http_request_duration_seconds_bucket",
                       "http_requests_in_progress", "fastprom_segment_used_bytes", "fastprom_segment_size_bytes",
                       "fastprom_scrape_duration_seconds_bucket", "scrape_duration_seconds{",
                       "fastprom_writer_processes", "fastprom_dropped_series_total"):
            self.assertIn(needle, exprs)

    def test_queries_name_only_real_metrics(self):
        for title, ref, expr in dashboard_targets(self.dash):
            bare = re.sub(r'\{[^}]*\}|\[[^\]]*\]|"[^"]*"', " ", expr)
            names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare)) - PROMQL_WORDS
            self.assertEqual(names - KNOWN_METRICS, set(), f"{title} {ref}: {expr}")

    def test_every_query_parses(self):
        """promtool parses each expanded query as a recording rule."""
        work = temp_dir(self)
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": f"dashboard:query:{i}",
             "expr": grafana_substitute(e, {"job": ["fastprom"], "instance": ["a:1"], "route": ["/"]}, "1m", "15s")}
            for i, (_, _, e) in enumerate(dashboard_targets(self.dash))]}]}
        path = os.path.join(work, "dashboard-rules.yml")
        with open(path, "w") as f:
            json.dump(rules, f)  # JSON is YAML
        run(["promtool", "check", "rules", path])


class DashboardLiveTest(unittest.TestCase):
    """The demo stack with a real Prometheus; every panel returns data."""

    SCRAPE = 1.0  # seconds

    def test_every_panel_query_returns_data(self):
        for binary in (WORKER, DEMO):
            self.assertTrue(os.access(binary, os.X_OK), f"{binary} is missing: run `make`")
        tmp = harness.make_temp_dir(self)
        segment = os.path.join(tmp, "segment")
        harness.start_demo(tmp, segment, processes=3, rate=50, testcase=self)
        harness.wait_until(lambda: os.path.exists(segment), 10, what="the demo to create the segment")
        worker = harness.start_worker(tmp, segment, testcase=self)
        nginxlog = nginxlog_support.start_nginxlog(tmp, segment, testcase=self)  # the nginx panels' data
        nginx = harness.start_nginx(tmp, worker.socket, testcase=self,
                                    http_extra=nginxlog_support.nginxlog_http_extra(nginxlog.socket))
        traffic = nginxlog_support.DemoTraffic(nginx.url(""), per_second=20)
        self.addCleanup(traffic.stop)
        prom = start_prometheus(tmp, [f"127.0.0.1:{nginx.port}"], f"{self.SCRAPE:g}s", testcase=self)
        prom.wait_target_up(timeout=30)
        harness.wait_until(lambda: prom.query("http_requests_total"), 15, what="application data in Prometheus")

        dash = load_dashboard()
        rate_interval = f"{int(4 * self.SCRAPE)}s"  # Grafana: max($__interval + scrape, 4 * scrape)

        def empty():
            variables = self.resolve_variables(prom, dash)  # an AssertionError while a variable has no value
            return [f"{title} [{ref}]: {q}" for title, ref, expr in dashboard_targets(dash)
                    if not prom.query(q := grafana_substitute(expr, variables, rate_interval, f"{self.SCRAPE:g}s"))]
        # rate() over $__rate_interval needs a few scrapes of history, and
        # the nginx variable and panels a datagram recorded before a scrape:
        # wait for the data (bounded) instead of sleeping a number of scrape
        # intervals that a loaded machine may not have scraped.
        try:
            harness.wait_until(lambda: not empty(), 30, interval=self.SCRAPE, what="every panel query to have data")
        except TimeoutError:
            pass  # the assertions below name what is missing
        self.assertEqual(empty(), [], "panel queries without data")
        print(f"\n  {len(dashboard_targets(dash))} panel queries, each with data", end=" ")
        self.check_rules(prom)

    def resolve_variables(self, prom, dash):
        """Runs the job/instance/route variables' label_values() queries as
        Grafana does (series API), in order, each seeing the ones before."""
        values = {}
        for v in dash["templating"]["list"]:
            if v["type"] != "query":
                continue
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", v["definition"])
            self.assertIsNotNone(m, v["definition"])
            selector = grafana_substitute(m.group(1), values, "1m", "1s")
            series = prometheus_api(prom, "/api/v1/series", **{"match[]": selector, "start": str(time.time() - 300)})
            found = sorted({s[m.group(2)] for s in series if m.group(2) in s})
            self.assertTrue(found, f"variable {v['name']}: {v['definition']} has no values")
            values[v["name"]] = found
        return values

    def check_rules(self, prom):
        """deploy/prometheus's rules, loaded by a real Prometheus, evaluate
        without error; the recording rules produce series from live data."""
        def evaluated():
            groups = prometheus_api(prom, "/api/v1/rules")["groups"]
            rules = [r for g in groups for r in g["rules"]]
            return rules if rules and all(r.get("lastEvaluation", "").startswith("20") for r in rules) else None
        rules = harness.wait_until(evaluated, 15, what="every rule to be evaluated")
        unhealthy = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
        self.assertEqual(unhealthy, [])
        names = ("job_route:http_requests:rate5m", "job_route:http_requests_errors:ratio_rate5m",
                 "job:http_requests:rate5m", "job_route:http_request_duration_seconds:p99_5m",
                 "job_server_route:nginx_http_requests:rate5m",
                 "job_server_route:nginx_http_requests_errors:ratio_rate5m",
                 "job_server_route:nginx_http_request_duration_seconds:p99_5m")
        # A rule evaluated once may have run before its inputs had two
        # samples: wait (bounded) for an evaluation that had them.
        try:
            harness.wait_until(lambda: all(prom.query(name) for name in names), 15, interval=self.SCRAPE,
                               what="every recording rule to have data")
        except TimeoutError:
            pass  # the assertions below name the rule
        for name in names:
            self.assertTrue(prom.query(name), f"recording rule {name} has no data")


if __name__ == "__main__":
    unittest.main(verbosity=2)
