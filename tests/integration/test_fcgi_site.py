#!/usr/bin/python3
"""test_fcgi_site.py - seed 004's picture with the shipped example site: a
Flask app under gunicorn, proxied by nginx at "location /", answered 404 to
Prometheus' /metrics. With conf/nginx/example-site.conf the same nginx serves
/metrics and the health routes from fastprom-fcgi while every other path
still reaches the app."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

FLASK_APP = '''
from flask import Flask
app = Flask(__name__)

@app.route("/")
def index():
    return "hello from flask\\n"

@app.route("/api/v1/orders")
def orders():
    return {"orders": []}
'''


def adapt(site, port, app_port):
    """The example site with test ports and the test snippet; each edit must
    apply, so a changed example fails here instead of silently testing less."""
    edits = [("listen 80;", f"listen 127.0.0.1:{port};"), ("    listen [::]:80;\n", ""),
             ("include /etc/nginx/snippets/fastprom-locations.conf;", "include {snippet};"),
             ("server 127.0.0.1:5000;", f"server 127.0.0.1:{app_port};")]
    for old, new in edits:
        assert old in site, f"example-site.conf no longer contains {old!r}"
        site = site.replace(old, new)
    return site


class ExampleSite(unittest.TestCase):
    def test_the_app_keeps_its_paths_and_metrics_stop_being_404(self):
        tmp = harness.make_temp_dir(self)
        segment = os.path.join(tmp, "segment")
        demo = harness.start_demo(tmp, segment, processes=2, requests=25, rate=0, testcase=self)
        self.assertEqual(demo.wait(60), 0)
        with open(os.path.join(tmp, "app.py"), "w") as f:
            f.write(FLASK_APP)
        app_port = harness.free_port()
        app = harness.start_process(["gunicorn", "--bind", f"127.0.0.1:{app_port}", "--workers", "1", "app:app"],
                                    tmp, "gunicorn", testcase=self)
        harness.wait_until(lambda: harness.http_get(f"http://127.0.0.1:{app_port}/").status == 200, 20,
                           what="gunicorn")
        # Before: the app alone answers Prometheus with a 404 (seed 004's log).
        self.assertEqual(harness.http_get(f"http://127.0.0.1:{app_port}/metrics").status, 404)

        worker = harness.start_worker(tmp, segment, testcase=self)
        with open(harness.NGINX_EXAMPLE_SITE) as f:
            port = harness.free_port()
            site = adapt(f.read(), port, app_port)
        nginx = harness.start_nginx(tmp, worker.socket, port=port, site=site, testcase=self)

        r = harness.http_get(nginx.url("/"))
        self.assertEqual((r.status, r.body), (200, b"hello from flask\n"))
        self.assertEqual(harness.http_get(nginx.url("/api/v1/orders")).status, 200)
        self.assertEqual(harness.http_get(nginx.url("/nothing-here")).status, 404)

        r = harness.http_get(nginx.url("/metrics"))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        self.assertEqual(sum(v for n, _, v in harness.samples(r.body) if n == "http_requests_total"), 50)
        self.assertEqual(harness.http_get(nginx.url("/api/v1/health/prometheus")).status, 200)
        self.assertEqual(harness.http_get(nginx.url("/api/v1/health/live")).status, 200)
        self.assertTrue(app.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
