#!/usr/bin/python3
"""test_fcgi_idle.py - idle connections cost the worker a descriptor, not a
thread (issue 12: with 64 clients connecting to the worker's socket and
sending nothing, 0 of 40 scrapes through nginx succeeded).

HELD connections stay open and silent for the whole test, and IDLERS
clients connect, send nothing, and connect again as soon as the worker
closes them at the I/O timeout. Meanwhile scrapes through a real nginx must
all answer 200, each well within the I/O timeout; the idle ones are counted
in fastprom_connections_dropped_total{reason="timeout"}."""
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HELD = 400
IDLERS = 64
SCRAPES = 40
IO_TIMEOUT = 1.0


class Idle(unittest.TestCase):
    def test_scrapes_succeed_beside_many_idle_connections(self):
        tmp = harness.make_temp_dir(self)
        segment = os.path.join(tmp, "segment")
        demo = harness.start_demo(tmp, segment, processes=1, requests=20, rate=0, testcase=self)
        self.assertEqual(demo.wait(60), 0, demo.log())
        config = os.path.join(tmp, "fastprom.json")
        with open(config, "w") as f:
            json.dump({"io_timeout_seconds": IO_TIMEOUT}, f)
        worker = harness.start_worker(tmp, segment, args=["--config", config], testcase=self)
        nginx = harness.start_nginx(tmp, worker.socket, testcase=self)

        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        stop = threading.Event()
        reconnects = [0]
        counting = threading.Lock()  # += on a shared list item is no atomic step across threads

        def idler():
            while not stop.is_set():
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(0.2)
                    try:
                        s.connect(worker.socket)
                    except OSError:
                        time.sleep(0.05)
                        continue
                    with counting:
                        reconnects[0] += 1
                    while not stop.is_set():  # until the worker closes it
                        try:
                            if s.recv(1) == b"":
                                break
                        except socket.timeout:
                            continue
                        except OSError:
                            break

        idlers = [threading.Thread(target=idler) for _ in range(IDLERS)]
        for t in idlers:
            t.start()
        try:
            for _ in range(HELD):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(worker.socket)
                held.append(s)
            time.sleep(IO_TIMEOUT / 2)  # every thread of the old design would be taken by now
            statuses, slowest = [], 0.0
            for _ in range(SCRAPES):
                started = time.monotonic()
                try:
                    status = harness.http_get(nginx.url("/metrics?name[]=http_requests_total"), timeout=5).status
                except OSError as e:
                    status = repr(e)
                slowest = max(slowest, time.monotonic() - started)
                statuses.append(status)
                if status != 200:
                    break  # one is enough to fail, and the rest would wait as long
                time.sleep(IO_TIMEOUT * 2 / SCRAPES)  # spread over the idle ones' timeouts
        finally:
            stop.set()
            for t in idlers:
                t.join(10)
        self.assertEqual(statuses, [200] * SCRAPES)
        self.assertLess(slowest, IO_TIMEOUT, "a scrape waited for idle connections")
        self.assertGreater(reconnects[0], IDLERS, "the idle clients were never closed at the I/O timeout")

        def dropped():
            r = harness.http_get(nginx.url("/metrics?name[]=fastprom_connections_dropped_total"))
            return {labels["reason"]: value for name, labels, value in harness.samples(r.body)}
        # Each held connection is dropped IO_TIMEOUT after its accept; on a
        # loaded machine the last accepts may come late, so wait (bounded)
        # for all of them rather than assume the scrapes took long enough.
        try:
            harness.wait_until(lambda: dropped().get("timeout", 0) >= HELD, 10, what="the held connections' drops")
        except TimeoutError as e:
            self.fail(f"{e}: {dropped()}")
        self.assertTrue(worker.alive())
        print(f"\n{SCRAPES} scrapes beside {HELD} held and {IDLERS} reconnecting idle connections "
              f"({reconnects[0]} connections): slowest {slowest * 1000:.1f} ms", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
