#!/usr/bin/python3
"""test_fcgi_lifecycle.py - the worker process itself: its own unix socket
(refuses a live one, replaces a stale one, mode and group), inherited sockets
(spawn-fcgi's fd 0, systemd's LISTEN_FDS fd 3, never a public TCP address),
SIGTERM/SIGINT, SIGHUP reloads (a bad file keeps the old configuration),
--check-config, --version, --help, the privilege drop, and connection
deadlines: a client that never stops sending neither keeps the only thread
nor delays SIGTERM."""
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

GET_METRICS = {"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/metrics", "QUERY_STRING": "name[]=http_requests_total"}
GET_LIVE = {"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/api/v1/health/live"}


def run_worker(*args, timeout=10):
    return subprocess.run([harness.WORKER, *args], capture_output=True, text=True, timeout=timeout)


class Flood:
    """A client that sends a whole request, then zero bytes without end: it
    reads its answer while the worker drains the connection before closing,
    which lasts as long as bytes keep coming. Stops when the worker cuts the
    connection (.cut) or on stop(); bounded by a time limit either way."""

    LIMIT_SECONDS = 30

    def __init__(self, socket_path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(socket_path)
        self.sock.sendall(harness.fastcgi_request_bytes(GET_LIVE))
        self.stopping = threading.Event()
        self.cut = False
        self.thread = threading.Thread(target=self._send, daemon=True)
        self.thread.start()

    def _send(self):
        zeros = b"\0" * 65536
        started = time.monotonic()
        while not self.stopping.is_set() and time.monotonic() - started < self.LIMIT_SECONDS:
            try:
                self.sock.send(zeros)
            except socket.timeout:
                continue
            except OSError:  # EPIPE / ECONNRESET: the worker closed it
                self.cut = True
                return

    def wait_answered(self):
        """Reads until the answer's FCGI_END_REQUEST record arrived."""
        data = b""
        while b"\x01\x03\x00\x01" not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"the worker closed the flooding connection unanswered: {data!r}")
            data += chunk
        return data

    def stop(self):
        self.stopping.set()
        self.thread.join(10)
        self.sock.close()


class Lifecycle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = harness.make_temp_dir(cls)
        cls.segment = os.path.join(cls.shared, "segment")
        demo = harness.start_demo(cls.shared, cls.segment, processes=1, requests=10, rate=0, testcase=cls)
        assert demo.wait(60) == 0, demo.log()

    def setUp(self):
        self.tmp = harness.make_temp_dir(self)

    def metric_names(self, socket_path):
        status, _, body = harness.fastcgi_request(socket_path, dict(GET_METRICS, QUERY_STRING=""))
        self.assertEqual(status, 200)
        return {name for name, _, _ in harness.samples(body)}

    def test_refuses_a_socket_a_live_worker_answers_on(self):
        first = harness.start_worker(self.tmp, self.segment, testcase=self)
        second = run_worker("--socket", first.socket, "--segment", self.segment)
        self.assertEqual(second.returncode, 1)
        self.assertIn(f"another process is already listening on {first.socket}", second.stderr)
        self.assertEqual(second.stderr.count("\n"), 1)
        self.assertEqual(harness.fastcgi_request(first.socket, GET_LIVE)[0], 200)

    def test_replaces_a_stale_socket(self):
        first = harness.start_worker(self.tmp, self.segment, testcase=self)
        first.stop(signal.SIGKILL)
        self.assertTrue(stat.S_ISSOCK(os.lstat(first.socket).st_mode))
        second = harness.start_worker(self.tmp, self.segment, socket_path=first.socket, testcase=self, name="w2")
        self.assertEqual(harness.fastcgi_request(second.socket, GET_METRICS)[0], 200)

    def test_refuses_a_path_that_is_not_a_socket(self):
        path = os.path.join(self.tmp, "file")
        open(path, "w").close()
        result = run_worker("--socket", path, "--segment", self.segment)
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"{path} exists and is not a socket", result.stderr)
        self.assertTrue(os.path.isfile(path))

    def test_a_missing_directory_is_named(self):
        path = os.path.join(self.tmp, "nodir", "w.sock")
        result = run_worker("--socket", path, "--segment", self.segment)
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"cannot bind {path}", result.stderr)

    def test_socket_mode_and_group(self):
        worker = harness.start_worker(self.tmp, self.segment, testcase=self)
        self.assertEqual(stat.S_IMODE(os.stat(worker.socket).st_mode), 0o660)
        args = ["--socket-mode", "0600"]
        if os.geteuid() == 0:
            args += ["--group", grp.getgrgid(65534).gr_name]
        other = harness.start_worker(self.tmp, self.segment, args=args, testcase=self, name="w2")
        st = os.stat(other.socket)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        if os.geteuid() == 0:
            self.assertEqual(st.st_gid, 65534)

    def test_sigterm_and_sigint_stop_gracefully_and_remove_the_socket(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            worker = harness.start_worker(self.tmp, self.segment, testcase=self, name=f"w{sig}")
            self.assertEqual(harness.fastcgi_request(worker.socket, GET_METRICS)[0], 200)
            self.assertEqual(worker.stop(sig), 0, worker.log())
            self.assertFalse(os.path.exists(worker.socket))
            self.assertIn("stopped", worker.log())

    def test_sighup_reloads_and_keeps_the_old_config_when_the_new_is_bad(self):
        config = os.path.join(self.tmp, "fastprom.json")
        with open(config, "w") as f:
            json.dump({"namespace": "first"}, f)
        worker = harness.start_worker(self.tmp, self.segment, args=["--config", config], testcase=self)
        self.assertIn("first_http_requests_total", self.metric_names(worker.socket))

        with open(config, "w") as f:
            json.dump({"namespace": "second", "health": {"min_writer_processes": 0}}, f)
        worker.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "second_http_requests_total" in self.metric_names(worker.socket), 5,
                           what="the reloaded namespace")

        with open(config, "w") as f:
            f.write('{"namespace": "third",\n "threads": "many"}')
        worker.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "keeping the running one" in worker.log(), 5, what="the reload error")
        self.assertIn(f"{config}:2:13: \"threads\" must be an integer", worker.log())
        self.assertIn("second_http_requests_total", self.metric_names(worker.socket))
        self.assertTrue(worker.alive())

    def test_check_config(self):
        good = run_worker("--config", os.path.join(harness.ROOT, "conf", "fastprom.json"), "--check-config")
        self.assertEqual(good.returncode, 0, good.stderr)
        self.assertIn("configuration OK", good.stdout)
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{\n  "threads": 4,\n  "therads": 4\n}\n')
        result = run_worker("--config", bad, "--check-config")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr.strip().split("\n"), [
            f'fastprom-fcgi: {bad}:3:3: unknown key "therads" (known keys here: socket, socket_mode, user, group, '
            "listen_backlog, segment, threads, namespace, uri_prefix, max_in_flight, render_deadline_seconds, "
            "io_timeout_seconds, gzip_level, gzip_min_bytes, openmetrics_created, health; keys starting with '_' "
            "are comments)"])
        result = run_worker("--threads", "0", "--check-config")
        self.assertEqual((result.returncode, result.stderr.strip()),
                         (1, 'fastprom-fcgi: --threads: must be an integer from 1 to 256, got "0"'))

    def test_version_help_and_usage_errors(self):
        result = run_worker("--version")
        self.assertEqual(result.returncode, 0)
        self.assertRegex(result.stdout, r"^fastprom-fcgi \d+\.\d+\.\d+ \(libfastprom \d+\.\d+\.\d+\)\n$")
        result = run_worker("--help")
        self.assertEqual(result.returncode, 0)
        for flag in ("--config", "--socket", "--segment", "--threads", "--namespace", "--uri-prefix", "--user",
                     "--group", "--socket-mode", "--check-config", "--version"):
            self.assertIn(flag, result.stdout)
        self.assertEqual(run_worker("--bogus").returncode, 2)
        self.assertEqual(run_worker("extra").returncode, 2)

    def test_spawn_fcgi_hands_over_fd_0(self):
        path = os.path.join(self.tmp, "spawned.sock")
        worker = harness.start_process(["spawn-fcgi", "-n", "-s", path, "-M", "0660", "--", harness.WORKER,
                                        "--segment", self.segment, "--socket", "/nonexistent/ignored.sock"],
                                       self.tmp, "spawned", testcase=self)
        harness.wait_until(lambda: harness.fastcgi_request(path, GET_METRICS)[0] == 200, 5, what="spawned worker")
        # The line follows the threads' start, which may come after they answer.
        harness.wait_until(lambda: "inherited fd 0" in worker.log(), 5, what="the worker's listening line")
        self.assertEqual(worker.stop(), 0)
        self.assertTrue(os.path.exists(path), "the inherited socket is not the worker's to remove")

    def test_systemd_listen_fds_hands_over_fd_3(self):
        path = os.path.join(self.tmp, "activated.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(16)
        fd = listener.fileno()
        # sh's $$ is the PID the worker keeps after exec, as systemd sets it.
        argv = ["/bin/sh", "-c", f'exec 3<&{fd}; LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"', harness.WORKER,
                "--segment", self.segment, "--socket", "/nonexistent/ignored.sock"]
        worker = harness.start_process(argv, self.tmp, "activated", pass_fds=(fd,), testcase=self)
        listener.close()
        harness.wait_until(lambda: harness.fastcgi_request(path, GET_METRICS)[0] == 200, 5, what="activated worker")
        harness.wait_until(lambda: "inherited fd 3 from systemd LISTEN_FDS" in worker.log(), 5,
                           what="the worker's listening line")
        self.assertEqual(worker.stop(), 0)

    def test_refuses_an_inherited_public_tcp_socket(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("0.0.0.0", 0))
        listener.listen(1)
        with listener:
            result = subprocess.run([harness.WORKER, "--segment", self.segment], stdin=listener.fileno(),
                                    capture_output=True, text=True, timeout=10)
        self.assertEqual(result.returncode, 1)
        self.assertIn("never a public address", result.stderr)

    def _descriptor_limited_worker(self, io_timeout_seconds):
        """A worker whose open-files limit leaves two descriptors beyond what
        it needs once the segment is open; returns it and its socket path."""
        config = os.path.join(self.tmp, "fastprom.json")
        with open(config, "w") as f:
            json.dump({"threads": 2, "io_timeout_seconds": io_timeout_seconds}, f)
        args = ["--config", config]
        # How many descriptors a running worker needs once the segment is open...
        probe = harness.start_worker(self.tmp, self.segment, args=args, testcase=self, name="probe")
        self.assertEqual(harness.fastcgi_request(probe.socket, GET_METRICS)[0], 200)
        samples = []  # the fewest seen: a finished connection may still be closing
        for _ in range(10):
            samples.append(len(os.listdir(f"/proc/{probe.pid}/fd")))
            time.sleep(0.05)
        baseline = min(samples)
        probe.stop()
        # ...and two more: the first held connection uses them up (its socket
        # and the watchdog's descriptor of it), the next accept fails with
        # EMFILE.
        limit = baseline + 2
        path = os.path.join(self.tmp, "limited.sock")
        worker = harness.start_process(["prlimit", f"--nofile={limit}:{limit}", harness.WORKER, "--socket", path,
                                        "--segment", self.segment, *args], self.tmp, "limited", testcase=self)
        # /metrics, like the probe: the segment's descriptor is open from now on
        harness.wait_until(lambda: harness.fastcgi_request(path, GET_METRICS)[0] == 200, 5, what="limited worker")
        return worker, path, limit

    def test_accept_errors_back_off_and_recover(self):
        worker, path, _ = self._descriptor_limited_worker(1)
        held = []
        try:
            for _ in range(3):  # silent peers: each holds a descriptor until the I/O timeout
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                held.append(s)
            harness.wait_until(lambda: "accept failed: Too many open files" in worker.log(), 5,
                               what="the EMFILE log line")
        finally:
            for s in held:
                s.close()
        self.assertIn("LimitNOFILE", worker.log())
        harness.wait_until(lambda: harness.fastcgi_request(path, GET_LIVE, timeout=5)[0] == 200, 10,
                           what="service after the descriptors came back")
        self.assertTrue(worker.alive())
        self.assertEqual(worker.log().count("accept failed"), 1, "the error is logged once, not per retry")

    def test_a_request_is_answered_while_idle_peers_fill_the_descriptor_table(self):
        # Regression: the intake admitted the request by closing an idle
        # peer, but the serving thread then found no descriptor for the
        # watchdog's copy of it and closed it unanswered, so idle peers
        # filling the table locked the web server out.
        worker, path, limit = self._descriptor_limited_worker(10)
        held = []

        def one_more_idle_peer_fills_the_table():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            held.append(s)
            time.sleep(0.05)  # past the spare ones, each new peer evicts the oldest
            return len(os.listdir(f"/proc/{worker.pid}/fd")) >= limit

        try:
            harness.wait_until(one_more_idle_peer_fills_the_table, 5, what="a full descriptor table")
            for _ in range(3):
                self.assertEqual(harness.fastcgi_request(path, GET_LIVE, timeout=5)[0], 200)
        finally:
            for s in held:
                s.close()
        self.assertIn("served with its I/O timeouts only", worker.log())
        self.assertTrue(worker.alive())

    def test_a_client_that_never_stops_sending_neither_pins_a_thread_nor_delays_sigterm(self):
        # libfcgi drains a connection it closes while bytes keep arriving; a
        # client streaming zero bytes used to hold the only thread forever,
        # and SIGTERM waited for it.
        io_timeout, render_deadline = 0.5, 0.5
        deadline = 2 * io_timeout + render_deadline  # per connection, from its accept
        config = os.path.join(self.tmp, "fastprom.json")
        with open(config, "w") as f:
            json.dump({"threads": 1, "io_timeout_seconds": io_timeout, "render_deadline_seconds": render_deadline}, f)
        worker = harness.start_worker(self.tmp, self.segment, args=["--config", config], testcase=self)
        flood = Flood(worker.socket)
        self.addCleanup(flood.stop)
        self.assertIn(b"Status: 200", flood.wait_answered())
        started = time.monotonic()
        status = harness.fastcgi_request(worker.socket, GET_LIVE, timeout=deadline + 10)[0]
        waited = time.monotonic() - started
        self.assertEqual(status, 200)
        self.assertLess(waited, deadline + 1.5, "the liveness request waited for the flood")
        flood.thread.join(5)
        self.assertTrue(flood.cut, "the worker never cut the flooding connection")
        _, _, body = harness.fastcgi_request(worker.socket, dict(GET_METRICS,
                                             QUERY_STRING="name[]=fastprom_connections_dropped_total"))
        self.assertIn(("fastprom_connections_dropped_total", {"reason": "deadline"}, 1.0), harness.samples(body))
        self.assertIn("cut a FastCGI connection", worker.log())

        again = Flood(worker.socket)
        self.addCleanup(again.stop)
        again.wait_answered()
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        self.assertEqual(worker.wait(5), 0, worker.log())
        self.assertLess(time.monotonic() - started, 3, "SIGTERM waited for the flood")

    @unittest.skipUnless(os.geteuid() == 0, "dropping privileges needs root")
    def test_root_drops_to_the_configured_user_after_binding(self):
        nobody = pwd.getpwnam("nobody")
        worker = harness.start_worker(self.tmp, self.segment, args=["--user", "nobody"], testcase=self)
        # The kernel accepts connections into the backlog as soon as the
        # socket listens, before the drop; an answered request comes from a
        # serving thread, which starts only after it.
        self.assertEqual(harness.fastcgi_request(worker.socket, GET_LIVE)[0], 200)
        with open(f"/proc/{worker.pid}/status") as f:
            uids = [line.split()[1:] for line in f if line.startswith(("Uid:", "Gid:"))]
        self.assertEqual(uids[0], [str(nobody.pw_uid)] * 4)
        self.assertEqual(uids[1], [str(nobody.pw_gid)] * 4)
        self.assertEqual(os.stat(worker.socket).st_uid, nobody.pw_uid)


if __name__ == "__main__":
    unittest.main(verbosity=2)
