#!/usr/bin/python3
"""test_nginxlog_daemon.py - fastprom-nginxlog as an operator runs it:

  - --check-config accepts the shipped file and names the mistake in a bad one;
  - SIGHUP applies new rules, and a bad file keeps the running ones;
  - SIGTERM exits 0 and removes its socket; a second daemon on a live
    socket is refused; a stale socket file is replaced;
  - every line delivered to the socket before SIGTERM is recorded, the ones
    still queued while the daemon naps between reads included;
  - the socket gets the configured mode and group, and as root the daemon
    runs as the configured user;
  - a segment removed under it is made again and written to;
  - restarted while nginx is under load: what was recorded stays, nothing
    is counted twice (exported <= nginx's count), and the count resumes.
"""
import grp
import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import nginxlog_support as ns  # noqa: E402

SITE = """
server {
    listen 127.0.0.1:{port};
    server_name app.test;
    include {snippet};
    location = /nginx_status { stub_status; access_log off; }
    location / { return 200 "ok\\n"; }
}
"""


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


class CheckConfig(unittest.TestCase):
    def test_the_shipped_file_passes_and_mistakes_are_named(self):
        out = run([ns.NGINXLOG, "--config", os.path.join(harness.ROOT, "conf/nginxlog.json"), "--check-config"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("configuration OK", out.stdout)
        tmp = harness.make_temp_dir(self)
        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            json.dump({"rules": [{"match": "^/(", "route": "/x"}]}, f)
        out = run([ns.NGINXLOG, "--config", bad, "--check-config"])
        self.assertEqual(out.returncode, 1)
        self.assertIn("rules[0].match is not a POSIX extended regex", out.stderr)
        out = run([ns.NGINXLOG, "--bogus"])
        self.assertEqual(out.returncode, 2)


class Lifecycle(unittest.TestCase):
    def test_sighup_applies_rules_and_a_bad_file_keeps_them(self):
        stack = ns.start_stack(self, SITE, config={"rules": [{"match": "^/a/", "route": "/a/*"}]})
        harness.http_get(stack.nginx.url("/a/1"))
        stack.wait_datagrams(1)
        self.assertEqual(stack.value("nginx_http_requests_total", route="/a/*"), 1)
        with open(stack.daemon.config_path, "w") as f:
            json.dump({"rules": [{"match": "^/a/", "route": "/a/{n}"}]}, f)
        stack.daemon.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "configuration reloaded" in stack.daemon.log(), 10, what="the reload")
        harness.http_get(stack.nginx.url("/a/2"))
        stack.wait_datagrams(2)
        self.assertEqual(stack.value("nginx_http_requests_total", route="/a/{n}"), 1)
        with open(stack.daemon.config_path, "w") as f:
            f.write('{"rules": [{"match": "^/a/"')  # cut short
        stack.daemon.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "keeping the running one" in stack.daemon.log(), 10, what="the refused reload")
        harness.http_get(stack.nginx.url("/a/3"))
        stack.wait_datagrams(3)
        self.assertEqual(stack.value("nginx_http_requests_total", route="/a/{n}"), 2)
        self.assertTrue(stack.daemon.alive())

    def test_sigterm_exits_cleanly_and_removes_the_socket(self):
        tmp = harness.make_temp_dir(self)
        daemon = ns.start_nginxlog(tmp, os.path.join(tmp, "segment"), testcase=self)
        self.assertTrue(os.path.exists(daemon.socket))
        # A second daemon on the same live socket is refused, not a thief.
        second = run([ns.NGINXLOG, "--socket", daemon.socket, "--segment", os.path.join(tmp, "segment")])
        self.assertEqual(second.returncode, 1)
        self.assertIn("another process is already receiving on", second.stderr)
        self.assertEqual(daemon.stop(signal.SIGTERM), 0)
        self.assertFalse(os.path.exists(daemon.socket))
        self.assertIn("stopped", daemon.log())

    def test_lines_queued_at_sigterm_are_recorded(self):
        tmp = harness.make_temp_dir(self)
        segment = os.path.join(tmp, "segment")
        # Long naps, so that SIGTERM finds lines queued.
        daemon = ns.start_nginxlog(tmp, segment, testcase=self,
                                   config={"receive_coalesce_ms": 50, "receive_coalesce_lines": 128})
        line = b"<190>Dec  6 19:48:30 fastprom: fp1\tq.test\tGET\t200\t0.001\t-\t-\t10\t10\t1.0\t/q\t/q"
        sent = 0
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as c:
            c.connect(daemon.socket)
            for burst in range(20):  # bursts of 100 with pauses: the daemon reads, naps, reads
                for _ in range(100):
                    c.send(line)  # blocking: a full queue waits, nothing is dropped
                    sent += 1
                time.sleep(0.01 * (burst % 3))
        self.assertEqual(daemon.stop(signal.SIGTERM), 0)
        dump = run([os.path.join(harness.BUILD, "fastprom"), "--path", segment, "dump"]).stdout
        recorded = sum(float(l.split()[-1]) for l in dump.splitlines() if l.startswith("nginxlog_lines_recorded_total"))
        requests = sum(float(l.split()[-1]) for l in dump.splitlines() if l.startswith("nginx_http_requests_total{"))
        self.assertEqual((recorded, requests), (sent, sent), dump[-2000:])

    def test_a_stale_socket_file_is_replaced(self):
        tmp = harness.make_temp_dir(self)
        path = os.path.join(tmp, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        s.close()  # the file stays, nobody receives: what a crash leaves
        daemon = ns.start_nginxlog(tmp, os.path.join(tmp, "segment"), socket_path=path, testcase=self)
        self.assertTrue(daemon.alive())

    def test_socket_mode_group_and_privilege_drop(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to give the socket away and switch users")
        tmp = harness.make_temp_dir(self)
        os.chmod(tmp, 0o777)
        group = "www-data" if self._exists_group("www-data") else grp.getgrgid(0).gr_name
        segment = os.path.join(tmp, "segment")
        daemon = ns.start_nginxlog(tmp, segment, args=["--user", "nobody", "--group", group, "--socket-mode", "0620"],
                                   testcase=self, qlen=None)
        st = os.stat(daemon.socket)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o620)
        self.assertEqual((st.st_uid, st.st_gid), (pwd.getpwnam("nobody").pw_uid, grp.getgrnam(group).gr_gid))
        with open(f"/proc/{daemon.pid}/status") as f:
            uids = [line.split()[1:] for line in f if line.startswith(("Uid:", "Gid:"))]
        self.assertEqual(set(uids[0]), {str(pwd.getpwnam("nobody").pw_uid)}, "real, effective, saved, fs uid")
        self.assertEqual(set(uids[1]), {str(grp.getgrnam(group).gr_gid)})

    @staticmethod
    def _exists_group(name):
        try:
            grp.getgrnam(name)
            return True
        except KeyError:
            return False


class SegmentReplaced(unittest.TestCase):
    def test_a_removed_segment_is_made_again_and_written(self):
        stack = ns.start_stack(self, SITE)
        harness.http_get(stack.nginx.url("/before"))
        stack.wait_datagrams(1)
        os.unlink(stack.segment)  # an operator cleaning up /run/fastprom
        harness.wait_until(lambda: "was removed or replaced: now writing" in stack.daemon.log(), 15,
                           what="the daemon to attach to a new segment")
        self.assertTrue(os.path.exists(stack.segment))
        for _ in range(3):
            harness.http_get(stack.nginx.url("/after"))
        harness.wait_until(lambda: stack.value("nginx_http_requests_total") == 3, 15,
                           what="the new segment's counts through the worker")
        self.assertTrue(stack.daemon.alive())


class RestartUnderLoad(unittest.TestCase):
    def test_nothing_counted_twice_and_what_was_written_stays(self):
        stack = ns.start_stack(self, SITE)
        stop = threading.Event()
        served = [0]

        def load():
            while not stop.is_set():
                try:
                    if harness.http_get(stack.nginx.url("/load"), timeout=5).status == 200:
                        served[0] += 1
                except OSError:
                    pass
        threads = [threading.Thread(target=load) for _ in range(4)]
        base = stack.stub_requests()
        for t in threads:
            t.start()
        try:
            harness.wait_until(lambda: stack.value("nginx_http_requests_total") >= 200, 20, what="200 requests")
            before = stack.value("nginx_http_requests_total")
            self.assertEqual(stack.daemon.stop(signal.SIGTERM), 0)
            after_stop = stack.value("nginx_http_requests_total")
            self.assertGreaterEqual(after_stop, before, "a stopped daemon's counts stay in the segment")
            time.sleep(0.5)  # nginx keeps serving; these lines have nowhere to go
            stack.daemon = ns.start_nginxlog(stack.tmp, stack.segment, socket_path=stack.daemon.socket,
                                             testcase=self, name="nginxlog2")
            harness.wait_until(lambda: stack.value("nginx_http_requests_total") >= after_stop + 200, 20,
                               what="counting to resume after the restart")
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        time.sleep(0.5)  # the last datagrams
        nginx = stack.stub_requests() - base - 1
        exported = stack.value("nginx_http_requests_total")
        print(f"\n  nginx served {nginx}, exported {exported:.0f} (lost while no daemon ran: {nginx - exported:.0f})",
              end=" ")
        self.assertLessEqual(exported, nginx, "a line counted twice")
        self.assertGreater(exported, after_stop)


if __name__ == "__main__":
    unittest.main(verbosity=2)
