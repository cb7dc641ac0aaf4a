#!/usr/bin/python3
"""deploy/ for fastprom-nginxlog, checked as test_deploy_systemd.py checks
the worker's units:
  - `systemd-analyze verify` on fastprom-nginxlog.{socket,service} with
    ExecStart pointing at the built daemon: no output at all;
  - `systemd-analyze security --offline` rates the service SAFE;
  - the socket is a datagram socket writable by nginx's group only, where
    conf/nginx/fastprom-nginxlog.conf sends, and the service shares the
    worker's user, group and runtime directory;
  - the daemon accepts the service's command line with the shipped
    configuration (--check-config), and nginx accepts the shipped snippet;
  - fastprom-nginxlog(8) documents every option --help lists, and no other.
Socket activation itself (LISTEN_FDS, fd 3) runs for real in the last test.
"""
import os
import re
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from deploy_support import (DEPLOY, ROOT, dashboard_targets, load_dashboard, run, systemd_exposure,  # noqa: E402
                            systemd_verify, temp_dir, unit_settings)

NGINXLOG = os.path.join(harness.BUILD, "fastprom-nginxlog")
SYSTEMD = os.path.join(DEPLOY, "systemd")
SERVICE = os.path.join(SYSTEMD, "fastprom-nginxlog.service")
SOCKET = os.path.join(SYSTEMD, "fastprom-nginxlog.socket")
WORKER_SERVICE = os.path.join(SYSTEMD, "fastprom-fcgi.service")
SNIPPET = os.path.join(ROOT, "conf/nginx/fastprom-nginxlog.conf")
UNIT_PATH = "/usr/sbin/fastprom-nginxlog"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*[a-z]")


def require_daemon(testcase):
    if not os.access(NGINXLOG, os.X_OK):
        testcase.fail(f"{NGINXLOG} is missing: run `make` first")


class Units(unittest.TestCase):
    def test_units_verify_without_a_single_warning(self):
        require_daemon(self)
        self.assertEqual(systemd_verify(temp_dir(self), (SOCKET, SERVICE), UNIT_PATH, NGINXLOG), (0, ""))

    def test_security_review_rates_the_service_safe(self):
        exposure, rating = systemd_exposure(SERVICE)
        print(f"\n  systemd-analyze security: exposure {exposure} {rating}", end=" ")
        self.assertEqual(rating, "SAFE")
        self.assertLessEqual(exposure, 1.0)

    def test_socket_for_nginx_where_the_snippet_sends(self):
        s = unit_settings(SOCKET)
        self.assertNotIn("ListenStream", s)
        (listen,) = s["ListenDatagram"]
        self.assertEqual((s["SocketMode"], s["SocketUser"], s["SocketGroup"]), (["0660"], ["fastprom"], ["www-data"]))
        with open(SNIPPET) as f:
            sends = re.findall(r"^\s*access_log\s+syslog:server=unix:([^,\s]+),([^\s]+)\s+(\w+)\s*;", f.read(), re.M)
        self.assertEqual(len(sends), 1, sends)
        path, options, fmt = sends[0]
        self.assertEqual(path, listen)
        self.assertIn("nohostname", options.split(","))
        self.assertIn("tag=fastprom", options.split(","))
        self.assertEqual(fmt, "fastprom")

    def test_service_shares_the_workers_user_and_directory(self):
        mine, worker = unit_settings(SERVICE), unit_settings(WORKER_SERVICE)
        for key in ("User", "Group", "RuntimeDirectory", "RuntimeDirectoryMode", "RuntimeDirectoryPreserve"):
            self.assertEqual(mine[key], worker[key], key)
        for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("RestrictAddressFamilies", "AF_UNIX"),
                           ("ExecReload", "/bin/kill -HUP $MAINPID"), ("Requires", "fastprom-nginxlog.socket")):
            self.assertEqual(mine.get(key), [value], key)
        self.assertIn("--segment /run/fastprom/segment", mine["ExecStart"][0])
        self.assertIn("--segment /run/fastprom/segment", worker["ExecStart"][0])

    def test_the_daemon_accepts_the_services_command_line(self):
        require_daemon(self)
        argv = unit_settings(SERVICE)["ExecStart"][0].split()
        self.assertEqual(argv[0], UNIT_PATH)
        argv[argv.index("--config") + 1] = os.path.join(ROOT, "conf/nginxlog.json")
        run([NGINXLOG] + argv[1:] + ["--check-config"], timeout=20)

    def test_nginx_accepts_the_snippet(self):
        tmp = temp_dir(self)
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"pid {tmp}/nginx.pid; error_log {tmp}/error.log; events {{}}\n"
                    f"http {{ include {SNIPPET};\n"
                    f"  server {{ listen 127.0.0.1:1; location /u {{ set $fastprom_route \"/u\"; }} }} }}\n")
        out = run(["nginx", "-t", "-q", "-p", tmp, "-e", os.path.join(tmp, "error.log"), "-c", conf], check=False)
        self.assertEqual(out.returncode, 0, out.stderr)


class DashboardAndRules(unittest.TestCase):
    """The nginx row of the dashboard and the nginx recording rules; their
    queries run against live data in test_deploy_grafana.py and their
    values in deploy/prometheus/tests/nginx-recording.test.yml."""

    def test_the_nginx_panels_the_issue_asks_for(self):
        exprs = " ".join(e for _, _, e in dashboard_targets(load_dashboard()))
        for needle in ("sum by (server, route) (rate(nginx_http_requests_total", 'status=~"5.."',
                       "histogram_quantile(0.50, sum by (server, route, le) (rate(nginx_http_request_duration_seconds_bucket",
                       "histogram_quantile(0.95, sum by (server, route, le) (rate(nginx_http_request_duration_seconds_bucket",
                       "histogram_quantile(0.99, sum by (server, route, le) (rate(nginx_http_request_duration_seconds_bucket",
                       "nginxlog_malformed_total", "nginxlog_dropped_total", "nginxlog_lag_seconds"):
            self.assertIn(needle, exprs)

    def test_recording_rules_per_server_and_route(self):
        import yaml
        with open(os.path.join(DEPLOY, "prometheus/rules/fastprom-recording.yml")) as f:
            groups = {g["name"]: g for g in yaml.safe_load(f)["groups"]}
        records = {r["record"] for r in groups["fastprom-nginx-recording"]["rules"]}
        self.assertTrue({"job_server_route:nginx_http_requests:rate5m",
                         "job_server_route:nginx_http_requests_errors:ratio_rate5m",
                         "job_server_route:nginx_http_request_duration_seconds:p50_5m",
                         "job_server_route:nginx_http_request_duration_seconds:p95_5m",
                         "job_server_route:nginx_http_request_duration_seconds:p99_5m"} <= records, records)


class ManPage(unittest.TestCase):
    def test_every_option_and_no_other(self):
        require_daemon(self)
        text = run(["man", "-l", os.path.join(DEPLOY, "man", "fastprom-nginxlog.8")],
                   env=dict(os.environ, MANWIDTH="200")).stdout
        keep, documented = False, set()
        for line in text.splitlines():
            if re.match(r"^[A-Z][A-Z ]+$", line):
                keep = line.strip() in ("SYNOPSIS", "OPTIONS")
            elif keep:
                documented |= set(FLAG.findall(line))
        offered = set(FLAG.findall(run([NGINXLOG, "--help"]).stdout))
        self.assertEqual(documented, offered)


class SocketActivation(unittest.TestCase):
    def test_a_datagram_socket_on_fd_3_is_used(self):
        """What systemd does: bind the socket, start the daemon with it on
        fd 3 and LISTEN_PID/LISTEN_FDS set (here via a tiny exec wrapper so
        LISTEN_PID is the daemon's own pid)."""
        require_daemon(self)
        tmp = harness.make_temp_dir(self)
        path = os.path.join(tmp, "activated.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        self.addCleanup(sock.close)
        os.set_inheritable(sock.fileno(), True)
        wrapper = ('import os,sys; os.dup2(int(sys.argv[1]), 3); os.environ["LISTEN_PID"] = str(os.getpid()); '
                   'os.environ["LISTEN_FDS"] = "1"; os.execv(sys.argv[2], sys.argv[2:])')
        segment = os.path.join(tmp, "segment")
        proc = harness.start_process([sys.executable, "-c", wrapper, str(sock.fileno()), NGINXLOG, "--segment",
                                      segment, "--socket", "/nonexistent/ignored.sock"],
                                     tmp, "activated", testcase=self, pass_fds=(sock.fileno(),))
        harness.wait_until(lambda: "receiving on inherited fd 3" in proc.log(), 10, what="the daemon on fd 3")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as c:
            c.connect(path)
            c.send(b"<190>Dec  6 19:48:30 fastprom: fp1\ts\tGET\t200\t0.001\t\t\t1\t1\t1.0\t/r\t/r")
        dump = os.path.join(harness.BUILD, "fastprom")
        harness.wait_until(lambda: 'route="/r"' in subprocess.run([dump, "--path", segment, "dump"], text=True,
                                                                  capture_output=True).stdout,
                           10, what="the line in the segment")
        self.assertEqual(proc.stop(), 0)
        self.assertTrue(os.path.exists(path), "an inherited socket is not ours to remove")


if __name__ == "__main__":
    unittest.main(verbosity=2)
