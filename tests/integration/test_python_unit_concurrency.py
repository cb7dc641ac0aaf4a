#!/usr/bin/python3
"""fastprom's Python API under threads and fork, exactly.

 - test_threads_exact: 8 threads x 100,000 inc() on one counter, and
   labels().inc() / observe() from every thread: no update lost.
 - test_fork_in_the_middle: the parent opens the segment and records, forks
   (as gunicorn --preload does), and parent and child both keep writing to
   the same metrics through the inherited handles: totals exact; the child
   also creates new series. Gauge modes then combine the two processes as
   prometheus_client's multiprocess_mode names say, dead child included.
 - test_forked_workers_with_threads: 4 forked processes x 4 threads: exact.
"""
import atexit
import os
import shutil
import sys
import tempfile
import threading
import unittest

import python_support

TMP = tempfile.mkdtemp(prefix="fastprom-py-")
atexit.register(shutil.rmtree, TMP, True)
os.environ["FASTPROM_PATH"] = os.path.join(TMP, "segment")
fastprom = python_support.import_fastprom()


def run_threads(n, target):
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        if t.is_alive():
            raise AssertionError("a writer thread did not finish in 120 s")


def fork(child):
    """Runs child() in a fork child; returns its pid. The child exits 0 if
    child() returned, 1 if it raised."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            child()
            code = 0
        except BaseException:  # noqa: BLE001 - reported through the exit code
            import traceback
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def wait_ok(testcase, pid):
    _, status = os.waitpid(pid, 0)
    testcase.assertEqual(os.waitstatus_to_exitcode(status), 0, f"child {pid} failed")


class Concurrency(unittest.TestCase):
    def test_threads_exact(self):
        r = fastprom.CollectorRegistry(path=os.path.join(TMP, "threads"))
        total = fastprom.Counter("thread_ops", "d", registry=r)
        per = fastprom.Counter("thread_labelled_ops", "d", ["thread"], registry=r)
        h = fastprom.Histogram("thread_values", "d", buckets=(1, 2), registry=r)

        def work(i):
            inc = total.inc
            for _ in range(100_000):
                inc()
            for _ in range(10_000):
                per.labels(str(i % 2)).inc()
                h.observe(i % 3)

        run_threads(8, work)
        self.assertEqual(r.get_sample_value("thread_ops_total"), 800_000)
        self.assertEqual(r.get_sample_value("thread_labelled_ops_total", {"thread": "0"}), 40_000)
        self.assertEqual(r.get_sample_value("thread_labelled_ops_total", {"thread": "1"}), 40_000)
        self.assertEqual(r.get_sample_value("thread_values_count"), 80_000)
        self.assertEqual(r.get_sample_value("thread_values_bucket", {"le": "1.0"}), 60_000)  # values 0 and 1
        self.assertEqual(r.get_sample_value("thread_values_sum"), 10_000 * (0 + 1 + 2 + 0 + 1 + 2 + 0 + 1))

    def test_fork_in_the_middle(self):
        reqs = fastprom.Counter("forked_requests", "d", ["route"])
        lat = fastprom.Histogram("forked_latency_seconds", "d", buckets=(0.1, 1))
        modes = {mode: fastprom.Gauge(f"forked_gauge_{mode}", "d", multiprocess_mode=mode)
                 for mode in ("livesum", "sum", "max", "min", "all", "liveall", "mostrecent")}
        for _ in range(1000):
            reqs.labels("/a").inc()
        for g in modes.values():
            g.set(10)
        ready = os.pipe()

        def child():
            for _ in range(50_000):
                reqs.labels("/a").inc()
            for _ in range(2_000):
                reqs.labels("/child-only").inc()
                lat.observe(0.5)
            for g in modes.values():
                g.set(30)
            os.write(ready[1], b"x")

        pid = fork(child)
        for _ in range(30_000):
            reqs.labels("/a").inc()
            lat.observe(0.05)
        os.read(ready[0], 1)
        wait_ok(self, pid)
        os.close(ready[0])
        os.close(ready[1])
        for mode, g in modes.items():
            if mode != "mostrecent":  # its value stays the child's, written last
                g.set(20)
        r = fastprom.REGISTRY
        self.assertEqual(r.get_sample_value("forked_requests_total", {"route": "/a"}), 81_000)
        self.assertEqual(r.get_sample_value("forked_requests_total", {"route": "/child-only"}), 2_000)
        self.assertEqual(r.get_sample_value("forked_latency_seconds_count"), 32_000)
        self.assertEqual(r.get_sample_value("forked_latency_seconds_bucket", {"le": "0.1"}), 30_000)
        # The child has exited: live modes forget it, the others keep its last value.
        self.assertEqual(r.get_sample_value("forked_gauge_livesum"), 20)
        self.assertEqual(r.get_sample_value("forked_gauge_sum"), 50)
        self.assertEqual(r.get_sample_value("forked_gauge_max"), 30)
        self.assertEqual(r.get_sample_value("forked_gauge_min"), 20)
        self.assertEqual(r.get_sample_value("forked_gauge_mostrecent"), 30)
        self.assertEqual(r.get_sample_value("forked_gauge_all", {"pid": str(pid)}), 30)
        self.assertEqual(r.get_sample_value("forked_gauge_all", {"pid": str(os.getpid())}), 20)
        self.assertIsNone(r.get_sample_value("forked_gauge_liveall", {"pid": str(pid)}))
        self.assertEqual(r.get_sample_value("forked_gauge_liveall", {"pid": str(os.getpid())}), 20)

    def test_forked_workers_with_threads(self):
        path = os.path.join(TMP, "workers")
        r = fastprom.CollectorRegistry(path=path)
        c = fastprom.Counter("worker_jobs", "d", ["kind"], registry=r)
        g = fastprom.Gauge("worker_busy", "d", registry=r)

        def child():
            def work(i):
                for _ in range(10_000):
                    with g.track_inprogress():
                        c.labels("even" if i % 2 == 0 else "odd").inc()
            run_threads(4, work)

        pids = [fork(child) for _ in range(4)]
        for pid in pids:
            wait_ok(self, pid)
        self.assertEqual(r.get_sample_value("worker_jobs_total", {"kind": "even"}), 80_000)
        self.assertEqual(r.get_sample_value("worker_jobs_total", {"kind": "odd"}), 80_000)
        self.assertEqual(r.get_sample_value("worker_busy"), 0)


if __name__ == "__main__":
    unittest.main(verbosity=1)
