#!/usr/bin/python3
"""The worker started the ways deploy/ documents, serving a real nginx:
  - under spawn-fcgi -n (listening socket on fd 0, privileges dropped by
    spawn-fcgi), with the documented socket mode and owner;
  - with the systemd unit's exact command line under systemd-socket-activate
    (the LISTEN_FDS protocol, socket on fd 3), reloaded with the unit's
    ExecReload and stopped with SIGTERM;
  - the same under strace, through every route, a reload, a segment that
    disappears and comes back, and shutdown: every system call it makes is
    one the unit's SystemCallFilter allows, every socket it opens is AF_UNIX
    (RestrictAddressFamilies) and no mapping is writable and executable
    (MemoryDenyWriteExecute). With no systemd as PID 1 here, this is how the
    unit's sandbox is shown to fit the worker.
"""
import glob
import gzip
import json
import os
import re
import shlex
import signal
import stat
import unittest

import harness
from deploy_support import DEPLOY, ROOT, WORKER, run, syscall_group, unit_settings

CLI = os.path.join(harness.BUILD, "fastprom")
CONF = os.path.join(ROOT, "conf/fastprom.json")
SERVICE = os.path.join(DEPLOY, "systemd/fastprom-fcgi.service")
OPENMETRICS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
                      "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


def requests_total(body):
    """Sum of every http_requests_total sample in a text exposition."""
    return sum(float(m) for m in re.findall(r"(?m)^http_requests_total\{.*\} (\S+)$", body))


def unit_command(segment):
    """The service's ExecStart, with the paths of this test."""
    argv = shlex.split(unit_settings(SERVICE)["ExecStart"][0])
    argv[0] = WORKER
    argv[argv.index("--config") + 1] = CONF
    argv[argv.index("--segment") + 1] = segment
    return argv


def prepare_segment(test, tmp, requests=10, mode="0640"):
    """A segment holding 2 processes x `requests` requests of the demo."""
    segment = os.path.join(tmp, "segment")
    run([CLI, "--path", segment, "init", "--mode", mode])
    demo = harness.start_demo(tmp, segment, processes=2, requests=requests, args=["--uniform"], testcase=test)
    test.assertEqual(demo.wait(30), 0, demo.log())
    return segment


def wait_listening(proc, path):
    def ready():
        if not proc.alive():
            raise AssertionError(f"{proc.name} exited {proc.returncode}:\n{proc.log()}")
        return harness._can_connect_unix(path)
    harness.wait_until(ready, 10, what=f"{proc.name} listening on {path}")


def children(pid):
    """PIDs whose parent is pid."""
    out = []
    for status in glob.glob("/proc/[0-9]*/status"):
        try:
            with open(status) as f:
                ppid = int(re.search(r"^PPid:\s+(\d+)", f.read(), re.M).group(1))
        except (OSError, AttributeError):
            continue
        if ppid == pid:
            out.append(int(status.split("/")[2]))
    return out


class SpawnFcgiTest(unittest.TestCase):
    def test_worker_under_spawn_fcgi_serves_through_nginx(self):
        tmp = harness.make_temp_dir(self)
        # spawn-fcgi drops the worker to nobody: it reads the segment as "other".
        segment = prepare_segment(self, tmp, mode="0644")
        sock = os.path.join(tmp, "spawn.sock")
        spawn = harness.start_process(
            ["spawn-fcgi", "-s", sock, "-M", "0660", "-u", "nobody", "-g", "nogroup", "-U", "nobody",
             "-G", "nogroup", "-n", "--", WORKER, "--config", CONF, "--segment", segment],
            tmp, "spawn-fcgi", testcase=self)
        wait_listening(spawn, sock)
        # -n: spawn-fcgi becomes the worker, socket on fd 0, as nobody. It
        # listens before it execs, so a connectable socket does not yet mean
        # the exec happened (CI once read /proc/PID/exe in between).
        harness.wait_until(lambda: os.readlink(f"/proc/{spawn.pid}/exe") == os.path.realpath(WORKER), 10,
                           what="spawn-fcgi to exec the worker")
        self.assertTrue(os.readlink(f"/proc/{spawn.pid}/fd/0").startswith("socket:"))
        self.assertEqual(os.stat(f"/proc/{spawn.pid}").st_uid, 65534)
        st = os.stat(sock)
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid), (0o660, 65534, 65534))

        nginx = harness.start_nginx(tmp, sock, testcase=self)
        r = harness.http_get(nginx.url("/metrics"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(requests_total(r.body.decode()), 20)
        r = harness.http_get(nginx.url("/api/v1/health/prometheus"))
        self.assertEqual(r.status, 200, r)
        self.assertIn(json.loads(r.body)["status"], ("pass", "warn"))
        self.assertEqual(spawn.stop(), 0, spawn.log())


class SocketActivationTest(unittest.TestCase):
    def test_the_units_command_line_under_socket_activation(self):
        tmp = harness.make_temp_dir(self)
        segment = prepare_segment(self, tmp)
        sock = os.path.join(tmp, "activated.sock")
        act = harness.start_process(["systemd-socket-activate", "-l", sock, "--"] + unit_command(segment),
                                    tmp, "socket-activate", testcase=self)
        wait_listening(act, sock)
        nginx = harness.start_nginx(tmp, sock, testcase=self)
        # The first connection starts the worker in the activator's place;
        # it can only answer on this path through the inherited fd 3.
        r = harness.http_get(nginx.url("/metrics"))
        self.assertEqual((r.status, requests_total(r.body.decode())), (200, 20), r)
        self.assertEqual(os.readlink(f"/proc/{act.pid}/exe"), os.path.realpath(WORKER))
        self.assertTrue(os.readlink(f"/proc/{act.pid}/fd/3").startswith("socket:"))

        # ExecReload=/bin/kill -HUP $MAINPID
        reload = unit_settings(SERVICE)["ExecReload"][0].replace("$MAINPID", str(act.pid))
        run(shlex.split(reload))
        harness.wait_until(lambda: harness.http_get(nginx.url("/api/v1/health/live")).status == 200, 5,
                           what="the worker to serve after SIGHUP")
        self.assertTrue(act.alive())
        self.assertEqual(act.stop(signal.SIGTERM), 0, act.log())


class SyscallFilterTest(unittest.TestCase):
    def allowed_syscalls(self):
        allow, deny = set(), set()
        for entry in unit_settings(SERVICE)["SystemCallFilter"]:
            target = deny if entry.startswith("~") else allow
            for name in entry.lstrip("~").split():
                target |= syscall_group(name) if name.startswith("@") else {name}
        self.assertTrue(allow, "the unit must use an allow-list")
        return allow - deny

    def test_the_worker_stays_inside_the_units_sandbox(self):
        tmp = harness.make_temp_dir(self)
        segment = prepare_segment(self, tmp)
        sock = os.path.join(tmp, "traced.sock")
        trace = os.path.join(tmp, "trace")
        tracer = harness.start_process(
            ["strace", "-f", "-ff", "-qq", "-s", "64", "-o", trace, "--",
             "systemd-socket-activate", "-l", sock, "--"] + unit_command(segment),
            tmp, "strace", testcase=self)
        wait_listening(tracer, sock)
        nginx = harness.start_nginx(tmp, sock, testcase=self)
        self.exercise(nginx, segment)
        workers = children(tracer.pid)
        self.assertEqual(len(workers), 1, workers)
        os.kill(workers[0], signal.SIGHUP)
        harness.wait_until(lambda: harness.http_get(nginx.url("/metrics")).status == 200, 5,
                           what="the worker to serve after SIGHUP")
        os.kill(workers[0], signal.SIGTERM)
        self.assertEqual(tracer.wait(20), 0, tracer.log())

        used, families, wx = self.read_trace(trace)
        self.assertGreater(len(used), 20, "the trace looks empty")
        print(f"\n  {len(used)} distinct system calls traced", end=" ")
        self.assertEqual(used - self.allowed_syscalls(), set(), "calls the unit's SystemCallFilter would refuse")
        self.assertLessEqual(families, {"AF_UNIX"}, "RestrictAddressFamilies=AF_UNIX")
        self.assertEqual(wx, [], "MemoryDenyWriteExecute=yes")

    def exercise(self, nginx, segment):
        """Every route and answer the worker has, and a segment that goes
        away and comes back."""
        for path, headers, status in (
                ("/metrics", {}, 200),
                ("/metrics", {"Accept": OPENMETRICS_ACCEPT, "Accept-Encoding": "gzip"}, 200),
                ("/metrics?name[]=http_requests_total", {}, 200),
                ("/api/v1/metrics", {}, 200),
                ("/api/v1/health/prometheus", {}, 200),
                ("/api/v1/health/live", {}, 200)):
            r = harness.http_get(nginx.url(path), headers)
            self.assertEqual(r.status, status, (path, r))
        r = harness.http_get(nginx.url("/metrics"), {"Accept-Encoding": "gzip"})
        self.assertEqual(requests_total(gzip.decompress(r.body).decode()), 20)
        self.assertEqual(harness.http_head(nginx.url("/metrics")).status, 200)
        self.assertEqual(harness.http_request(nginx.url("/metrics"), "POST").status, 405)
        os.unlink(segment)
        harness.wait_until(lambda: harness.http_get(nginx.url("/api/v1/health/prometheus")).status == 503, 5,
                           what="health to fail without a segment")
        self.assertEqual(harness.http_get(nginx.url("/metrics")).status, 503)
        run([CLI, "--path", segment, "inc", "http_requests_total", "method=GET", "route=/", "status=200"])
        harness.wait_until(lambda: harness.http_get(nginx.url("/metrics")).status == 200, 5,
                           what="the worker to pick up the new segment")

    def read_trace(self, prefix):
        """(system call names, socket families, W+X mappings) of the worker:
        its main thread from its execve on, and every thread it started."""
        used, families, wx = set(), set(), []
        worker_exec = f'execve("{os.path.realpath(WORKER)}"'
        for path in sorted(glob.glob(prefix + ".*")):
            with open(path, errors="replace") as f:
                lines = f.read().splitlines()
            starts = [i for i, line in enumerate(lines) if line.startswith(worker_exec)]
            if starts:
                lines = lines[starts[0]:]
            elif any(line.startswith("execve(") for line in lines):
                continue  # another program (the activator before exec, nginx is not traced)
            for line in lines:
                m = re.match(r"([a-z0-9_]+)\(", line)
                if not m:
                    continue
                used.add(m.group(1))
                if m.group(1) in ("socket", "socketpair"):
                    families.add(re.match(r"\w+\((\w+)", line).group(1))
                if m.group(1) in ("mmap", "mprotect", "pkey_mprotect") and \
                        "PROT_WRITE" in line and "PROT_EXEC" in line:
                    wx.append(line)
        return used, families, wx


if __name__ == "__main__":
    unittest.main(verbosity=2)
