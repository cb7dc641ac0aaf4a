#!/usr/bin/python3
"""deploy/prometheus checked by promtool, the tool Prometheus itself uses:
the configuration and rules load, and the rule unit tests pass. Also that
those unit tests really cover every alert both ways (firing and silent), and
that the scrape timeout leaves room for nginx's FastCGI timeouts.

The rules' behaviour against a live exporter is in test_deploy_grafana.py,
which runs a real Prometheus with this configuration.
"""
import glob
import os
import re
import unittest

from deploy_support import PROMETHEUS_DIR, ROOT, load_yaml, run

RULES = sorted(glob.glob(os.path.join(PROMETHEUS_DIR, "rules/*.yml")))
RULE_TESTS = sorted(glob.glob(os.path.join(PROMETHEUS_DIR, "tests/*.yml")))
NGINX_CONF = os.path.join(ROOT, "conf/nginx")


def seconds(duration):
    """Prometheus / nginx durations: 10s, 1m, 500ms, or a bare number of seconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", duration.strip())
    if not m:
        raise ValueError(f"not a duration: {duration!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def nginx_fastcgi_timeouts():
    """{directive: seconds} of every fastcgi_*_timeout in conf/nginx, the
    largest when a directive appears more than once."""
    found = {}
    for path in glob.glob(os.path.join(NGINX_CONF, "**/*"), recursive=True):
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as f:
            text = re.sub(r"#.*", "", f.read())
        for name, value in re.findall(r"\b(fastcgi_\w+_timeout)\s+([^;\s]+)\s*;", text):
            found[name] = max(found.get(name, 0), seconds(value))
    return found


class PromtoolTest(unittest.TestCase):
    def test_config_is_valid_without_warnings(self):
        out = run(["promtool", "check", "config", "prometheus.yml"], cwd=PROMETHEUS_DIR)
        text = out.stdout + out.stderr
        self.assertIn("SUCCESS", text)
        self.assertNotIn("WARNING", text)

    def test_rules_are_valid(self):
        self.assertEqual(len(RULES), 2, RULES)
        out = run(["promtool", "check", "rules"] + RULES)
        self.assertNotIn("WARNING", out.stdout + out.stderr)

    def test_rule_unit_tests_pass(self):
        out = run(["promtool", "test", "rules"] + RULE_TESTS)
        self.assertEqual(out.stdout.count("SUCCESS"), len(RULE_TESTS), out.stdout)

    def test_file_sd_examples_are_target_groups(self):
        for pattern in ("targets/*.yml", "alertmanagers/*.yml"):
            files = glob.glob(os.path.join(PROMETHEUS_DIR, pattern))
            self.assertTrue(files, f"no {pattern} example")
            for path in files:
                groups = load_yaml(path)
                self.assertIsInstance(groups, list, path)
                for g in groups:
                    self.assertTrue(g["targets"], path)
                    for t in g["targets"]:
                        self.assertRegex(t, r"^[\w.-]+:\d+$", path)


class RuleCoverageTest(unittest.TestCase):
    """The brief: every alert must be shown to fire AND to stay silent."""

    def test_every_alert_fires_and_stays_silent_in_the_unit_tests(self):
        alerts = {r["alert"] for path in RULES for g in load_yaml(path)["groups"]
                  for r in g["rules"] if "alert" in r}
        self.assertTrue({"FastpromTargetDown", "FastpromHealthFail", "FastpromScrapeSlow",
                         "FastpromSegmentNearlyFull", "FastpromSeriesDropped", "FastpromWritersGone",
                         "HttpHigh5xxRatio", "HttpHighP99Latency"} <= alerts, alerts)
        fired, silent = set(), set()
        for path in RULE_TESTS:
            for case in load_yaml(path)["tests"]:
                for t in case.get("alert_rule_test", []):
                    (fired if t.get("exp_alerts") else silent).add(t["alertname"])
        self.assertEqual(alerts - fired, set(), "alerts never shown firing")
        self.assertEqual(alerts - silent, set(), "alerts never shown silent")

    def test_every_recording_rule_has_an_expected_value(self):
        recorded = {r["record"] for path in RULES for g in load_yaml(path)["groups"]
                    for r in g["rules"] if "record" in r}
        tested = {t["expr"] for path in RULE_TESTS for case in load_yaml(path)["tests"]
                  for t in case.get("promql_expr_test", [])}
        # The bucket rate is an intermediate, checked through the quantiles.
        self.assertEqual(recorded - tested, {"job_route_le:http_request_duration_seconds_bucket:rate5m",
                                             "job_route:http_requests_5xx:rate5m"})


class TimeoutTest(unittest.TestCase):
    def test_scrape_timeout_is_above_nginx_fastcgi_timeouts(self):
        self.assertTrue(os.path.isdir(NGINX_CONF), "conf/nginx/ is missing (the worker's nginx snippet)")
        timeouts = nginx_fastcgi_timeouts()
        self.assertIn("fastcgi_read_timeout", timeouts, "conf/nginx sets no fastcgi_read_timeout")
        cfg = load_yaml(os.path.join(PROMETHEUS_DIR, "prometheus.yml"))
        job = next(j for j in cfg["scrape_configs"] if j["job_name"] == "fastprom")
        scrape_timeout = seconds(job.get("scrape_timeout", cfg["global"]["scrape_timeout"]))
        # A stuck worker costs nginx at most connect + read before its 504
        # (the request itself is a few hundred bytes: send never waits).
        worst = timeouts.get("fastcgi_connect_timeout", 60) + timeouts["fastcgi_read_timeout"]
        self.assertGreater(scrape_timeout, worst, f"nginx timeouts {timeouts}")
        self.assertLess(scrape_timeout, seconds(job.get("scrape_interval", cfg["global"]["scrape_interval"])) + 0.001)
        self.assertEqual(job["metrics_path"], "/metrics")


if __name__ == "__main__":
    unittest.main(verbosity=2)
